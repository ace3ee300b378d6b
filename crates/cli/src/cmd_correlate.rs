//! `trailproof correlate`.

use std::collections::BTreeMap;
use std::process::ExitCode;
use trailproof_correlate::{Compiled, correlate};
use trailproof_model::{Millis, format_ms};
use trailproof_store::SnapshotQuery;

use crate::args::{CorrelateArgs, Global};
use crate::util;

const DAY: Millis = 86_400_000;

pub fn run(g: &Global, a: &CorrelateArgs) -> anyhow::Result<ExitCode> {
    let config = util::load_config(g.config.as_deref())?;
    let cfg = Compiled::new(&config)?;
    let mut store = util::open_existing(&g.db)?;
    let now = match &a.now {
        Some(s) => trailproof_model::parse_time(s).map_err(|e| anyhow::anyhow!("--now: {e}"))?,
        None => util::now_ms(),
    };
    let since = a.since.as_deref().map(|s| util::parse_time_or_ago(s, now)).transpose()?;
    let Some((first, last)) = store.console_login_span()? else {
        println!("no ConsoleLogin events stored: nothing to judge (import or collect CloudTrail first)");
        return Ok(ExitCode::SUCCESS);
    };
    let from = since.unwrap_or(first).max(first);
    let to = (last + 1).min(now + 1);
    let (ids, names, default_pattern) = cfg.aws_apps();
    let mut counts: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut changes = trailproof_store::VerdictChanges::default();
    let mut judged = 0u64;
    // One day at a time: memory follows a day's sessions, not the whole store.
    let mut day = from - from.rem_euclid(DAY);
    while day < to {
        let q = SnapshotQuery {
            from_ms: day.max(from),
            to_ms: (day + DAY).min(to),
            before_ms: cfg.before_ms + cfg.skew_ms,
            after_ms: cfg.after_ms + cfg.skew_ms,
            baseline_ms: cfg.baseline_ms,
            google_lookback_ms: cfg.google_lookback_ms,
            aws_app_ids: ids.clone(),
            aws_app_names: names.clone(),
            default_app_pattern: default_pattern,
        };
        let snap = store.snapshot(&q)?;
        let records = correlate(&snap, &cfg);
        judged += records.len() as u64;
        for r in &records {
            *counts.entry(r.verdict.as_str()).or_default() += 1;
        }
        let mut batch = store.batch()?;
        let c = batch.put_verdicts(&records)?;
        batch.commit()?;
        changes.new += c.new;
        changes.changed += c.changed;
        changes.unchanged += c.unchanged;
        day += DAY;
    }
    let by: Vec<String> = counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!(
        "judged {judged} console sessions from {} to {}: {}",
        format_ms(from),
        format_ms(to - 1),
        if by.is_empty() { "none".to_string() } else { by.join(", ") }
    );
    println!(
        "verdicts stored: {} new, {} changed (new version), {} unchanged",
        changes.new, changes.changed, changes.unchanged
    );
    Ok(ExitCode::SUCCESS)
}
