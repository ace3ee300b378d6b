//! The job trailproof runs: collecting every configured source, the stages of `run` (collect →
//! correlate → report → notify → prune) under the run lock, notifying, and the report files. The
//! CLI and every worker share it; they parse flags and print what it reports ([`JobEvents`]).

use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use trailproof_collect::{CollectOptions, Reporter, collect};
use trailproof_collect_cloudtrail::{CtOptions, collect_cloudtrail};
use trailproof_correlate::Compiled;
use trailproof_model::config::{CollectConfig, Config};
use trailproof_model::verdict::{Severity, VerdictRecord};
use trailproof_model::{Millis, Source, format_ms, inert, inert_lines};
use trailproof_notify::{DispatchOptions, DispatchSummary, dispatch};
use trailproof_store::{PruneReport, Store};

/// Why the job could not run (a stage that fails is reported through [`JobEvents`] instead).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("opening {path}: {source}")]
    Open { path: String, source: trailproof_store::StoreError },
    #[error(transparent)]
    Store(#[from] trailproof_store::StoreError),
    #[error("{0}")]
    Config(String),
    #[error("starting the async runtime: {0}")]
    Runtime(std::io::Error),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error(transparent)]
    Notify(#[from] trailproof_notify::NotifyError),
    #[error("rendering {format}: {source}")]
    Report { format: String, source: trailproof_report::ReportError },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> JobError {
    let what = what.into();
    move |source| JobError::Io { what, source }
}

/// What the job tells the one who runs it, as it happens: the CLI prints these.
pub trait JobEvents {
    /// A source collected (or not): see [`SourceOutcome`].
    fn collected(&mut self, source: &SourceOutcome);
    /// A notification dispatch: its planned tickets, refusals, notes and stopped sinks.
    fn dispatched(&mut self, summary: &DispatchSummary);
    /// A stage of `run` ended.
    fn stage(&mut self, line: &StageLine);
    /// An error a stage ran into (the stage's line follows).
    fn error(&mut self, message: &str);
}

// ---- collecting -----------------------------------------------------------------------------

/// The time window of a collection: incremental from the checkpoints (`since` unset) or a
/// backfill of `[since, until]`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub now: Millis,
    pub since: Option<Millis>,
    pub until: Option<Millis>,
}

/// One source's result, in the order the sources are reported: its summary line when it ran,
/// the error that stopped it and how to fix it. The texts are inert (attacker-controlled strings
/// escaped).
#[derive(Debug, Clone, Default)]
pub struct SourceOutcome {
    pub line: Option<String>,
    pub error: Option<String>,
    pub fix: Option<String>,
}

/// What [`collect_all`] did: sources that completed and sources that failed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Collected {
    pub ok: usize,
    pub failed: usize,
    /// `[[collect.elasticsearch]]` documents read from `event.original` and from ECS fields.
    pub elastic_read: (u64, u64),
}

/// Which collectors `only` (or all) asks of this configuration: (the IdP and Elasticsearch
/// collectors, the CloudTrail ones).
pub fn collectors_wanted(c: &CollectConfig, only: Option<Source>) -> (bool, bool) {
    let want_idp = (only.is_none_or(|s| s != Source::Cloudtrail)
        && (!c.okta.is_empty() || !c.entra.is_empty() || !c.google.is_empty()))
        || !trailproof_collect::elastic::streams(c, only).is_empty();
    let want_ct = only.is_none_or(|s| s == Source::Cloudtrail) && !c.cloudtrail.is_empty();
    (want_idp, want_ct)
}

/// Runs every configured collector (or only `only`'s) into `db`, the IdP and CloudTrail ones
/// at once, reporting each source through `events` as the collectors end. Per-source failures
/// are counted, not returned. `ct_credentials` replaces the AWS credential chain (the demo's S3
/// server takes any).
pub fn collect_all(
    db: &Path,
    cfg: &Config,
    w: &Window,
    only: Option<Source>,
    ct_credentials: Option<aws_sdk_cloudtrail::config::Credentials>,
    progress: &dyn Reporter,
    events: &mut dyn JobEvents,
) -> Result<Collected, JobError> {
    let Window { now, since, until } = *w;
    let c = &cfg.collect;
    let (want_idp, want_ct) = collectors_wanted(c, only);
    // Create the database (and its schema) before the collectors open their connections.
    drop(Store::open(db).map_err(|source| JobError::Open { path: db.display().to_string(), source })?);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(JobError::Runtime)?;
    let mut out = Collected::default();
    let (idp, ct) = rt.block_on(async {
        let idp = async {
            if !want_idp {
                return None;
            }
            let mut opts = CollectOptions::new(now);
            opts.only = only;
            opts.since = since;
            opts.until = until;
            Some(collect(db, cfg, &opts, progress).await)
        };
        let ct = async {
            let mut out = Vec::new();
            if !want_ct {
                return out;
            }
            for src in &c.cloudtrail {
                let mut opts = CtOptions::from_config(c, now);
                opts.since = since;
                opts.until = until;
                opts.credentials = ct_credentials.clone();
                let r = match Store::open(db) {
                    Ok(mut store) => {
                        collect_cloudtrail(&mut store, src, &opts, &mut |_| {}).await.map_err(|e| e.to_string())
                    }
                    Err(e) => Err(format!("cloudtrail:{}: opening {}: {e}", src.name, db.display())),
                };
                out.push(r);
            }
            out
        };
        tokio::join!(idp, ct)
    });
    match idp {
        Some(Ok(summary)) => {
            for s in &summary.sources {
                out.elastic_read.0 += s.elastic_read.0;
                out.elastic_read.1 += s.elastic_read.1;
                if s.error.is_some() {
                    out.failed += 1;
                } else {
                    out.ok += 1;
                }
                events.collected(&SourceOutcome {
                    line: Some(inert_lines(&s.line()).into_owned()),
                    error: s.error.as_ref().map(|e| inert_lines(&e.to_string()).into_owned()),
                    fix: s.fix.as_deref().map(|f| inert_lines(f).into_owned()),
                });
            }
            if summary.failed() && out.failed == 0 {
                out.failed = 1;
            }
        }
        Some(Err(e)) => {
            out.failed += 1;
            events.collected(&SourceOutcome {
                error: Some(inert_lines(&e.to_string()).into_owned()),
                ..Default::default()
            });
        }
        None => {}
    }
    for r in ct {
        match r {
            Ok(s) => {
                out.ok += 1;
                events.collected(&SourceOutcome {
                    line: Some(inert_lines(&s.line()).into_owned()),
                    ..Default::default()
                });
            }
            Err(e) => {
                out.failed += 1;
                events.collected(&SourceOutcome { error: Some(inert_lines(&e).into_owned()), ..Default::default() });
            }
        }
    }
    Ok(out)
}

// ---- notifying ------------------------------------------------------------------------------

/// Delivers the queued verdicts to the configured `[[notify]]` sinks (on a runtime of its own)
/// and reports the dispatch through `events`.
pub fn notify(
    config: &Config,
    store: &Store,
    dry_run: bool,
    events: &mut dyn JobEvents,
) -> Result<DispatchSummary, JobError> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(JobError::Runtime)?;
    let opts = DispatchOptions { dry_run, now_ms: trailproof_model::now_ms() };
    let summary = rt.block_on(dispatch(store, &config.notify, &opts))?;
    events.dispatched(&summary);
    Ok(summary)
}

// ---- report files ---------------------------------------------------------------------------

/// A report format named in the configuration.
pub fn report_format(name: &str) -> Result<trailproof_report::Format, JobError> {
    name.parse::<trailproof_report::Format>().map_err(|e| JobError::Config(format!("run.report_formats: {e}")))
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader never sees half a
/// report.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), JobError> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io(format!("writing in {}", dir.display())))?;
    tmp.write_all(bytes).map_err(io(format!("writing in {}", dir.display())))?;
    tmp.persist(path).map_err(|e| JobError::Io { what: format!("writing {}", path.display()), source: e.error })?;
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
) -> Result<Vec<PathBuf>, JobError> {
    let mut written = Vec::new();
    for f in formats {
        let format = report_format(f)?;
        let ext = format.extension();
        let mut buf = Vec::new();
        trailproof_report::render(records, format, opts, &mut buf)
            .map_err(|source| JobError::Report { format: f.clone(), source })?;
        let path = dir.join(format!("{stem}.{ext}"));
        write_atomic(&path, &buf)?;
        write_atomic(&dir.join(format!("latest.{ext}")), &buf)?;
        written.push(path);
    }
    Ok(written)
}

// ---- pruning --------------------------------------------------------------------------------

fn mb(b: u64) -> String {
    format!("{:.1} MB", b as f64 / 1e6)
}

/// What a prune did (or, dry, would do) in sentences, for `prune` and `run`'s last stage.
pub fn describe_prune(r: &PruneReport, keep_days: u32) -> Vec<String> {
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

// ---- the run --------------------------------------------------------------------------------

/// The run lock: `<db>.run-lock`, an OS file lock (released by the kernel if the process dies)
/// with the holder's pid, host and start time written inside for the next run's message.
pub struct RunLock {
    _file: std::fs::File,
}

impl RunLock {
    /// The lock, or (inner `Err`) the message saying who holds it.
    pub fn acquire(db: &Path) -> Result<Result<RunLock, String>, JobError> {
        let mut path: PathBuf = db.to_path_buf();
        let name = db.file_name().map(|n| format!("{}.run-lock", n.to_string_lossy())).unwrap_or("run-lock".into());
        path.set_file_name(name);
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(io(format!("cannot create the lock file {}", path.display())))?;
        match f.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                let holder = holder.trim();
                return Ok(Err(format!(
                    "another trailproof run holds the lock on {} ({}): {}; this run did nothing",
                    db.display(),
                    path.display(),
                    if holder.is_empty() { "holder unknown".to_string() } else { inert(holder).into_owned() }
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(JobError::Io { what: format!("cannot lock {}", path.display()), source: e });
            }
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "this host".into());
        let what = format!("writing the lock file {}", path.display());
        f.set_len(0).map_err(io(&what))?;
        f.rewind().map_err(io(&what))?;
        writeln!(f, "pid {} on {host}, started {}", std::process::id(), format_ms(trailproof_model::now_ms()))
            .map_err(io(&what))?;
        f.flush().map_err(io(&what))?;
        Ok(Ok(RunLock { _file: f }))
    }
}

/// `run.fail_on_severity`: `none`, or the lowest severity that counts as a finding.
pub fn fail_on_severity(s: &str) -> Result<Option<Severity>, JobError> {
    if s.trim().eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    Severity::parse(s).map(Some).ok_or_else(|| {
        JobError::Config(format!("run.fail_on_severity = {s:?}: use none, low, medium, high or critical"))
    })
}

/// How a run goes: as of `now`, sending or not, collecting or not.
#[derive(Debug, Clone, Copy)]
pub struct RunOptions {
    pub now: Millis,
    pub dry_run: bool,
    pub no_collect: bool,
}

/// One stage's summary line: `ok` false when it failed (the run then fails).
#[derive(Debug, Clone)]
pub struct StageLine {
    pub stage: &'static str,
    pub ok: bool,
    pub text: String,
    pub elapsed: Duration,
}

/// What a run did.
#[derive(Debug, Clone, Copy)]
pub struct RunOutcome {
    /// A stage failed.
    pub failed: bool,
    /// Sessions of the report window at or above `run.fail_on_severity`.
    pub findings: usize,
    pub elapsed: Duration,
}

/// The run's stages, each reported by one [`StageLine`]; a stage that fails does not stop the
/// later ones. `Ok(Err(message))` when another run holds the lock (nothing was done).
pub fn run(
    db: &Path,
    config: &Config,
    opts: &RunOptions,
    progress: &dyn Reporter,
    events: &mut dyn JobEvents,
) -> Result<Result<RunOutcome, String>, JobError> {
    let cfg = Compiled::new(config).map_err(|e| JobError::Config(e.to_string()))?;
    let threshold = fail_on_severity(&config.run.fail_on_severity)?;
    for f in &config.run.report_formats {
        report_format(f)?;
    }
    let now = opts.now;
    let lock = match RunLock::acquire(db)? {
        Ok(l) => l,
        Err(msg) => return Ok(Err(msg)),
    };
    let run_started = Instant::now();
    let mut failed = false;
    let mut line = |events: &mut dyn JobEvents, stage: &'static str, t: Instant, ok: bool, text: String| {
        failed |= !ok;
        events.stage(&StageLine { stage, ok, text, elapsed: t.elapsed() });
    };
    // Create the database (and its schema) before the collectors open their connections.
    drop(Store::open(db).map_err(|source| JobError::Open { path: db.display().to_string(), source })?);

    // 1. collect
    let t = Instant::now();
    let c = &config.collect;
    let configured = c.okta.len() + c.entra.len() + c.google.len() + c.cloudtrail.len();
    if opts.no_collect {
        line(events, "collect", t, true, "skipped (--no-collect)".into());
    } else if configured == 0 {
        let text = "skipped: no [collect] source is configured (logs arrive by `trailproof import`?)";
        line(events, "collect", t, true, text.into());
    } else {
        match collect_all(db, config, &Window { now, since: None, until: None }, None, None, progress, events) {
            Ok(r) => {
                let text =
                    format!("{} of {} sources collected, {} failed (see above)", r.ok, r.ok + r.failed, r.failed);
                line(events, "collect", t, r.failed == 0, text);
            }
            Err(e) => {
                events.error(&e.to_string());
                line(events, "collect", t, false, "could not run".into());
            }
        }
    }

    // 2. correlate
    let t = Instant::now();
    let since = now - Millis::from(config.run.rejudge_hours) * 3_600_000;
    let mut store = Store::open(db).map_err(|source| JobError::Open { path: db.display().to_string(), source })?;
    match crate::judge(&mut store, &cfg, Some(since), now, &mut |_, _| {}) {
        Ok(s) => {
            let by: Vec<String> = s.by_verdict.iter().map(|(k, v)| format!("{} {v}", k.as_str())).collect();
            let text = format!(
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
            );
            line(events, "correlate", t, true, text);
        }
        Err(e) => {
            events.error(&e.to_string());
            line(events, "correlate", t, false, "could not judge".into());
        }
    }

    // 3. report
    let t = Instant::now();
    let report_from = now - Millis::from(config.run.report_hours) * 3_600_000;
    let records = store.verdicts(report_from, now + 1)?;
    let findings = threshold.map(|th| records.iter().filter(|r| r.risk.severity >= th).count()).unwrap_or(0);
    if config.run.report_formats.is_empty() {
        line(events, "report", t, true, "skipped: run.report_formats is empty".into());
    } else {
        let stamp = format_ms(now).replace([':', '-'], "").replace('.', "");
        let ropts = trailproof_report::ReportOptions {
            color: false,
            generated_at: format_ms(trailproof_model::now_ms()),
            title: format!("trailproof run {}", format_ms(now)),
            range: Some((format_ms(report_from), format_ms(now))),
        };
        let dir = Path::new(&config.run.report_dir);
        match write_reports(&records, &config.run.report_formats, dir, &format!("report-{stamp}"), &ropts) {
            Ok(files) => {
                let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
                let text = format!(
                    "{} sessions of the last {} h: {}",
                    records.len(),
                    config.run.report_hours,
                    names.join(", ")
                );
                line(events, "report", t, true, text);
            }
            Err(e) => {
                events.error(&e.to_string());
                line(events, "report", t, false, "not written".into());
            }
        }
    }

    // 4. notify
    let t = Instant::now();
    if config.notify.is_empty() {
        line(events, "notify", t, true, "skipped: no [[notify]] sink is configured".into());
    } else {
        match notify(config, &store, opts.dry_run, events) {
            Ok(summary) => {
                let lines: Vec<String> = summary.sinks.iter().map(|s| inert(&s.line()).into_owned()).collect();
                let text =
                    format!("{}{}", lines.join("; "), if opts.dry_run { " (dry run: nothing sent)" } else { "" });
                if summary.failed() {
                    events.error(&text);
                    line(events, "notify", t, false, "tickets left queued for the next run".into());
                } else {
                    line(events, "notify", t, true, text);
                }
            }
            Err(e) => {
                events.error(&e.to_string());
                line(events, "notify", t, false, "tickets left queued for the next run".into());
            }
        }
    }

    // 5. prune ([retention] enabled): last, so that every stage before it saw the data.
    let t = Instant::now();
    let (keep_days, verdict_days) = (config.retention.keep_days, config.retention.verdict_keep_days);
    if !config.retention.enabled {
        line(events, "prune", t, true, "skipped: [retention] is not enabled (nothing is removed)".into());
    } else {
        match crate::prune(&mut store, &cfg, keep_days, verdict_days, now, opts.dry_run) {
            Ok(r) if opts.dry_run => {
                line(events, "prune", t, true, format!("dry run: {}", describe_prune(&r, keep_days).join("; ")))
            }
            Ok(r) => line(events, "prune", t, true, describe_prune(&r, keep_days).join("; ")),
            Err(e) => {
                events.error(&e.to_string());
                let text = if opts.dry_run { "not pruned" } else { "not pruned (the next run finishes the job)" };
                line(events, "prune", t, false, text.into());
            }
        }
    }
    drop(lock);
    Ok(Ok(RunOutcome { failed, findings, elapsed: run_started.elapsed() }))
}
