//! Live CloudTrail collection (`trailproof collect` for `[[collect.cloudtrail]]` sources) into
//! the store, in one of three modes (`CloudTrailSource::mode`):
//!
//! | mode | reads | checkpoint (scope, stream) | coverage |
//! |---|---|---|---|
//! | `lookup` | `LookupEvents` per region, one lookup attribute per call: `EventSource` = `signin.amazonaws.com`, `sts.amazonaws.com`, `sso.amazonaws.com`; windows of at most a day, oldest first, `MaxResults` 50, `NextToken` to the end (newest first) | `lookup:NAME:REGION`, `incremental`/`backfill`: JSON [`state::LookupState`] (window, event source index, next token) after every page | `ACCOUNT/REGION` per completed window (all three event sources read, nothing quarantined), `[from, min(to, now - settling))` |
//! | `s3` | the trail bucket, by `[prefix/]AWSLogs/[o-org/]ACCOUNT/CloudTrail/REGION/YYYY/MM/DD/` day prefixes only (never a bucket walk); objects whose name (delivery) time is in `[from, to + settling]` | `s3:BUCKET/BASE`, `incremental`/`backfill`: JSON [`state::S3State`] with the last object key processed (keys sort by delivery time) | per account/region folder, once every selected object was read: per record scope, the span of records read clipped to `[from, min(to, now - settling)]`; withheld when an object or record was quarantined |
//! | `directory` | `trailproof_ingest::import` of the local tree (what `trailproof import cloudtrail DIR` does) | none | as `import`: `coverage.json` or the span read |
//!
//! Every page (lookup) and every object (s3) is one transaction: its records (through
//! `trailproof_ingest::ingest_page`, i.e. the CloudTrail parser), its checkpoint and, when it
//! completes a window, the coverage. Killed at any moment, the next run resumes from the last
//! committed checkpoint; records read twice are deduplicated by `eventID`.
//!
//! Accounts for lookup coverage: LookupEvents does not say which account it reads (STS
//! `GetCallerIdentity` would need aws-sdk-sts), so the account is `accounts[0]` when exactly one
//! account is configured, else the `recipientAccountId` of the records read (kept in the
//! checkpoint). While neither is known, coverage is withheld with a warning.
//!
//! Credentials: aws-config's default chain, or the named `profile`; `role_arn` is assumed on
//! top (aws-config's `AssumeRoleProvider`, session name `trailproof`). `endpoint_url` points
//! every client at an emulator or an S3-compatible server (S3 then uses path-style requests).
//! Credentials never appear in errors or reports.
//!
//! Settling: CloudTrail "typically delivers logs within an average of about 5 minutes of an API
//! call. This time is not guaranteed" (AWS CloudTrail User Guide, "Getting and viewing your
//! CloudTrail log files"): no bound is documented. Coverage ends `settling_minutes` (default 60)
//! before now, and s3 mode reads the files delivered up to that long after a range.
//!
//! Pacing: `requests_per_second` per region for LookupEvents (default 1, half of the documented
//! 2 per second per account and region, which every reader of the account's event history
//! shares; 0 = off), with `governor`. `ThrottlingException` (and other transient failures) back off
//! as every collector does (`trailproof_http::RetryPolicy`: exponentially from `retry_initial_ms`
//! up to `retry_max_ms`, jittered, at most `max_retries` times).
//!
//! Regions are read one after the other (one pacer each); the s3 folders too. In s3 mode up to
//! 8 GETs run ahead of the writer (objects still commit in key order); the S3 client keeps the
//! SDK's standard retries and signs for the SDK configuration's region (environment/profile),
//! else `us-east-1`. `directory` mode ignores `--since`/`--until` (it is an import).
//!
//! Store writes are synchronous inside the async functions (short transactions); the returned
//! futures are `Send`.

mod aws;
mod lookup;
#[cfg(feature = "s3")]
mod s3;
pub mod state;

use std::path::PathBuf;
use std::time::{Duration, Instant};
use trailproof_http::RetryPolicy;

use trailproof_model::config::CloudTrailSource;
use trailproof_model::time::format_ms;
use trailproof_model::{Millis, Source};
use trailproof_store::{ImportCounts, Store};

pub use aws::{CheckResult, check_cloudtrail, check_with};

/// The event sources LookupEvents is asked for, in order.
pub const EVENT_SOURCES: [&str; 3] = ["signin.amazonaws.com", "sts.amazonaws.com", "sso.amazonaws.com"];

/// The default settling time of CloudTrail (an hour): S3 objects named up to this long after a
/// range's end are read with it, and coverage ends this long before now.
pub const S3_SLACK_MS: Millis = 3_600_000;

/// Default LookupEvents pacing per region (see the crate docs).
pub const DEFAULT_REQUESTS_PER_SECOND: u32 = 1;

/// LookupEvents serves the last 90 days.
pub const LOOKUP_HORIZON_MS: Millis = 90 * 24 * 3_600_000;

/// What one run reads, and the knobs the lead's `collect` passes through.
#[derive(Debug, Clone)]
pub struct CtOptions {
    /// `--since`: a backfill (its own checkpoint stream `backfill`).
    pub since: Option<Millis>,
    /// `--until` (exclusive); later than `now` means now.
    pub until: Option<Millis>,
    pub now: Millis,
    /// How long after their time events are taken to be all delivered: coverage stops this long
    /// before now. `None`: the source's `settling_minutes` (default 60), never less than
    /// `settling_floor_ms`.
    pub settling_ms: Option<Millis>,
    /// `collect.overlap_minutes` in ms (deprecated): a floor under every settling time.
    pub settling_floor_ms: Millis,
    /// `collect.initial_lookback_hours` in ms: where a first incremental run starts.
    pub initial_lookback_ms: Millis,
    /// LookupEvents' retries of throttled and transient failures: the collectors' one policy
    /// (`trailproof_http::RetryPolicy`: exponential, jittered, `[collect]`'s knobs).
    pub retry: RetryPolicy,
    /// Longest lookup window (default one day).
    pub window_ms: Millis,
    /// LookupEvents `MaxResults` (1–50, default 50).
    pub page_size: i32,
    /// Tests: stop (as if killed) after this many committed pages/objects.
    pub stop_after: Option<u64>,
    /// Tests and emulators: static credentials instead of the default chain.
    pub credentials: Option<aws_sdk_cloudtrail::config::Credentials>,
}

impl CtOptions {
    pub fn new(now: Millis) -> CtOptions {
        CtOptions {
            since: None,
            until: None,
            now,
            settling_ms: None,
            settling_floor_ms: 0,
            initial_lookback_ms: 24 * 3_600_000,
            retry: RetryPolicy::default(),
            window_ms: 24 * 3_600_000,
            page_size: 50,
            stop_after: None,
            credentials: None,
        }
    }

    /// Takes the collect section's knobs.
    pub fn from_config(cfg: &trailproof_model::config::CollectConfig, now: Millis) -> CtOptions {
        CtOptions {
            settling_floor_ms: Millis::from(cfg.overlap_minutes) * 60_000,
            initial_lookback_ms: Millis::from(cfg.initial_lookback_hours) * 3_600_000,
            retry: RetryPolicy::from_config(cfg),
            ..CtOptions::new(now)
        }
    }

    /// The settling time for `src`, in ms.
    pub fn settling_for(&self, src: &CloudTrailSource) -> Millis {
        let default = trailproof_model::config::source_lag(Source::Cloudtrail)
            .map_or(S3_SLACK_MS, |l| Millis::from(l.default_settling_minutes) * 60_000);
        let own = src.settling_minutes.map_or(default, |m| Millis::from(m) * 60_000);
        self.settling_ms.unwrap_or(own).max(self.settling_floor_ms)
    }

    pub(crate) fn stream(&self) -> &'static str {
        if self.since.is_some() { state::BACKFILL } else { state::INCREMENTAL }
    }

    /// The end of the range: `until` or now, whichever is earlier.
    pub(crate) fn end(&self) -> Millis {
        self.until.map_or(self.now, |u| u.min(self.now))
    }
}

/// Where a run is, after each committed page or object.
#[derive(Debug, Clone, PartialEq)]
pub struct CtProgress {
    /// `cloudtrail:NAME`.
    pub source: String,
    /// Region (lookup) or `ACCOUNT/REGION` folder (s3).
    pub part: String,
    pub pages: u64,
    pub records: u64,
    pub stored: u64,
    /// The window (lookup) or the range (s3) being read.
    pub window: Option<(Millis, Millis)>,
    pub elapsed: Duration,
}

/// A coverage interval recorded by the run, `[start_ms, end_ms]` inclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub scope: String,
    pub start_ms: Millis,
    pub end_ms: Millis,
}

/// What one source's run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// `cloudtrail:NAME`.
    pub label: String,
    pub mode: String,
    /// Pages (lookup), objects (s3) or files (directory) read.
    pub pages: u64,
    /// Records read.
    pub records: u64,
    pub counts: ImportCounts,
    pub coverage: Vec<Claim>,
    pub withheld: Vec<String>,
    pub warnings: Vec<String>,
    pub quarantine_examples: Vec<String>,
    /// API requests sent, and how many were throttled or retried.
    pub requests: u64,
    pub retries: u64,
    /// The run stopped early (`stop_after`).
    pub stopped: bool,
    pub elapsed: Duration,
}

impl Summary {
    /// One summary line.
    pub fn line(&self) -> String {
        let c = &self.counts;
        let mut s = format!(
            "{} {}: {} pages, {} records: {} new, {} duplicates, {} skipped, {} quarantined; {} requests ({} retries) in {:.1} s",
            self.label,
            self.mode,
            self.pages,
            self.records,
            c.stored,
            c.duplicates,
            c.skipped,
            c.quarantined,
            self.requests,
            self.retries,
            self.elapsed.as_secs_f64()
        );
        for cl in &self.coverage {
            s.push_str(&format!("; coverage {} {}..{}", cl.scope, format_ms(cl.start_ms), format_ms(cl.end_ms + 1)));
        }
        s
    }

    pub(crate) fn add_page(&mut self, r: &trailproof_ingest::PageReport) {
        self.counts.add(&r.counts);
        self.records += r.counts.read;
        for (loc, why) in &r.quarantine_examples {
            if self.quarantine_examples.len() < 5 {
                self.quarantine_examples.push(format!("{loc}: {why}"));
            }
        }
    }
}

/// Why a source failed. Each names the source, where (region, bucket) and what was kept.
#[derive(Debug, thiserror::Error)]
pub enum CtError {
    #[error("{label}: configuration: {why}")]
    Config { label: String, why: String },
    #[error("{label}: {what} failed: {why}; kept: {kept}")]
    Aws { label: String, what: String, why: String, kept: String },
    #[error("{label}: store: {why}; kept: {kept}")]
    Store { label: String, why: String, kept: String },
}

pub(crate) fn label(src: &CloudTrailSource) -> String {
    if src.name.is_empty() { "cloudtrail".into() } else { format!("cloudtrail:{}", src.name) }
}

/// Collects one CloudTrail source into the store. Work committed before an error stays (the
/// error says what was kept); the next run resumes from the checkpoints.
pub async fn collect_cloudtrail(
    store: &mut Store,
    src: &CloudTrailSource,
    opts: &CtOptions,
    progress: &mut (dyn FnMut(&CtProgress) + Send),
) -> Result<Summary, CtError> {
    let started = Instant::now();
    let label = label(src);
    if let (Some(s), Some(u)) = (opts.since, opts.until)
        && s >= u
    {
        return Err(CtError::Config {
            label,
            why: format!("--since {} is not before --until {}", format_ms(s), format_ms(u)),
        });
    }
    let mut sum = Summary { label: label.clone(), mode: src.mode.clone(), ..Default::default() };
    match src.mode.as_str() {
        "lookup" => lookup::run(store, src, opts, &mut sum, progress).await?,
        "s3" => {
            #[cfg(feature = "s3")]
            s3::run(store, src, opts, &mut sum, progress).await?;
            #[cfg(not(feature = "s3"))]
            return Err(CtError::Config {
                label,
                why: "this trailproof was built without S3 support (cargo feature `s3`)".into(),
            });
        }
        "directory" => directory(store, src, &mut sum)?,
        other => {
            return Err(CtError::Config { label, why: format!("mode {other:?} is not one of lookup, s3, directory") });
        }
    }
    sum.elapsed = started.elapsed();
    Ok(sum)
}

fn directory(store: &mut Store, src: &CloudTrailSource, sum: &mut Summary) -> Result<(), CtError> {
    let label = sum.label.clone();
    if src.directory.is_empty() {
        return Err(CtError::Config { label, why: "mode directory needs `directory`".into() });
    }
    let (inputs, manifests) = trailproof_ingest::collect_inputs(&[PathBuf::from(&src.directory)])
        .map_err(|e| CtError::Config { label: label.clone(), why: e.to_string() })?;
    let opts = trailproof_ingest::ImportOptions::new(Source::Cloudtrail);
    let r = trailproof_ingest::import(store, &inputs, &manifests, &opts, &mut |_| {}).map_err(|e| CtError::Store {
        label: label.clone(),
        why: e.to_string(),
        kept: "the batches committed before".into(),
    })?;
    sum.pages = r.files;
    sum.records = r.counts.read;
    sum.counts = r.counts;
    sum.coverage =
        r.coverage.iter().map(|c| Claim { scope: c.scope.clone(), start_ms: c.start_ms, end_ms: c.end_ms }).collect();
    sum.withheld.extend(r.coverage_withheld);
    sum.quarantine_examples = r.quarantine_examples.iter().map(|(l, w)| format!("{l}: {w}")).collect();
    for (input, why) in r.failed_inputs {
        sum.warnings.push(format!("{input}: {why}"));
    }
    Ok(())
}

pub(crate) fn store_err(label: &str, kept: &str) -> impl Fn(trailproof_store::StoreError) -> CtError {
    let (label, kept) = (label.to_string(), kept.to_string());
    move |e| CtError::Store { label: label.clone(), why: e.to_string(), kept: kept.clone() }
}
