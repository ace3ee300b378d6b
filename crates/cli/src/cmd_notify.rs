//! `trailproof notify`: deliver queued verdicts to the `[[notify]]` sinks (also the last stage of
//! `trailproof run`).

use std::process::ExitCode;
use trailproof_model::config::Config;
use trailproof_notify::DispatchSummary;
use trailproof_pipeline::job;
use trailproof_store::Store;

use crate::args::{Global, NotifyArgs};
use crate::util;

/// [`job::notify`], printing the dry-run plan, refused tickets, notes and stopped sinks.
pub fn notify(config: &Config, store: &Store, dry_run: bool) -> anyhow::Result<DispatchSummary> {
    Ok(job::notify(config, store, dry_run, &mut util::Printer { echo: true })?)
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
