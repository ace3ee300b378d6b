//! `trailproof run`: the scheduled batch, collect → correlate → report → notify, one summary line
//! per stage, under a lock so that two runs never share a database.

use anyhow::Context;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use trailproof_correlate::Compiled;
use trailproof_model::config::Config;
use trailproof_model::verdict::Severity;
use trailproof_model::{Millis, format_ms};

use crate::args::{Global, RunArgs};
use crate::report_files::{format_of, write_reports};
use crate::util;

/// Exit code: findings at or above `run.fail_on_severity` (and every stage succeeded).
pub const EXIT_FINDINGS: u8 = 4;
/// Exit code: another `trailproof run` holds the database's lock.
pub const EXIT_LOCKED: u8 = 5;

/// The run lock: `<db>.run-lock`, an OS file lock (released by the kernel if the process dies)
/// with the holder's pid, host and start time written inside for the next run's message.
pub struct RunLock {
    _file: std::fs::File,
}

impl RunLock {
    pub fn acquire(db: &Path) -> anyhow::Result<Result<RunLock, String>> {
        let mut path: PathBuf = db.to_path_buf();
        let name = db.file_name().map(|n| format!("{}.run-lock", n.to_string_lossy())).unwrap_or("run-lock".into());
        path.set_file_name(name);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot create the lock file {}", path.display()))?;
        match f.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let holder = holder.trim();
                return Ok(Err(format!(
                    "another trailproof run holds the lock on {} ({}): {}; this run did nothing",
                    db.display(),
                    path.display(),
                    if holder.is_empty() { "holder unknown".to_string() } else { util::inert(holder).into_owned() }
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                anyhow::bail!("cannot lock {}: {e}", path.display())
            }
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "this host".into());
        f.set_len(0)?;
        f.rewind()?;
        writeln!(f, "pid {} on {host}, started {}", std::process::id(), format_ms(util::now_ms()))?;
        f.flush()?;
        Ok(Ok(RunLock { _file: f }))
    }
}

fn severity(s: &str) -> anyhow::Result<Option<Severity>> {
    if s.trim().eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    match Severity::parse(s) {
        Some(v) => Ok(Some(v)),
        None => anyhow::bail!("run.fail_on_severity = {s:?}: use none, low, medium, high or critical"),
    }
}

struct Stages {
    failed: bool,
}

impl Stages {
    /// One summary line per stage: the run's output, printed even with --quiet.
    fn line(&self, stage: &str, started: Instant, ok: bool, text: &str) {
        println!(
            "{stage:<9} {:<6} {text} ({:.1} s)",
            if ok { "ok" } else { "FAILED" },
            started.elapsed().as_secs_f64()
        );
    }
}

pub fn run(g: &Global, a: &RunArgs) -> anyhow::Result<ExitCode> {
    let config: Config = util::load_config(g.config.as_deref())?;
    let cfg = Compiled::new(&config)?;
    let threshold = severity(&config.run.fail_on_severity)?;
    for f in &config.run.report_formats {
        format_of(f)?;
    }
    let now: Millis = match &a.now {
        Some(s) => trailproof_model::parse_time(s).map_err(|e| anyhow::anyhow!("--now: {e}"))?,
        None => util::now_ms(),
    };
    let lock = match RunLock::acquire(&g.db)? {
        Ok(l) => l,
        Err(msg) => {
            eprintln!("error: {msg}");
            return Ok(ExitCode::from(EXIT_LOCKED));
        }
    };
    let mut st = Stages { failed: false };
    let run_started = Instant::now();
    // Create the database (and its schema) before the collectors open their connections.
    drop(trailproof_store::Store::open(&g.db).with_context(|| format!("opening {}", g.db.display()))?);

    // 1. collect
    let t = Instant::now();
    let c = &config.collect;
    let configured = c.okta.len() + c.entra.len() + c.google.len() + c.cloudtrail.len();
    if a.no_collect {
        st.line("collect", t, true, "skipped (--no-collect)");
    } else if configured == 0 {
        st.line("collect", t, true, "skipped: no [collect] source is configured (logs arrive by `trailproof import`?)");
    } else {
        match crate::cmd_collect::collect_all(
            g,
            &config,
            &crate::cmd_collect::Window { now, since: None, until: None },
            None,
            None,
            true,
        ) {
            Ok(r) => {
                st.failed |= r.failed > 0;
                st.line(
                    "collect",
                    t,
                    r.failed == 0,
                    &format!("{} of {} sources collected, {} failed (see above)", r.ok, r.ok + r.failed, r.failed),
                );
            }
            Err(e) => {
                st.failed = true;
                eprintln!("error: {e:#}");
                st.line("collect", t, false, "could not run");
            }
        }
    }

    // 2. correlate
    let t = Instant::now();
    let since = now - Millis::from(config.run.rejudge_hours) * 3_600_000;
    let mut store = trailproof_store::Store::open(&g.db)?;
    match trailproof_pipeline::judge(&mut store, &cfg, Some(since), now, &mut |_, _| {}) {
        Ok(s) => {
            let by: Vec<String> = s.by_verdict.iter().map(|(k, v)| format!("{} {v}", k.as_str())).collect();
            st.line(
                "correlate",
                t,
                true,
                &format!(
                    "{} sessions judged since {} ({}); {} new, {} changed, {} unchanged verdicts{}",
                    s.sessions,
                    format_ms(since),
                    if by.is_empty() { "none".into() } else { by.join(", ") },
                    s.changes.new,
                    s.changes.changed,
                    s.changes.unchanged,
                    if s.changed_records > 0 {
                        format!(
                            "; {} IdP records completed after they were stored: {} older sessions judged again",
                            s.changed_records, s.rejudged
                        )
                    } else {
                        String::new()
                    }
                ),
            );
        }
        Err(e) => {
            st.failed = true;
            eprintln!("error: {e:#}");
            st.line("correlate", t, false, "could not judge");
        }
    }

    // 3. report
    let t = Instant::now();
    let report_from = now - Millis::from(config.run.report_hours) * 3_600_000;
    let records = store.verdicts(report_from, now + 1)?;
    let findings = threshold.map(|th| records.iter().filter(|r| r.risk.severity >= th).count()).unwrap_or(0);
    if config.run.report_formats.is_empty() {
        st.line("report", t, true, "skipped: run.report_formats is empty");
    } else {
        let stamp = format_ms(now).replace([':', '-'], "").replace('.', "");
        let opts = trailproof_report::ReportOptions {
            color: false,
            generated_at: format_ms(util::now_ms()),
            title: format!("trailproof run {}", format_ms(now)),
            range: Some((format_ms(report_from), format_ms(now))),
        };
        match write_reports(
            &records,
            &config.run.report_formats,
            Path::new(&config.run.report_dir),
            &format!("report-{stamp}"),
            &opts,
        ) {
            Ok(files) => {
                let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
                st.line(
                    "report",
                    t,
                    true,
                    &format!(
                        "{} sessions of the last {} h: {}",
                        records.len(),
                        config.run.report_hours,
                        names.join(", ")
                    ),
                );
            }
            Err(e) => {
                st.failed = true;
                eprintln!("error: {e:#}");
                st.line("report", t, false, "not written");
            }
        }
    }

    // 4. notify
    let t = Instant::now();
    match notify_stage(&config, &mut store, a.dry_run) {
        Ok(line) => st.line("notify", t, true, &line),
        Err(e) => {
            st.failed = true;
            eprintln!("error: {e:#}");
            st.line("notify", t, false, "tickets left queued for the next run");
        }
    }
    // 5. prune ([retention] enabled): last, so that every stage before it saw the data.
    let t = Instant::now();
    let (keep_days, verdict_days) = (config.retention.keep_days, config.retention.verdict_keep_days);
    if !config.retention.enabled {
        st.line("prune", t, true, "skipped: [retention] is not enabled (nothing is removed)");
    } else if a.dry_run {
        match trailproof_pipeline::prune(&mut store, &cfg, keep_days, verdict_days, now, true) {
            Ok(r) => {
                st.line("prune", t, true, &format!("dry run: {}", crate::cmd_prune::describe(&r, keep_days).join("; ")))
            }
            Err(e) => {
                st.failed = true;
                eprintln!("error: {e:#}");
                st.line("prune", t, false, "not pruned");
            }
        }
    } else {
        match trailproof_pipeline::prune(&mut store, &cfg, keep_days, verdict_days, now, false) {
            Ok(r) => st.line("prune", t, true, &crate::cmd_prune::describe(&r, keep_days).join("; ")),
            Err(e) => {
                st.failed = true;
                eprintln!("error: {e:#}");
                st.line("prune", t, false, "not pruned (the next run finishes the job)");
            }
        }
    }
    drop(lock);

    let th = config.run.fail_on_severity.to_ascii_lowercase();
    println!(
        "run       {:<6} {} findings at or above {th} in the last {} h{} ({:.1} s)",
        if st.failed { "FAILED" } else { "done" },
        findings,
        config.run.report_hours,
        if a.dry_run { "; dry run: nothing sent" } else { "" },
        run_started.elapsed().as_secs_f64()
    );
    Ok(if st.failed {
        ExitCode::from(util::EXIT_FAILURE)
    } else if findings > 0 {
        ExitCode::from(EXIT_FINDINGS)
    } else {
        ExitCode::SUCCESS
    })
}

/// The notify stage: every `[[notify]]` sink, or a note that none is configured.
fn notify_stage(config: &Config, store: &mut trailproof_store::Store, dry_run: bool) -> anyhow::Result<String> {
    if config.notify.is_empty() {
        return Ok("skipped: no [[notify]] sink is configured".into());
    }
    let summary = crate::cmd_notify::notify(config, store, dry_run)?;
    let lines: Vec<String> = summary.sinks.iter().map(|s| util::inert(&s.line()).into_owned()).collect();
    let text = format!("{}{}", lines.join("; "), if dry_run { " (dry run: nothing sent)" } else { "" });
    if summary.failed() {
        anyhow::bail!("{text}");
    }
    Ok(text)
}
