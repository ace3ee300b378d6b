//! `trailproof prune`: retention (issue 18), by hand or as the last stage of `trailproof run`.

use std::process::ExitCode;
use trailproof_correlate::Compiled;
use trailproof_model::Millis;
use trailproof_model::config::Config;

use crate::args::{Global, PruneArgs};
use crate::util;

pub fn run(g: &Global, a: &PruneArgs) -> anyhow::Result<ExitCode> {
    let config: Config = util::load_config(g.config.as_deref())?;
    // An investigation's store is never pruned by default: without [retention], the window must
    // be given on the command line.
    let keep_days = match (a.keep_days, config.retention.enabled) {
        (Some(k), _) => k,
        (None, true) => config.retention.keep_days,
        (None, false) => anyhow::bail!(
            "prune needs --keep-days N, or a configuration with [retention] enabled = true (nothing is removed by default)"
        ),
    };
    // Verdicts go only when asked for: on the command line, or by the [retention] that is used.
    let verdict_days = a.keep_verdict_days.or(config.retention.verdict_keep_days.filter(|_| config.retention.enabled));
    let cfg = Compiled::new(&config)?;
    let now: Millis = match &a.now {
        Some(s) => trailproof_model::parse_time(s).map_err(|e| anyhow::anyhow!("--now: {e}"))?,
        None => util::now_ms(),
    };
    let mut store = util::open_existing(&g.db)?;
    let r = trailproof_pipeline::prune(&mut store, &cfg, keep_days, verdict_days, now, a.dry_run)?;
    for line in trailproof_pipeline::job::describe_prune(&r, keep_days) {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}
