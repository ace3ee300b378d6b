//! Pipeline stages over the store. `judge` runs the (pure) engine on the stored data a slice of
//! sessions at a time and stores the verdicts with versions, so memory follows a slice's sessions
//! rather than the day or the store, and a re-run on unchanged data writes nothing.
//!
//! A slice is judged in two reads: the AWS side (its ConsoleLogins, the calls that issued them,
//! the portal sign-ins before them), then the IdP side the engine says the IdP sign-ins behind
//! those logins may lie in (`trailproof_correlate::idp_plan`: the span around the slice, and
//! before it, for Identity Center sessions anchored on earlier portal sign-ins, their users'). Only the
//! slice's own logins get verdicts; the neighbours loaded around it are judged in their slice.
//!
//! Records that change after they were first stored (an Entra sign-in completed with its MFA
//! steps; see `trailproof_store::Batch::insert_idp_record`) queue the time they span in the
//! store's `rejudge_queue`. `judge` also judges the sessions that may rest on each queued record,
//! whatever its own window, and clears the queue: a verdict that rested on the first version gets
//! a new version (and the outbox a row for it) even when it is older than `run.rejudge_hours`.

pub mod job;
pub mod memory;

use std::collections::BTreeMap;
use std::sync::Arc;
use trailproof_correlate::{Compiled, correlate, idp_plan, user_lookups};
use trailproof_model::Millis;
use trailproof_model::verdict::Verdict;
use trailproof_store::{RESTART_BYTES, SnapshotQuery, SsoBaseline, Store, StoreError, VerdictChanges, WalCopier};

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A retention setting that cannot be honoured (see [`prune`]).
    #[error("{0}")]
    Retention(String),
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
    /// Slices judged, and the most sessions one of them held.
    pub slices: u64,
    pub largest_slice: u64,
    /// Queued records that changed after they were stored (see the crate docs), and the sessions
    /// judged for them outside `range`.
    pub changed_records: u64,
    pub rejudged: u64,
    /// Sessions before this are sealed by retention and were not judged (see [`prune`]).
    pub sealed_before: Option<Millis>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    pub snapshot: std::time::Duration,
    pub engine: std::time::Duration,
    pub write: std::time::Duration,
}

/// How `judge` works through the sessions.
#[derive(Debug, Clone)]
pub struct JudgeOptions {
    /// At most about how many ConsoleLogins a slice holds (logins of one millisecond stay
    /// together). A slice's logins, the events around them and their verdicts are held at once.
    pub slice_sessions: u64,
    /// About how many bytes a slice's snapshot may hold ([`Snapshot::heap_bytes`]); 0: no bound.
    /// A larger organisation reads more around each login (more principals per slice, more
    /// sign-ins in the windows around it), so after each slice the next one is sized to this
    /// from the bytes per login the last one held, between an eighth of `slice_sessions` and
    /// `slice_sessions`: the memory a slice takes follows this, not the organisation.
    ///
    /// [`Snapshot::heap_bytes`]: trailproof_model::snapshot::Snapshot::heap_bytes
    pub slice_bytes: u64,
}

impl Default for JudgeOptions {
    fn default() -> Self {
        JudgeOptions { slice_sessions: 4_000, slice_bytes: 20_000_000 }
    }
}

impl JudgeOptions {
    /// How many ConsoleLogins the slice after one of `sessions` logins whose snapshot held
    /// `bytes` may hold (see [`JudgeOptions::slice_bytes`]).
    pub fn next_slice_sessions(&self, bytes: u64, sessions: u64) -> u64 {
        if self.slice_bytes == 0 || bytes == 0 || sessions == 0 {
            return self.slice_sessions;
        }
        let fits = u128::from(self.slice_bytes) * u128::from(sessions) / u128::from(bytes);
        let fits = u64::try_from(fits).unwrap_or(u64::MAX);
        fits.clamp((self.slice_sessions / 8).max(1), self.slice_sessions.max(1))
    }
}

/// [`judge_with`] with the default options.
pub fn judge(
    store: &mut Store,
    cfg: &Compiled,
    since: Option<Millis>,
    now: Millis,
    on_slice: &mut dyn FnMut(Millis, u64),
) -> Result<JudgeSummary, PipelineError> {
    judge_with(store, cfg, since, now, &JudgeOptions::default(), on_slice)
}

/// Judges the stored ConsoleLogins with `since <= time <= now` (all stored ones when `since` is
/// `None`), then those that may rest on a record queued as changed (the crate docs), and clears
/// the queue. `on_slice` is called after each slice with the time judged up to and the sessions
/// judged so far.
pub fn judge_with(
    store: &mut Store,
    cfg: &Compiled,
    since: Option<Millis>,
    now: Millis,
    opts: &JudgeOptions,
    on_slice: &mut dyn FnMut(Millis, u64),
) -> Result<JudgeSummary, PipelineError> {
    let mut out = JudgeSummary::default();
    let queue = store.rejudge_queue()?;
    out.changed_records = queue.len() as u64;
    let span = store.console_login_span()?;
    // Sessions before the retention seal are never judged again (`trailproof_store::retention`):
    // their data may be gone, and their verdicts stay as judged.
    out.sealed_before = store.sealed_before()?;
    let span =
        span.map(|(first, last)| (out.sealed_before.map_or(first, |s| first.max(s)), last)).filter(|(f, l)| f <= l);
    let mut ranges: Vec<(Millis, Millis)> = Vec::new();
    if let Some((first, last)) = span {
        let from = since.unwrap_or(first).max(first);
        let to = (last + 1).min(now.saturating_add(1));
        if from < to {
            out.range = Some((from, to));
            ranges.push((from, to));
        } else {
            out.range = Some((from, from));
        }
        let main = (from < to).then_some((from, to));
        ranges.extend(rejudge_ranges(&queue, cfg, (first, to), main));
    }
    if !ranges.is_empty() {
        // The verdicts' log is copied into the database on a thread of its own (`WalCopier`), so
        // storing a slice's verdicts does not stop for SQLite's checkpoints.
        let copier = store.copy_wal_in_background()?;
        let mut judged = Ok(());
        for (i, (a, b)) in ranges.iter().enumerate() {
            let before = out.sessions;
            judged = judge_slices(store, cfg, *a, *b, opts, copier.as_ref(), &mut out, on_slice);
            if i > 0 || out.range != Some((*a, *b)) {
                out.rejudged += out.sessions - before;
            }
            if judged.is_err() {
                break;
            }
        }
        if let Some(c) = copier {
            c.stop(store)?;
        }
        judged?;
    }
    if !queue.is_empty() {
        let ids: Vec<i64> = queue.iter().map(|q| q.id).collect();
        let mut batch = store.batch()?;
        batch.clear_rejudge(&ids)?;
        batch.commit()?;
    }
    Ok(out)
}

/// The ConsoleLogin times `[a, b)` that may rest on the queued records, within `bounds` and
/// outside `main` (judged already), merged. A login rests on an IdP SSO within its window
/// (`before`, `after`, `skew`), or up to an Identity Center portal session later; on a session
/// start, a factor or a Google login, up to the Google look-back later (the longest any rule
/// reaches back). Baseline signals (new IP, new ASN, ...) of later sessions are not re-judged
/// here: the regular window (`run.rejudge_hours`) refreshes them.
fn rejudge_ranges(
    queue: &[trailproof_store::RejudgeRange],
    cfg: &Compiled,
    bounds: (Millis, Millis),
    main: Option<(Millis, Millis)>,
) -> Vec<(Millis, Millis)> {
    let mut want: Vec<(Millis, Millis)> = queue
        .iter()
        .map(|q| {
            let ahead = cfg.before_ms + cfg.skew_ms + cfg.identity_center_session_ms;
            let ahead = if q.sso_only { ahead } else { ahead.max(cfg.google_lookback_ms + cfg.skew_ms) };
            let a = q.from_ms.saturating_sub(cfg.after_ms + cfg.skew_ms).max(bounds.0);
            let b = q.to_ms.saturating_add(ahead).saturating_add(1).min(bounds.1);
            (a, b)
        })
        .filter(|(a, b)| a < b)
        .collect();
    want.sort_unstable();
    let mut merged: Vec<(Millis, Millis)> = Vec::new();
    for (a, b) in want {
        match merged.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => merged.push((a, b)),
        }
    }
    let Some((m0, m1)) = main else { return merged };
    let mut out = Vec::new();
    for (a, b) in merged {
        if a < m0 {
            out.push((a, b.min(m0)));
        }
        if b > m1 {
            out.push((a.max(m1), b));
        }
    }
    out
}

/// `judge_with`'s loop over the slices of `[from, to)`.
#[allow(clippy::too_many_arguments)]
fn judge_slices(
    store: &mut Store,
    cfg: &Compiled,
    from: Millis,
    to: Millis,
    opts: &JudgeOptions,
    copier: Option<&WalCopier>,
    out: &mut JudgeSummary,
    on_slice: &mut dyn FnMut(Millis, u64),
) -> Result<(), PipelineError> {
    let aws_apps = cfg.aws_app_rule();
    let t = std::time::Instant::now();
    let providers_present = store.providers_present()?;
    let app_names = Arc::new(store.app_names_by_provider()?);
    let identity_center_scopes = Arc::new(store.identity_center_scopes()?);
    out.timings.snapshot += t.elapsed();
    let mut baseline = SsoBaseline::default();
    let mut start = from;
    let mut slice_sessions = opts.slice_sessions;
    while start < to {
        let t = std::time::Instant::now();
        let end = store.console_login_slice_end(start, to, slice_sessions)?;
        let q = SnapshotQuery {
            from_ms: start,
            to_ms: end,
            before_ms: cfg.before_ms + cfg.skew_ms,
            after_ms: cfg.after_ms + cfg.skew_ms,
            baseline_ms: cfg.baseline_ms,
            burst_ms: cfg.burst_ms,
            google_lookback_ms: cfg.google_lookback_ms,
            portal_lookback_ms: cfg.identity_center_session_ms + cfg.skew_ms,
            aws_apps: aws_apps.clone(),
        };
        let mut snap = store.snapshot_aws(&q)?;
        snap.providers_present = providers_present.clone();
        snap.app_names = Arc::clone(&app_names);
        snap.identity_center_scopes = Arc::clone(&identity_center_scopes);
        // The known users the slice's sessions name, not the organisation's.
        snap.known_users = Arc::new(store.known_users_for(&user_lookups(&snap, cfg))?);
        if let Some(plan) = idp_plan(&snap, cfg) {
            store.add_idp(&mut snap, &q, &plan, &mut baseline)?;
        }
        out.timings.snapshot += t.elapsed();
        let t = std::time::Instant::now();
        let records = correlate(&snap, cfg);
        let bytes = u64::try_from(snap.heap_bytes()).unwrap_or(u64::MAX);
        // The ConsoleLogins the slice was cut by (`console_login_slice_end`), failures too.
        let logins = snap.console_logins.iter().filter(|c| start <= c.time_ms && c.time_ms < end).count();
        drop(snap);
        slice_sessions = opts.next_slice_sessions(bytes, logins as u64);
        out.timings.engine += t.elapsed();
        let t = std::time::Instant::now();
        out.sessions += records.len() as u64;
        out.slices += 1;
        out.largest_slice = out.largest_slice.max(records.len() as u64);
        for r in &records {
            *out.by_verdict.entry(r.verdict).or_default() += 1;
        }
        let mut batch = store.batch()?;
        let c = batch.put_verdicts(&records)?;
        batch.commit()?;
        if let Some(copier) = copier {
            copier.restart_if_long(store, RESTART_BYTES)?;
        }
        out.timings.write += t.elapsed();
        out.changes.new += c.new;
        out.changes.changed += c.changed;
        out.changes.unchanged += c.unchanged;
        start = end;
        on_slice(end, out.sessions);
    }
    Ok(())
}

/// How far before a session its judgement reads records, Google sign-ins aside (docs/judging.md):
/// the STS calls that issued it (36 hours), its IdP window reaching back an Identity Center
/// portal session, and the SSO baseline's day anchor; plus an hour.
pub fn retention_reach(cfg: &Compiled) -> (Millis, Millis) {
    const HOUR: Millis = 3_600_000;
    let window = cfg.before_ms + 2 * cfg.skew_ms;
    let reach = [
        trailproof_store::snapshot::RELATED_LOOKBACK_MS + cfg.skew_ms,
        cfg.identity_center_session_ms + window + cfg.skew_ms,
        trailproof_model::DAY_MS + window,
    ]
    .into_iter()
    .max()
    .unwrap_or(0)
        + HOUR;
    // Google: the sign-in before a SAML login, up to the look-back before the window's start.
    let google = reach.max(cfg.identity_center_session_ms + window + cfg.skew_ms + cfg.google_lookback_ms + HOUR);
    (reach, google)
}

/// Prunes `store` to `keep_days` before `now` (`trailproof prune`, the last stage of `run`):
/// sessions before `now - keep_days` are sealed, and the records no session after that can
/// read are removed (see `trailproof_store::retention`). With `verdict_keep_days`, the verdicts
/// of sessions before `now - verdict_keep_days` go too (never fewer days than `keep_days`: a
/// verdict is removed only once its session is sealed, so it is never judged again).
pub fn prune(
    store: &mut Store,
    cfg: &Compiled,
    keep_days: u32,
    verdict_keep_days: Option<u32>,
    now: Millis,
    dry_run: bool,
) -> Result<trailproof_store::PruneReport, PipelineError> {
    trailproof_model::config::RetentionConfig::check_verdict_days(keep_days, verdict_keep_days)
        .map_err(PipelineError::Retention)?;
    let days = |d: u32| now.saturating_sub(Millis::from(d) * trailproof_model::DAY_MS);
    let (reach_ms, google_reach_ms) = retention_reach(cfg);
    let plan = trailproof_store::PrunePlan {
        keep_from_ms: days(keep_days),
        reach_ms,
        google_reach_ms,
        aws_apps: cfg.aws_app_rule(),
        dry_run,
        vacuum_step_pages: 2048,
        verdicts_before_ms: verdict_keep_days.map(days),
    };
    Ok(store.prune(&plan)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailproof_store::RejudgeRange;

    const MIN: Millis = 60_000;
    const HOUR: Millis = 60 * MIN;

    fn q(from_ms: Millis, to_ms: Millis, sso_only: bool) -> RejudgeRange {
        RejudgeRange { id: 1, provider: "entra".into(), from_ms, to_ms, sso_only, reason: String::new(), queued_ms: 0 }
    }

    #[test]
    fn slices_are_sized_to_the_byte_budget_within_bounds() {
        let o = JudgeOptions { slice_sessions: 4_000, slice_bytes: 24_000_000 };
        // 4,000 logins held 30 MB: the next slice holds 3,200.
        assert_eq!(o.next_slice_sessions(30_000_000, 4_000), 3_200);
        // 1,000 logins held 3 MB: never more than `slice_sessions`.
        assert_eq!(o.next_slice_sessions(3_000_000, 1_000), 4_000);
        // Far over the budget: never fewer than an eighth.
        assert_eq!(o.next_slice_sessions(u64::MAX, 4_000), 500);
        assert_eq!(JudgeOptions { slice_sessions: 1, ..o }.next_slice_sessions(u64::MAX, 1), 1);
        // No budget, or nothing measured: `slice_sessions`.
        assert_eq!(JudgeOptions { slice_bytes: 0, ..o }.next_slice_sessions(30_000_000, 4_000), 4_000);
        assert_eq!(o.next_slice_sessions(0, 0), 4_000);
    }

    #[test]
    fn queued_records_reach_the_logins_that_may_rest_on_them() {
        let cfg = Compiled::new(&trailproof_model::config::Config::default()).unwrap();
        let t = 100 * HOUR;
        let bounds = (0, 1000 * HOUR);
        // An SSO: logins from `after + skew` before it to an Identity Center session after it.
        let r = rejudge_ranges(&[q(t, t, true)], &cfg, bounds, None);
        assert_eq!(r, vec![(t - 4 * MIN, t + 12 * MIN + 12 * HOUR + 1)]);
        // A session start or a factor: up to the Google look-back (14 days) after it.
        let r = rejudge_ranges(&[q(t, t, false)], &cfg, bounds, None);
        assert_eq!(r, vec![(t - 4 * MIN, t + 14 * 24 * HOUR + 2 * MIN + 1)]);
        // Overlapping ranges merge; what the regular window judged is left out.
        let r = rejudge_ranges(
            &[q(t, t, true), q(t + HOUR, t + HOUR, true)],
            &cfg,
            bounds,
            Some((t + 2 * HOUR, t + 3 * HOUR)),
        );
        assert_eq!(r, vec![(t - 4 * MIN, t + 2 * HOUR), (t + 3 * HOUR, t + HOUR + 12 * MIN + 12 * HOUR + 1)]);
        // Nothing outside the stored logins.
        assert!(rejudge_ranges(&[q(t, t, true)], &cfg, (0, t - HOUR), None).is_empty());
    }
}
