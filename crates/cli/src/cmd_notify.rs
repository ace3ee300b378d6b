//! `trailproof notify`: deliver queued verdicts to the `[[notify]]` sinks (also the last stage of
//! `trailproof run`).

use anyhow::Context;
use std::process::ExitCode;
use trailproof_model::config::Config;
use trailproof_notify::{DispatchOptions, DispatchSummary, dispatch};
use trailproof_store::Store;

use crate::args::{Global, NotifyArgs};
use crate::util;

/// Runs the dispatcher on its own runtime and prints one line per sink (and the dry-run plan).
pub fn notify(config: &Config, store: &Store, dry_run: bool) -> anyhow::Result<DispatchSummary> {
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let opts = DispatchOptions { dry_run, now_ms: util::now_ms() };
    let summary = rt.block_on(dispatch(store, &config.notify, &opts))?;
    for s in &summary.sinks {
        for p in &s.planned {
            println!("{}", util::inert(p));
        }
        for r in &s.rejections {
            eprintln!("error: ticket refused: {}", util::inert(r));
        }
        for h in &s.held {
            eprintln!("error: ticket refused: {}", util::inert(h));
        }
        for n in &s.notes {
            eprintln!("note: {}", util::inert(n));
        }
        if let Some(e) = &s.error {
            let what = match s.stop {
                Some(trailproof_notify::Stop::Setup) => "stopped (setup)",
                _ => "stopped",
            };
            eprintln!("error: {} {what}: {}", util::inert(&s.name), util::inert(e));
        }
    }
    Ok(summary)
}

pub fn run(g: &Global, a: &NotifyArgs) -> anyhow::Result<ExitCode> {
    let config = util::load_config(g.config.as_deref())?;
    if config.notify.is_empty() {
        anyhow::bail!("no [[notify]] sink is configured (see config/trailproof.example.toml)");
    }
    let store = util::open_existing(&g.db)?;
    let summary = notify(&config, &store, a.dry_run)?;
    for s in &summary.sinks {
        println!("{}{}", util::inert(&s.line()), if a.dry_run { " (dry run: nothing sent)" } else { "" });
    }
    Ok(if summary.failed() { ExitCode::from(util::EXIT_FAILURE) } else { ExitCode::SUCCESS })
}
