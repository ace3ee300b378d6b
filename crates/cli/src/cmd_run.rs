//! `trailproof run`: the scheduled batch, collect → correlate → report → notify, one summary line
//! per stage, under a lock so that two runs never share a database.

use std::process::ExitCode;
use trailproof_model::Millis;
use trailproof_model::config::Config;
use trailproof_pipeline::job;

use crate::args::{Global, RunArgs};
use crate::util;

/// Exit code: findings at or above `run.fail_on_severity` (and every stage succeeded).
pub const EXIT_FINDINGS: u8 = 4;
/// Exit code: another `trailproof run` holds the database's lock.
pub const EXIT_LOCKED: u8 = 5;

/// The run's stages (`trailproof_pipeline::job::run`), one line each, then the run's own line.
pub fn run(g: &Global, a: &RunArgs) -> anyhow::Result<ExitCode> {
    let config: Config = util::load_config(g.config.as_deref())?;
    let now: Millis = match &a.now {
        Some(s) => trailproof_model::parse_time(s).map_err(|e| anyhow::anyhow!("--now: {e}"))?,
        None => util::now_ms(),
    };
    let opts = job::RunOptions { now, dry_run: a.dry_run, no_collect: a.no_collect };
    let rep = crate::cmd_collect::reporter(g);
    let out = match job::run(&g.db, &config, &opts, rep.as_ref(), &mut util::Printer { echo: true })? {
        Ok(out) => out,
        Err(held) => {
            eprintln!("error: {held}");
            return Ok(ExitCode::from(EXIT_LOCKED));
        }
    };
    let th = config.run.fail_on_severity.to_ascii_lowercase();
    println!(
        "run       {:<6} {} findings at or above {th} in the last {} h{} ({:.1} s)",
        if out.failed { "FAILED" } else { "done" },
        out.findings,
        config.run.report_hours,
        if a.dry_run { "; dry run: nothing sent" } else { "" },
        out.elapsed.as_secs_f64()
    );
    Ok(if out.failed {
        ExitCode::from(util::EXIT_FAILURE)
    } else if out.findings > 0 {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    })
}
