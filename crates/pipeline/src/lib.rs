//! Pipeline stages over the store. `judge` runs the (pure) engine on the stored data one day at a
//! time and stores the verdicts with versions, so memory follows a day's sessions rather than
//! the whole store, and a re-run on unchanged data writes nothing.

use std::collections::BTreeMap;
use trailproof_correlate::{Compiled, correlate};
use trailproof_model::Millis;
use trailproof_model::verdict::Verdict;
use trailproof_store::{SnapshotQuery, Store, StoreError, VerdictChanges};

pub const DAY: Millis = 86_400_000;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `judge` did.
#[derive(Debug, Clone, Default)]
pub struct JudgeSummary {
    /// The range judged, `[from, to)`; `None` when no ConsoleLogin is stored.
    pub range: Option<(Millis, Millis)>,
    pub sessions: u64,
    pub by_verdict: BTreeMap<Verdict, u64>,
    /// Counts only: `written` stays empty, so memory does not grow with the run.
    pub changes: VerdictChanges,
    /// Wall time spent loading snapshots, in the engine, and writing verdicts.
    pub timings: Timings,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    pub snapshot: std::time::Duration,
    pub engine: std::time::Duration,
    pub write: std::time::Duration,
}

/// Judges the stored ConsoleLogins with `since <= time <= now` (all stored ones when `since` is
/// `None`). `on_day` is called after each day with the sessions judged so far.
pub fn judge(
    store: &mut Store,
    cfg: &Compiled,
    since: Option<Millis>,
    now: Millis,
    on_day: &mut dyn FnMut(Millis, u64),
) -> Result<JudgeSummary, PipelineError> {
    let mut out = JudgeSummary::default();
    let Some((first, last)) = store.console_login_span()? else {
        return Ok(out);
    };
    let from = since.unwrap_or(first).max(first);
    let to = (last + 1).min(now + 1);
    if from >= to {
        out.range = Some((from, from));
        return Ok(out);
    }
    out.range = Some((from, to));
    let (ids, names, default_pattern) = cfg.aws_apps();
    let t = std::time::Instant::now();
    let (known_users, providers_present) = store.identity_index()?;
    out.timings.snapshot += t.elapsed();
    let mut day = from - from.rem_euclid(DAY);
    while day < to {
        let q = SnapshotQuery {
            from_ms: day.max(from),
            to_ms: (day + DAY).min(to),
            before_ms: cfg.before_ms + cfg.skew_ms,
            after_ms: cfg.after_ms + cfg.skew_ms,
            baseline_ms: cfg.baseline_ms,
            burst_ms: cfg.burst_ms,
            google_lookback_ms: cfg.google_lookback_ms,
            aws_app_ids: ids.clone(),
            aws_app_names: names.clone(),
            default_app_pattern: default_pattern,
        };
        let t = std::time::Instant::now();
        let mut snap = store.snapshot(&q)?;
        snap.known_users = known_users.clone();
        snap.providers_present = providers_present.clone();
        out.timings.snapshot += t.elapsed();
        let t = std::time::Instant::now();
        let records = correlate(&snap, cfg);
        out.timings.engine += t.elapsed();
        let t = std::time::Instant::now();
        out.sessions += records.len() as u64;
        for r in &records {
            *out.by_verdict.entry(r.verdict).or_default() += 1;
        }
        let mut batch = store.batch()?;
        let c = batch.put_verdicts(&records)?;
        batch.commit()?;
        out.timings.write += t.elapsed();
        out.changes.new += c.new;
        out.changes.changed += c.changed;
        out.changes.unchanged += c.unchanged;
        day += DAY;
        on_day(day.min(to), out.sessions);
    }
    Ok(out)
}
