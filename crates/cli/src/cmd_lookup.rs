//! `trailproof lookup`: one session's verdict, explanation and timeline.

use std::process::ExitCode;
use trailproof_model::verdict::VerdictRecord;
use trailproof_model::{Idp, Millis, Source, format_ms};
use trailproof_store::Store;

use crate::args::{Global, LookupArgs, LookupFormat};
use crate::util;

/// One row of the timeline.
#[derive(serde::Serialize)]
struct Step {
    time: String,
    source: Source,
    id: String,
    role: String,
    what: String,
    source_ip: Option<String>,
    user_agent: Option<String>,
    #[serde(skip)]
    ms: Millis,
}

fn timeline(store: &Store, r: &VerdictRecord) -> anyhow::Result<Vec<Step>> {
    let mut steps = Vec::new();
    for e in &r.evidence {
        let step = match e.source {
            Source::Cloudtrail => store.aws_event(&e.id)?.map(|a| Step {
                time: format_ms(a.time_ms),
                ms: a.time_ms,
                source: e.source,
                id: e.id.clone(),
                role: e.role.clone(),
                what: a.kind.map(|k| k.event_name().to_string()).unwrap_or_default(),
                source_ip: a.source_ip,
                user_agent: a.user_agent,
            }),
            other => {
                let Some(p) = Idp::parse(other.as_str()) else { continue };
                store.idp_event(p, &e.id)?.map(|i| Step {
                    time: format_ms(i.time_ms),
                    ms: i.time_ms,
                    source: e.source,
                    id: e.id.clone(),
                    role: e.role.clone(),
                    what: match &i.app_name {
                        Some(app) => format!("{} ({app})", i.native_type),
                        None => i.native_type.clone(),
                    },
                    source_ip: i.source_ip,
                    user_agent: i.user_agent,
                })
            }
        };
        if let Some(s) = step {
            steps.push(s);
        }
    }
    steps.sort_by(|a, b| (a.ms, &a.id).cmp(&(b.ms, &b.id)));
    Ok(steps)
}

pub fn run(g: &Global, a: &LookupArgs) -> anyhow::Result<ExitCode> {
    let store = util::open_existing(&g.db)?;
    let records = store.verdicts_for(a.target.trim())?;
    if records.is_empty() {
        // Retention may have removed it on purpose: say so rather than only suggesting a typo.
        let removed = store
            .retention_state()?
            .and_then(|r| r.verdicts_before_ms)
            .map(|t| {
                format!(
                    "; the verdicts of sessions before {} were removed by retention ([retention] verdict_keep_days or prune --keep-verdict-days)",
                    format_ms(t)
                )
            })
            .unwrap_or_default();
        anyhow::bail!(
            "no verdict for {:?}: check the ARN or event id, and run `trailproof correlate` after importing the data{removed}",
            util::inert(&a.target)
        );
    }
    if a.format == LookupFormat::Json {
        let mut out = Vec::new();
        for r in &records {
            let mut v = serde_json::to_value(r)?;
            if let Some(o) = v.as_object_mut() {
                o.insert("timeline".into(), serde_json::to_value(timeline(&store, r)?)?);
            }
            // Inert like every output: `jq -r` must not replay an escape from a log.
            trailproof_model::text::inert_json(&mut v);
            out.push(v);
        }
        let v = if out.len() == 1 { out.remove(0) } else { serde_json::Value::Array(out) };
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    for (i, r) in records.iter().enumerate() {
        if i > 0 {
            println!();
        }
        println!("session   {}", util::inert(r.arn.as_deref().unwrap_or("-")));
        println!(
            "login     {} at {} from {}",
            util::inert(&r.console_login_event_id),
            util::inert(&r.time),
            util::inert(r.source_ip.as_deref().unwrap_or("-"))
        );
        let reason = r.reason.map(|x| format!(" ({})", x.as_str())).unwrap_or_default();
        println!(
            "verdict   {}{reason}   path {}   risk {} {:?}",
            r.verdict.as_str(),
            r.path.as_str(),
            r.risk.score,
            r.risk.severity
        );
        if let Some(id) = &r.identity {
            println!("identity  {:?} user {} matched by {:?}", id.idp, util::inert(&id.user), id.matched_by);
        }
        if !r.risk.signals.is_empty() {
            let s: Vec<&str> = r.risk.signals.iter().map(|s| s.as_str()).collect();
            println!("signals   {}", s.join(", "));
        }
        println!("why       {}", util::inert(&r.explanation));
        println!("timeline");
        for s in timeline(&store, r)? {
            println!(
                "  {:<24} {:<10} {:<22} {:<40} {:<16} {}  {}",
                s.time,
                s.source.as_str(),
                util::inert(&s.role),
                util::inert(&s.what),
                util::inert(s.source_ip.as_deref().unwrap_or("-")),
                util::inert(&s.id),
                util::inert(s.user_agent.as_deref().unwrap_or(""))
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
