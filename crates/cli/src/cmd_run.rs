//! `trailproof run`: the scheduled batch, collect → correlate → report → notify, one summary line
//! per stage, under a lock so that two runs never share a database.

use anyhow::Context;
use clap::Args;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;
use trailproof_correlate::Compiled;
use trailproof_model::config::Config;
use trailproof_model::verdict::{Severity, VerdictRecord};
use trailproof_model::{Millis, format_ms};

use crate::args::Global;
use crate::util;

/// Exit code: findings at or above `run.fail_on_severity` (and every stage succeeded).
pub const EXIT_FINDINGS: u8 = 4;
/// Exit code: another `trailproof run` holds the database's lock.
pub const EXIT_LOCKED: u8 = 5;

pub const AFTER_HELP: &str = "\
Stages: collect (every [collect] source, from its checkpoint; coverage ends each source's settling \
time before now, docs/source-lag.md) → correlate (re-judges the sessions of the last \
run.rejudge_hours, so late records update verdicts, and any older session that rested on an IdP \
record completed since it was stored) → report (run.report_formats into \
run.report_dir: report-<time>.<ext> and latest.<ext>) → notify (delivers new and changed verdicts \
to the [[notify]] sinks through the outbox) → prune (with [retention] enabled: records older than \
retention.keep_days that no later judgement needs; see `trailproof prune --help`). A stage that fails does not stop the later ones: \
verdicts only rest on the data whose coverage is recorded, so missing data gives `unknown`, never \
a wrong verdict.

Exit codes:
  0  every stage succeeded and no finding reached run.fail_on_severity
  1  a stage failed (a source not collected, a report not written, tickets left undelivered);
     takes precedence over 4, since the findings may then be incomplete
  2  usage error (bad flags or configuration)
  4  findings: a session of the report window at or above run.fail_on_severity
  5  another `trailproof run` holds the lock on this database

Scheduling examples: config/schedule/ (cron, systemd timer, Kubernetes CronJob).

Examples:
  trailproof --db /var/lib/trailproof/tp.db --config /etc/trailproof.toml run
  trailproof --config trailproof.toml run --dry-run
  trailproof --config trailproof.toml run --no-collect   # logs arrive by `trailproof import`";

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Do everything but send: collect, judge and write the reports, then print the tickets that
    /// would be sent and leave them queued.
    #[arg(long)]
    pub dry_run: bool,
    /// Skip collection (for databases fed by `trailproof import`).
    #[arg(long)]
    pub no_collect: bool,
    /// Judge and report as of this time (RFC 3339) instead of now: for replays and tests.
    #[arg(long, value_name = "TIME")]
    pub now: Option<String>,
}

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

fn format_of(name: &str) -> anyhow::Result<trailproof_report::Format> {
    name.parse::<trailproof_report::Format>().map_err(|e| anyhow::anyhow!("run.report_formats: {e}"))
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees half a
/// report.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(|| format!("writing in {}", dir.display()))?;
    tmp.write_all(bytes)?;
    tmp.persist(path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

/// Renders `records` in every format of `formats` into `dir` as `<stem>.<ext>` and
/// `latest.<ext>`; returns the files written.
pub fn write_reports(
    records: &[VerdictRecord],
    formats: &[String],
    dir: &Path,
    stem: &str,
    opts: &trailproof_report::ReportOptions,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for f in formats {
        let format = format_of(f)?;
        let ext = format.extension();
        let mut buf = Vec::new();
        trailproof_report::render(records, format, opts, &mut buf).with_context(|| format!("rendering {f}"))?;
        let path = dir.join(format!("{stem}.{ext}"));
        write_atomic(&path, &buf)?;
        write_atomic(&dir.join(format!("latest.{ext}")), &buf)?;
        written.push(path);
    }
    Ok(written)
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

/// The demo's ticket feed: a webhook sink pointed at the in-process receiver, every verdict the
/// demo judged (backfill), then a second dispatch that must send nothing.
pub fn demo_tickets(
    rt: &tokio::runtime::Runtime,
    config: &Config,
    store: &mut trailproof_store::Store,
    creds: &Path,
) -> anyhow::Result<String> {
    let key = "demo-webhook-signing-key";
    let sink = rt.block_on(crate::demo_sink::start(key.as_bytes())).context("starting the webhook receiver")?;
    std::fs::create_dir_all(creds)?;
    let key_file = creds.join("webhook-key");
    std::fs::write(&key_file, key)?;
    let mut cfg = config.clone();
    cfg.notify = vec![trailproof_model::config::NotifySink {
        name: "demo-webhook".into(),
        kind: "webhook".into(),
        url: sink.url(),
        secret_file: key_file.to_string_lossy().into_owned(),
        requests_per_minute: 0,
        backfill: true,
        ..Default::default()
    }];
    let first = crate::cmd_notify::notify(&cfg, store, false)?;
    let again = crate::cmd_notify::notify(&cfg, store, false)?;
    let got = sink.received();
    let created = first.sinks.first().map(|s| s.created).unwrap_or(0);
    let twice = got.by_key.values().filter(|n| **n > 1).count();
    anyhow::ensure!(!first.failed(), "the webhook sink failed: {}", first.sinks[0].line());
    anyhow::ensure!(
        got.bad_signatures == 0 && twice == 0 && got.by_key.len() as u64 == created,
        "webhook deliveries: {} tickets sent, {} received, {} twice, {} bad signatures",
        created,
        got.by_key.len(),
        twice,
        got.bad_signatures
    );
    let resent = again.sinks.first().map(|s| s.created + s.updated + s.closed).unwrap_or(0);
    anyhow::ensure!(resent == 0, "a second dispatch re-sent {resent} tickets");
    Ok(format!(
        "tickets: {created} sent to a webhook sink at {} (HMAC verified, one per session; a second dispatch sent none)",
        sink.url()
    ))
}
