//! Live collection (`trailproof collect`, `trailproof check`) from the Okta System Log, Microsoft
//! Graph sign-ins (beta) and the Google Workspace Reports API into the store. CloudTrail is
//! collected by `trailproof-source-cloudtrail` and is not read here.
//!
//! ```text
//!  source tasks (one per configured source, concurrent, each paced at its own rate)
//!    okta ─┐  GET page n+1  ──┐                         writer thread (owns the Store)
//!   entra ─┼─ while page n ───┼── channel ──► ingest_page(records) + set_checkpoint
//!  google ─┘  is written      ┘                         [+ add_coverage] → COMMIT
//! ```
//!
//! # Guarantees
//!
//! - **A page and its checkpoint commit together.** Each page is one transaction: its records
//!   (parsed by the source's parser through `trailproof_ingest::ingest_page`), the checkpoint
//!   that follows it and, when the page completes a window, the window's coverage. Killed at any
//!   moment, the next run resumes from the last committed checkpoint; records read twice are
//!   deduplicated by their native ids, so the store ends exact.
//! - **Coverage is claimed only for what has settled at the source and was completely read**:
//!   up to `now - settling`, where each source has its own settling time (`settling_minutes`,
//!   defaults from the vendors' documentation in `trailproof_model::config::SOURCE_LAGS`:
//!   Entra 120 min, Google 240, Okta 30; docs/source-lag.md). Records may appear at the source
//!   that late; each run reads again from where the last claim ended, so a record that arrives
//!   late is read. A window in which a record was quarantined is not claimed (the record might
//!   be the one that matters; `trailproof status` lists it). A failed run records only the
//!   windows it completed.
//! - **A record read again with other content replaces what was stored** (Entra aggregates MFA
//!   steps onto the original sign-in for up to two hours): the store keeps the earlier bytes and
//!   queues the time it spans for re-judging (`trailproof_store::Batch::insert_idp_record`).
//! - **Secrets** come from environment variables or files named in the configuration and never
//!   reach logs, errors or reports (see `trailproof-http`).
//!
//! # Checkpoints (`checkpoints` table: source, scope, stream → JSON [`state::State`])
//!
//! The checkpoint scope is the Okta org host, the Entra tenant as configured, or the Google
//! customer id (`my_customer:<admin>` when not named). Streams: `incremental` (runs without
//! `--since`) and `backfill` (runs with `--since`; resumed only by a run with the same
//! `--since`/`--until`, and never moving the incremental checkpoint).
//!
//! `done_until` is the time before which everything has been read; an incremental run reads
//! from `done_until` (or `now - initial_lookback_hours` the first time) to `--until` or now.
//! Because a run claims coverage only up to `now - settling`, `done_until` is at most
//! `now - settling`, so the next run reads the last settling time again: records that appear
//! late in it are caught, records completed since are replaced, and identical copies are
//! duplicates (the store stays exact). The deprecated `overlap_minutes` is a floor under every
//! source's settling time.
//!
//! # Per source
//!
//! | | how a run reads | checkpoint after each page | coverage (scope) |
//! |---|---|---|---|
//! | Okta, incremental | polling: `since = done_until` the first time, then the stored `next` link (persistence order, so late events appear behind it); ends at an empty page, as Okta documents (or at an event from `now` on) | the page's `next` link | on the last page: `[done_until, now - settling)`, scope `*` or `scope` |
//! | Okta, `--since`/`--until` | bounded requests `[a, b)` per window, ascending, `next` links to the end, only up to `now - settling` (Okta: bounded requests "may not contain all events" near the present); the rest polled from `since = now - settling` to an empty page, stored, not claimed | the window and the page's `next` link | per completed window `[a, min(b, now - settling))` |
//! | Entra | per window, interactive sign-ins then non-interactive ones (`signInEventTypes/any(t: t eq 'nonInteractiveUser')`; `non_interactive = false` skips them): `createdDateTime ge a and le b` (+ `appId` `or` group), newest first, `@odata.nextLink` to the end | the window, the query and the next link | per completed window, once both queries are read (tenant id) |
//! | Google | per window `login` then `saml`, `startTime`/`endTime`, newest first, `pageToken` to the end | the window, the application and the next page | per completed window, once both applications are read (customer id) |
//!
//! Windows are at most [`Tuning::window_ms`] long (default one day) and read oldest first.
//! Newest-first results mean a window is complete only after its last page, so coverage is
//! recorded by the page that completes the window (in the same transaction); a run killed in the
//! middle of a window resumes at the stored next link (a link the server no longer accepts makes
//! the window start over). The record at exactly a window's end is read by the next window too
//! (Graph and Reports bounds are inclusive), and each window's claim stops 1 ms before its end,
//! so claims never cover a record that was not read.
//!
//! Entra and Google coverage scopes are what the parsers give the records: the tenant id, the
//! customer id. When the configuration names the tenant by domain or the customer as
//! `my_customer`, the scope is learned from the records (and kept in the checkpoint); until a
//! record has named it, coverage is withheld with a warning. A record naming another
//! tenant/customer than configured raises a warning (coverage is still recorded under the
//! configured one, which the correlator will not match: the safe direction).
//!
//! Nothing is read, and no coverage is claimed, before what each API still keeps (Okta 90 days,
//! Entra 30 days, Google 180 days, less an hour): an empty answer for a period past retention
//! proves nothing. A backfill or a long-idle checkpoint older than that starts at the retention
//! boundary, with a warning (import exports for the older period). Two configured sources that
//! read the same org / tenant / customer would share one checkpoint: the later one is refused.
//!
//! Entra: Graph lists interactive sign-ins unless `signInEventTypes` is filtered on; single
//! sign-on from an Entra-joined PC without a new factor is logged as a *non-interactive* sign-in,
//! and can start a console session, so both are read (see `trailproof_source_entra::fetch`).
//!
//! # Concurrency and the store
//!
//! Sources run concurrently as futures of the caller's task (each with its own pacer). One
//! writer thread owns the store; a source sends page n to it and fetches page n+1 while it is
//! written, then waits for the receipt before sending n+1, whose checkpoint builds on the one
//! stored for n. A lock file (`<database>.collect-lock`) keeps two collects off one database.
//!
//! # Retries, pacing, tokens
//!
//! See `trailproof-http`: `requests_per_minute` / `requests_per_10s` pace each source (0 = no
//! pacing; Okta's default is 10 a minute, half of the smallest org's System Log limit, which the
//! org's other log readers share; `check` prints each source's pacing and settling time); 429 waits for `Retry-After` / `X-Rate-Limit-Reset`; 5xx, 408, connection errors and
//! truncated bodies retry with exponential backoff and jitter (`retry_initial_ms`,
//! `retry_max_ms`), at most `max_retries` times, then the source fails with an error naming the
//! URL path and what was kept; a 401 refreshes an OAuth token once per request.

mod check;
pub mod elastic;
mod engine;
mod join;
mod report;
mod source;
pub mod state;
mod writer;

pub use check::{CheckKind, CheckResult, check, configured_kinds};
pub use report::{BarReporter, LineReporter, NullReporter, Progress, Reporter};

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use trailproof_http::ApiStats;
use trailproof_model::config::Config;
use trailproof_model::time::format_ms;
use trailproof_model::{Millis, Source};
use trailproof_store::ImportCounts;

/// Knobs that are not user configuration (tests, benchmarks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tuning {
    /// Records per request; `None`: each API's maximum (1000).
    pub page_size: Option<u32>,
    /// Longest window of one bounded query, in milliseconds (default one day).
    pub window_ms: Millis,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning { page_size: None, window_ms: 24 * 3_600_000 }
    }
}

/// What `collect` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectOptions {
    /// Only this source kind (`--source`); `None`: every configured Okta, Entra and Google source.
    pub only: Option<Source>,
    /// `--since`: a backfill from this time (its own checkpoint; the incremental one is untouched).
    pub since: Option<Millis>,
    /// `--until`: read up to this time (exclusive) instead of now; later than now means now.
    pub until: Option<Millis>,
    /// The time the run treats as now (the CLI's clock or `--now`).
    pub now: Millis,
    pub tuning: Tuning,
}

impl CollectOptions {
    pub fn new(now: Millis) -> CollectOptions {
        CollectOptions { only: None, since: None, until: None, now, tuning: Tuning::default() }
    }
}

/// Coverage recorded by a run: `[start_ms, end_ms]`, both inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverageClaim {
    pub scope: String,
    pub start_ms: Millis,
    pub end_ms: Millis,
}

/// What one source's run did.
#[derive(Debug, Clone)]
pub struct SourceReport {
    /// `okta:main`, `entra:corp`, `google:C01...`.
    pub label: String,
    pub source: Source,
    /// `incremental` or `backfill`.
    pub mode: &'static str,
    /// The time range read (windowed sources).
    pub range: Option<(Millis, Millis)>,
    pub pages: u64,
    /// Records the API returned.
    pub records: u64,
    /// What the store made of them.
    pub counts: ImportCounts,
    /// Coverage recorded, one entry per completed window (the store merges them).
    pub coverage: Vec<CoverageClaim>,
    /// Everything before this time is read (the checkpoint's `done_until`).
    pub done_until: Option<Millis>,
    /// Coverage not recorded, and why.
    pub withheld: Vec<String>,
    pub warnings: Vec<String>,
    pub quarantine_examples: Vec<String>,
    /// Set when the source failed: names the source, the URL path, and what was kept.
    pub error: Option<String>,
    /// What to do about the error.
    pub fix: Option<String>,
    /// Requests, retries, time in HTTP and in waits.
    pub http: ApiStats,
    /// `[[collect.elasticsearch]]`: documents read from `event.original`, and from the ECS fields.
    pub elastic_read: (u64, u64),
    /// Time parsing and writing pages (the writer thread's `ingest_page`), and committing.
    pub ingest_time: Duration,
    pub commit_time: Duration,
    pub elapsed: Duration,
}

impl SourceReport {
    fn new(label: String, source: Source, mode: &'static str) -> SourceReport {
        SourceReport {
            label,
            source,
            mode,
            range: None,
            pages: 0,
            records: 0,
            counts: ImportCounts::default(),
            coverage: Vec::new(),
            done_until: None,
            withheld: Vec::new(),
            warnings: Vec::new(),
            quarantine_examples: Vec::new(),
            error: None,
            fix: None,
            http: ApiStats::default(),
            elastic_read: (0, 0),
            ingest_time: Duration::ZERO,
            commit_time: Duration::ZERO,
            elapsed: Duration::ZERO,
        }
    }

    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// The merged coverage of this run per scope: `(scope, start, end inclusive)`.
    pub fn coverage_spans(&self) -> Vec<(String, Millis, Millis)> {
        let mut spans: Vec<(String, Millis, Millis)> = Vec::new();
        let mut claims = self.coverage.clone();
        claims.sort_by(|a, b| (a.scope.as_str(), a.start_ms).cmp(&(b.scope.as_str(), b.start_ms)));
        for c in claims {
            match spans.last_mut() {
                Some((s, _, e)) if *s == c.scope && c.start_ms <= *e + 1 => *e = (*e).max(c.end_ms),
                _ => spans.push((c.scope, c.start_ms, c.end_ms)),
            }
        }
        spans
    }

    /// One summary line.
    pub fn line(&self) -> String {
        let c = &self.counts;
        let mut s = format!(
            "{} {}: {} pages, {} records: {} new, {} updated, {} duplicates, {} skipped, {} quarantined; {} requests ({} retries) in {:.1} s",
            self.label,
            self.mode,
            self.pages,
            self.records,
            c.stored,
            c.updated,
            c.duplicates,
            c.skipped,
            c.quarantined,
            self.http.requests,
            self.http.retries,
            self.elapsed.as_secs_f64()
        );
        if self.label.starts_with("elasticsearch:") {
            s.push_str(&format!(
                "; {} read from event.original, {} from ECS fields",
                self.elastic_read.0, self.elastic_read.1
            ));
        }
        for (scope, a, b) in self.coverage_spans() {
            s.push_str(&format!("; coverage {scope} {}..{}", format_ms(a), format_ms(b + 1)));
        }
        if let Some(e) = &self.error {
            s.push_str(&format!("\n  FAILED: {e}"));
            if let Some(f) = &self.fix {
                s.push_str(&format!("\n  fix: {f}"));
            }
        }
        s
    }
}

/// What a `collect` did, per source.
#[derive(Debug, Clone)]
pub struct CollectSummary {
    pub sources: Vec<SourceReport>,
    pub elapsed: Duration,
}

impl CollectSummary {
    /// True when any source failed (the CLI exits non-zero).
    pub fn failed(&self) -> bool {
        self.sources.iter().any(|s| s.error.is_some())
    }
}

/// Why `collect` could not run at all (per-source failures are in the summary instead).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollectError {
    #[error("{0}")]
    NoSources(String),
    #[error("{0}")]
    BadRange(String),
    #[error("another `trailproof collect` is running on {0} (lock file {0}.collect-lock); try again when it ends")]
    Busy(String),
    #[error("{0}")]
    Store(String),
}

fn lock(store_path: &Path) -> Result<std::fs::File, CollectError> {
    let mut p: PathBuf = store_path.to_path_buf();
    let name =
        p.file_name().map(|n| format!("{}.collect-lock", n.to_string_lossy())).unwrap_or_else(|| "collect-lock".into());
    p.set_file_name(name);
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|e| CollectError::Store(format!("cannot create the lock file {}: {e}", p.display())))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(CollectError::Busy(store_path.display().to_string())),
        Err(std::fs::TryLockError::Error(e)) => Err(CollectError::Store(format!("cannot lock {}: {e}", p.display()))),
    }
}

/// Collects every configured Okta, Entra and Google source (or only `opts.only`) into the store
/// at `store_path`, concurrently. Per-source failures are reported in the summary (and make
/// [`CollectSummary::failed`] true); an `Err` means nothing could run.
pub async fn collect(
    store_path: &Path,
    cfg: &Config,
    opts: &CollectOptions,
    reporter: &dyn Reporter,
) -> Result<CollectSummary, CollectError> {
    let started = Instant::now();
    let sources = source::configured(&cfg.collect, opts.only);
    let streams = elastic::streams(&cfg.collect, opts.only);
    if sources.is_empty() && streams.is_empty() {
        return Err(CollectError::NoSources(match opts.only {
            Some(Source::Cloudtrail) => "CloudTrail is not collected by this collector".into(),
            Some(s) => format!("no [[collect.{s}]] source is configured"),
            None => "no [[collect.okta]], [[collect.entra]] or [[collect.google]] source is configured".into(),
        }));
    }
    if let (Some(s), Some(u)) = (opts.since, opts.until)
        && s >= u
    {
        return Err(CollectError::BadRange(format!("--since {} is not before --until {}", format_ms(s), format_ms(u))));
    }
    if let Some(s) = opts.since
        && s >= opts.now
    {
        return Err(CollectError::BadRange(format!("--since {} is not in the past", format_ms(s))));
    }
    let _lock = lock(store_path)?;
    let writer = writer::Writer::spawn(store_path).map_err(CollectError::Store)?;
    let (notes_tx, mut notes_rx) = tokio::sync::mpsc::unbounded_channel::<(String, String)>();
    let ctx = engine::Ctx { cfg: &cfg.collect, opts, writer: &writer, reporter };
    let mut seen: Vec<(Source, String, String)> = Vec::new();
    let mut runs = Vec::new();
    for c in &sources {
        let key = (c.source(), c.checkpoint_scope());
        let dup = seen.iter().find(|(s, k, _)| (*s, k.as_str()) == (key.0, key.1.as_str())).map(|(_, _, l)| l.clone());
        if dup.is_none() {
            seen.push((key.0, key.1, c.label()));
        }
        runs.push(Box::pin(engine::run(c, dup, &ctx, notes_tx.clone()))
            as std::pin::Pin<Box<dyn std::future::Future<Output = SourceReport> + Send + '_>>);
    }
    for s in &streams {
        runs.push(Box::pin(elastic::run(s, &ctx, notes_tx.clone())));
    }
    drop(notes_tx);
    let forward = async {
        while let Some((label, text)) = notes_rx.recv().await {
            reporter.note(&label, &text);
        }
    };
    let (reports, ()) = tokio::join!(join::join_all(runs), forward);
    writer.close().await;
    Ok(CollectSummary { sources: reports, elapsed: started.elapsed() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn futures_are_send() {
        let cfg = Config::default();
        let opts = CollectOptions::new(0);
        let f = collect(Path::new("/nonexistent/db"), &cfg, &opts, &NullReporter);
        assert_send(&f);
        let c = check(&cfg, &NullReporter);
        assert_send(&c);
    }

    #[test]
    fn coverage_spans_merge_adjacent_claims() {
        let mut r = SourceReport::new("okta:x".into(), Source::Okta, "incremental");
        for (a, b) in [(10, 19), (0, 9), (30, 39)] {
            r.coverage.push(CoverageClaim { scope: "*".into(), start_ms: a, end_ms: b });
        }
        assert_eq!(r.coverage_spans(), vec![("*".into(), 0, 19), ("*".into(), 30, 39)]);
    }
}
