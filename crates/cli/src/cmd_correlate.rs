//! `trailproof correlate`.

use std::process::ExitCode;
use trailproof_correlate::Compiled;
use trailproof_model::format_ms;

use crate::args::{CorrelateArgs, Global};
use crate::util;

pub fn run(g: &Global, a: &CorrelateArgs) -> anyhow::Result<ExitCode> {
    let config = util::load_config(g.config.as_deref())?;
    let cfg = Compiled::new(&config)?;
    let mut store = util::open_existing(&g.db)?;
    let now = match &a.now {
        Some(s) => trailproof_model::parse_time(s).map_err(|e| anyhow::anyhow!("--now: {e}"))?,
        None => util::now_ms(),
    };
    let since = a.since.as_deref().map(|s| util::parse_time_or_ago(s, now)).transpose()?;
    let opts = trailproof_pipeline::JudgeOptions {
        slice_sessions: a.slice_sessions,
        slice_bytes: a.slice_mb.saturating_mul(1_000_000),
    };
    let s = trailproof_pipeline::judge_with(&mut store, &cfg, since, now, &opts, &mut |_, _| {})?;
    let Some((from, to)) = s.range else {
        println!("no ConsoleLogin events stored: nothing to judge (import or collect CloudTrail first)");
        return Ok(ExitCode::SUCCESS);
    };
    let by: Vec<String> = s.by_verdict.iter().map(|(k, v)| format!("{} {v}", k.as_str())).collect();
    println!(
        "judged {} console sessions from {} to {}: {}",
        s.sessions,
        format_ms(from),
        format_ms((to - 1).max(from)),
        if by.is_empty() { "none".to_string() } else { by.join(", ") }
    );
    println!(
        "verdicts stored: {} new, {} changed (new version), {} unchanged",
        s.changes.new, s.changes.changed, s.changes.unchanged
    );
    let t = s.timings;
    let rate = if t.engine.as_secs_f64() > 0.0 { s.sessions as f64 / t.engine.as_secs_f64() } else { 0.0 };
    println!(
        "time: {:.2} s reading the store, {:.2} s judging ({:.0} sessions/s), {:.2} s storing verdicts; {} slice(s) of up to {} sessions",
        t.snapshot.as_secs_f64(),
        t.engine.as_secs_f64(),
        rate,
        t.write.as_secs_f64(),
        s.slices,
        s.largest_slice
    );
    Ok(ExitCode::SUCCESS)
}
