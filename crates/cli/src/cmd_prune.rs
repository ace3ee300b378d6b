//! `trailproof prune`: retention (issue 18), by hand or as the last stage of `trailproof run`.

use std::process::ExitCode;
use trailproof_correlate::Compiled;
use trailproof_model::config::Config;
use trailproof_model::{Millis, format_ms};
use trailproof_store::PruneReport;

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
    for line in describe(&r, keep_days) {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

fn mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

/// What a prune did (or, dry, would do), for `prune` and `run`'s last stage.
pub fn describe(r: &PruneReport, keep_days: u32) -> Vec<String> {
    let Some(seal) = r.sealed_before_ms else {
        return vec!["nothing stored: nothing to prune".into()];
    };
    let verb = if r.dry_run { "would remove" } else { "removed" };
    let mut out = vec![format!(
        "keeping {keep_days} days: sessions before {} are sealed ({}never judged again){}",
        format_ms(seal),
        if r.verdicts_before_ms.is_none() { "their verdicts stay; " } else { "" },
        if r.unjudged_sessions > 0 {
            format!("; held back by {} session(s) not judged yet: run correlate", r.unjudged_sessions)
        } else {
            String::new()
        }
    )];
    if let Some(cut) = r.verdicts_before_ms {
        out.push(format!(
            "{verb} the verdicts of sessions before {}: {} verdict(s) with {} earlier version(s){}",
            format_ms(cut),
            r.verdicts,
            r.verdict_versions,
            if r.verdicts_unsent > 0 {
                format!(
                    "; {} kept: a notification sink has not sent them yet (run notify; a sink no longer configured keeps its place in the queue)",
                    r.verdicts_unsent
                )
            } else {
                String::new()
            }
        ));
    }
    out.push(format!(
        "{verb} records before {} (Google sign-ins before {}): {} IdP events, {} AWS events, {} raw records ({} blocks, {} earlier versions), {} coverage intervals cut",
        r.pruned_before_ms.map(format_ms).unwrap_or_default(),
        r.google_before_ms.map(format_ms).unwrap_or_default(),
        r.idp_events,
        r.aws_events,
        r.raw_records,
        r.raw_blocks,
        r.raw_history,
        r.coverage_rows
    ));
    out.push(format!(
        "kept older records: {} cited by verdicts, {} steps of IdP sessions still live{}",
        r.kept_evidence,
        r.kept_live_sessions,
        if r.raw_blocks_repacked > 0 {
            format!(
                "; {} raw block(s) {} with only the records kept",
                r.raw_blocks_repacked,
                if r.dry_run { "would be repacked" } else { "repacked" }
            )
        } else {
            String::new()
        }
    ));
    if r.unused_strings > 0 || r.unused_origins > 0 {
        out.push(format!(
            "{verb} {} stored string(s) and {} origin(s) no record uses any more",
            r.unused_strings, r.unused_origins
        ));
    }
    if r.dry_run {
        out.push(format!(
            "would free {} inside the file (measured by pruning in a transaction, then rolled back){}",
            mb(r.bytes_freed),
            if r.incremental_vacuum {
                ", returned to the file system by incremental vacuum"
            } else {
                "; this store predates incremental vacuum: the pages would be reused by later imports, the file would not shrink"
            }
        ));
    } else if r.incremental_vacuum {
        out.push(format!(
            "freed {}; file {} → {} ({} incremental vacuum step(s))",
            mb(r.bytes_freed),
            mb(r.file_bytes_before),
            mb(r.file_bytes_after),
            r.vacuum_steps
        ));
    } else {
        out.push(format!(
            "freed {} inside the file, reused by later imports (this store predates incremental vacuum: the file does not shrink; see README, Retention)",
            mb(r.bytes_freed)
        ));
    }
    out
}
