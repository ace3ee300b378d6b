//! `trailproof report` (the plain formats; richer reports come with the report crate).

use std::collections::BTreeMap;
use std::process::ExitCode;

use crate::args::{Global, ReportArgs, ReportFormat};
use crate::util;

pub fn run(g: &Global, a: &ReportArgs) -> anyhow::Result<ExitCode> {
    let store = util::open_existing(&g.db)?;
    let now = util::now_ms();
    let from = a.since.as_deref().map(|s| util::parse_time_or_ago(s, now)).transpose()?.unwrap_or(i64::MIN);
    let records = store.verdicts(from, i64::MAX)?;
    let mut by_verdict: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &records {
        *by_verdict.entry(r.verdict.as_str()).or_default() += 1;
    }
    match a.format {
        ReportFormat::Json => {
            let v = serde_json::json!({
                "summary": {"sessions": records.len(), "by_verdict": by_verdict},
                "verdicts": records,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        ReportFormat::Ndjson => {
            for r in &records {
                println!("{}", serde_json::to_string(r)?);
            }
        }
        ReportFormat::Table => {
            println!(
                "{:<20} {:<13} {:<22} {:<17} {:<12} {:<40} signals",
                "time", "verdict", "reason", "path", "account", "session"
            );
            for r in &records {
                let sig: Vec<&str> = r.risk.signals.iter().map(|s| s.as_str()).collect();
                println!(
                    "{:<20} {:<13} {:<22} {:<17} {:<12} {:<40} {}",
                    r.time,
                    r.verdict.as_str(),
                    r.reason.map(|x| x.as_str()).unwrap_or("-"),
                    r.path.as_str(),
                    r.account_id.as_deref().unwrap_or("-"),
                    util::inert(r.session_name.as_deref().or(r.arn.as_deref()).unwrap_or("-")),
                    sig.join(",")
                );
            }
            let parts: Vec<String> = by_verdict.iter().map(|(k, v)| format!("{k} {v}")).collect();
            println!("{} sessions: {}", records.len(), parts.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}
