//! `trailproof notify`: deliver queued verdicts to the `[[notify]]` sinks (also the last stage of
//! `trailproof run`).

use anyhow::Context;
use clap::Args;
use std::process::ExitCode;
use trailproof_model::config::Config;
use trailproof_notify::{DispatchOptions, DispatchSummary, dispatch};
use trailproof_store::Store;

use crate::args::Global;
use crate::util;

#[derive(Args, Debug)]
pub struct NotifyArgs {
    /// Print what would be sent, send nothing, change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub const AFTER_HELP: &str = "\
Every verdict version trailproof stores is queued (the outbox, written with the verdict). For each \
[[notify]] sink, notify creates one ticket per session (dedup key: account + ConsoleLogin event id), \
comments on it when a later version of the verdict differs (PagerDuty: pages again only when the \
severity rises, else a change event), and closes it when the session turns out enforced \
(close_on_enforced; Jira through close_transition, else a closing comment). A ticket is never \
created twice: trailproof looks it up before creating it again. A setup error (credentials, \
permission, project, issue type, channel, routing key) stops the sink with its queue kept and says \
what to fix; a ticket refused for its content is reported and not retried for that version; a \
ticket deleted at the service is recreated or skipped (on_gone). A new sink starts with the last \
day's verdicts (backfill = true: all). See docs/ticket-sinks.md.

Exit codes: 0 delivered (or nothing to do); 1 a sink stopped (its tickets stay queued) or refused a \
ticket; 2 usage.

Examples:
  trailproof --config trailproof.toml notify --dry-run
  trailproof --config trailproof.toml notify";

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
