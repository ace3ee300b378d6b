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

    if a.format == StatusFormat::Json {
        let v = json!({
            "database": g.db.display().to_string(),
            "schema_version": store.schema_version()?,
            "raw_records": raw.iter().map(|(s, n)| (s.clone(), *n)).collect::<BTreeMap<_, _>>(),
            "events": events.iter().map(|(s, k, n)| json!({"source": s, "kind": k, "count": n})).collect::<Vec<_>>(),
            "coverage": coverage.iter().map(|c| json!({"source": c.source.as_str(), "scope": c.scope, "start": format_ms(c.start_ms), "end": format_ms(c.end_ms)})).collect::<Vec<_>>(),
            "quarantine": quarantine.iter().map(|q| json!({"source": q.source, "count": q.count, "reasons": q.reasons.iter().map(|r| json!({"reason": r.reason, "count": r.count, "first": r.example})).collect::<Vec<_>>()})).collect::<Vec<_>>(),
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
    let total_q: u64 = quarantine.iter().map(|q| q.count).sum();
    println!("quarantine ({total_q} records)");
    for q in &quarantine {
        println!("  {:<11} {:>9}", q.source, q.count);
        for r in &q.reasons {
            println!("      {} × {} (first: {})", r.count, util::inert(&r.reason), util::inert(&r.example));
        }
    }
    if !imports.is_empty() {
        println!();
        println!("recent imports");
        for i in &imports {
            let c = &i.counts;
            println!(
                "  {} {:<11} {}: {} read, {} stored, {} already present, {} skipped, {} quarantined",
                format_ms(i.started_ms),
                i.source,
                util::inert(&i.origin),
                c.read,
                c.stored,
                c.duplicates,
                c.skipped,
                c.quarantined
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
