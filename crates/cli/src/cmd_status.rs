//! `trailproof status`.

use anyhow::Context;
use serde_json::json;
use std::collections::BTreeMap;
use std::process::ExitCode;
use trailproof_model::format_ms;
use trailproof_store::Store;

use crate::args::{Global, StatusArgs, StatusFormat};
use crate::util;

pub fn run(g: &Global, a: &StatusArgs) -> anyhow::Result<ExitCode> {
    if !g.db.exists() {
        anyhow::bail!(
            "no database at {}: import something first (trailproof --db {} import <source> <path>) or pass --db",
            g.db.display(),
            g.db.display()
        );
    }
    let store = Store::open(&g.db).with_context(|| format!("opening {}", g.db.display()))?;
    let raw = store.raw_counts()?;
    let events = store.event_counts()?;
    let coverage = store.coverage()?;
    let quarantine = store.quarantine_summary(5)?;
    let imports = store.imports(5)?;
    let es_read = elastic_read(&store.imports(1_000_000)?);
    let replaced = store.raw_history_counts()?;
    let rejudge = store.rejudge_queue()?;
    let retention = store.retention_state()?;
    // Settling times: the configured sources' (with --config), else each source's default.
    let cfg = util::load_config(g.config.as_deref())?;
    let lags = settling_lines(&cfg.collect);

    if a.format == StatusFormat::Json {
        let v = json!({
            "database": g.db.display().to_string(),
            "schema_version": store.schema_version()?,
            "raw_records": raw.iter().map(|(s, n)| (s.clone(), *n)).collect::<BTreeMap<_, _>>(),
            "events": events.iter().map(|(s, k, n)| json!({"source": s, "kind": k, "count": n})).collect::<Vec<_>>(),
            "coverage": coverage.iter().map(|c| json!({"source": c.source.as_str(), "scope": c.scope, "start": format_ms(c.start_ms), "end": format_ms(c.end_ms)})).collect::<Vec<_>>(),
            "quarantine": quarantine.iter().map(|q| json!({"source": q.source, "count": q.count, "reasons": q.reasons.iter().map(|r| json!({"reason": r.reason, "count": r.count, "first": r.example})).collect::<Vec<_>>()})).collect::<Vec<_>>(),
            "replaced_records": replaced.iter().map(|(s, n)| (s.clone(), *n)).collect::<BTreeMap<_, _>>(),
            "rejudge_queue": rejudge.len(),
            "retention": retention.map(|r| json!({"sealed_before": format_ms(r.sealed_before_ms),
                "records_pruned_before": format_ms(r.pruned_before_ms),
                "verdicts_removed_before": r.verdicts_before_ms.map(format_ms)})),
            "elasticsearch_read": es_read.iter().map(|(l, (o, e))| json!({"stream": l, "from_event_original": o, "from_ecs_fields": e})).collect::<Vec<_>>(),
            "settling": lags.iter().map(|l| json!({"source": l.source, "name": l.name, "settling_minutes": l.minutes,
                "documented_bound": l.bound.unwrap_or("unknown"), "documented": l.documented})).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }

    println!("database {} (schema v{})", g.db.display(), store.schema_version()?);
    println!();
    println!("records stored");
    if raw.is_empty() {
        println!("  (none yet)");
    }
    for (source, n) in &raw {
        let kinds: Vec<String> =
            events.iter().filter(|(s, _, _)| s == source).map(|(_, k, c)| format!("{k} {c}")).collect();
        println!("  {source:<11} {n:>9} records   {}", kinds.join(", "));
    }
    println!();
    println!("coverage (times every record is known to be stored)");
    if coverage.is_empty() {
        println!("  (none: verdicts of \"no IdP login\" or \"no MFA\" will be unknown until coverage exists)");
    }
    for c in &coverage {
        println!("  {:<11} {:<28} {}", c.source.as_str(), util::inert(&c.scope), util::interval(c.start_ms, c.end_ms));
    }
    println!();
    println!("settling (coverage ends this long before each collection; docs/source-lag.md)");
    for l in &lags {
        println!(
            "  {:<11} {:<20} {:>4} min   documented bound: {}",
            l.source,
            util::inert(&l.name),
            l.minutes,
            match l.bound {
                Some(b) => b.to_string(),
                None => "unknown (the vendor promises none)".to_string(),
            }
        );
    }
    if !replaced.is_empty() || !rejudge.is_empty() {
        println!();
        let r: Vec<String> = replaced.iter().map(|(s, n)| format!("{s} {n}")).collect();
        println!(
            "records completed after they were first stored: {} (earlier versions kept); {} queued for re-judging",
            if r.is_empty() { "none".to_string() } else { r.join(", ") },
            rejudge.len()
        );
    }
    println!();
    match retention {
        None => println!("retention: never pruned"),
        Some(r) => println!(
            "retention: sessions before {} sealed (never judged again); records before {} pruned (but those verdicts cite); {}",
            format_ms(r.sealed_before_ms),
            format_ms(r.pruned_before_ms),
            match r.verdicts_before_ms {
                Some(t) => format!("verdicts of sessions before {} removed", format_ms(t)),
                None => "no verdict removed".to_string(),
            }
        ),
    }
    println!();
    let total_q: u64 = quarantine.iter().map(|q| q.count).sum();
    println!("quarantine ({total_q} records)");
    for q in &quarantine {
        println!("  {:<11} {:>9}", q.source, q.count);
        for r in &q.reasons {
            println!("      {} × {} (first: {})", r.count, util::inert(&r.reason), util::inert(&r.example));
        }
    }
    if !es_read.is_empty() {
        println!();
        println!("read from Elasticsearch (all runs)");
        for (label, (original, ecs)) in &es_read {
            println!("  {:<34} {original:>9} from event.original {ecs:>9} from ECS fields", util::inert(label));
        }
    }
    if !imports.is_empty() {
        println!();
        println!("recent imports");
        for i in &imports {
            let c = &i.counts;
            println!(
                "  {} {:<11} {}: {} read, {} stored, {} updated, {} already present, {} skipped, {} quarantined",
                format_ms(i.started_ms),
                i.source,
                util::inert(&i.origin),
                c.read,
                c.stored,
                c.updated,
                c.duplicates,
                c.skipped,
                c.quarantined
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Per `[[collect.elasticsearch]]` stream (`elasticsearch:NAME/SOURCE`), the documents read from
/// `event.original` and from ECS fields, summed over the import log's collect entries (the
/// collector writes `collect LABEL (MODE): A read from event.original, B from ECS fields`).
fn elastic_read(imports: &[trailproof_store::ImportLog]) -> BTreeMap<String, (u64, u64)> {
    let mut out: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for i in imports {
        let Some(rest) = i.origin.strip_prefix("collect elasticsearch:") else { continue };
        let Some((label, counts)) = rest.split_once(' ') else { continue };
        let Some((_, counts)) = counts.split_once("): ") else { continue };
        let Some((a, b)) = counts.split_once(" read from event.original, ") else { continue };
        let Some(b) = b.strip_suffix(" from ECS fields") else { continue };
        let (Ok(a), Ok(b)) = (a.parse::<u64>(), b.parse::<u64>()) else { continue };
        let e = out.entry(format!("elasticsearch:{label}")).or_default();
        e.0 += a;
        e.1 += b;
    }
    out
}

/// One source's settling time, as `status` prints it.
struct LagLine {
    source: &'static str,
    /// The configured source's name, or "(default)".
    name: String,
    minutes: u32,
    bound: Option<&'static str>,
    documented: &'static str,
}

/// The settling time of every configured source, or of each source kind when none is configured.
fn settling_lines(c: &trailproof_model::config::CollectConfig) -> Vec<LagLine> {
    use trailproof_model::Source;
    use trailproof_model::config::source_lag;
    let mut out = Vec::new();
    let mut push = |source: Source, name: &str, configured: Option<u32>| {
        if let Some(lag) = source_lag(source) {
            out.push(LagLine {
                source: source.as_str(),
                name: if name.trim().is_empty() { "(unnamed)".to_string() } else { name.to_string() },
                minutes: c.settling_minutes(source, configured),
                bound: lag.documented_bound,
                documented: lag.documented,
            });
        }
    };
    for s in &c.okta {
        push(Source::Okta, &s.name, s.settling_minutes);
    }
    for s in &c.entra {
        push(Source::Entra, &s.name, s.settling_minutes);
    }
    for s in &c.google {
        push(Source::Google, &s.name, s.settling_minutes);
    }
    for s in c.cloudtrail.iter().filter(|s| s.mode != "directory") {
        push(Source::Cloudtrail, &s.name, s.settling_minutes);
    }
    let configured = c.okta.len() + c.entra.len() + c.google.len() + c.cloudtrail.len();
    if configured == 0 {
        for lag in trailproof_model::config::SOURCE_LAGS {
            push(lag.source, "(default)", None);
        }
    }
    out
}
