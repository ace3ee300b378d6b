//! Verdicts into ticketing and chat: Jira, ServiceNow, PagerDuty Events v2, Slack incoming
//! webhooks and signed generic webhooks.
//!
//! The store's `outbox` gets one row per verdict version, in the transaction that stores the
//! verdict. [`dispatch`] reads each configured sink's rows after its cursor, keeps the latest
//! version per session, and for each session:
//!
//! | sink holds | verdict | action |
//! |---|---|---|
//! | nothing | taken by the sink (`verdicts`, `min_severity`) | create the ticket |
//! | nothing | not taken | nothing |
//! | a ticket for an older version | `enforced`, `close_on_enforced` | close (closing comment / resolve) |
//! | a ticket for an older version | otherwise | update (comment / re-trigger) |
//! | a ticket for this version | any | nothing (already sent) |
//!
//! One ticket per session: the dedup key is `ACCOUNT:CONSOLELOGIN_EVENT_ID`. What a sink holds is
//! recorded right after each successful call, and the cursor moves only past sessions that are
//! done, so a sink that is down keeps its rows for the next run, and a process killed between a
//! call and its record resends that one call at most: Jira (label search) and ServiceNow
//! (`correlation_id` query) look for an existing ticket before creating one, PagerDuty
//! deduplicates on `dedup_key`, and webhooks carry `X-Trailproof-Delivery` (dedup key and
//! version) for the receiver to deduplicate. Slack cannot deduplicate: after such a kill one
//! message may come twice.
//!
//! Retries: connection errors, timeouts, 408, 429 and 5xx, with exponential backoff (or the
//! server's `Retry-After`), at most `max_retries` times; then the sink stops for this run and its
//! remaining sessions stay queued. Any other 4xx is a configuration problem: the sink stops at
//! once with the server's answer. Requests are paced per sink with `governor`. Secrets never
//! appear in errors (they are registered with `trailproof_http::redact`).

mod sink;
mod text;

pub use sink::{Action, CallError, Kind, Sink, sign};

use std::collections::HashMap;
use trailproof_model::Millis;
use trailproof_model::config::NotifySink;
use trailproof_model::verdict::{Verdict, VerdictRecord};
use trailproof_store::Store;
use trailproof_store::outbox::Ticket;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("[[notify]] {name}: {why}")]
    Config { name: String, why: String },
    #[error(transparent)]
    Store(#[from] trailproof_store::StoreError),
}

#[derive(Debug, Clone, Default)]
pub struct DispatchOptions {
    /// Decide and describe, send nothing, change nothing.
    pub dry_run: bool,
    /// Now, for a new sink's starting point (UTC ms).
    pub now_ms: Millis,
}

/// What one sink did.
#[derive(Debug, Clone, Default)]
pub struct SinkSummary {
    pub name: String,
    pub created: u64,
    pub updated: u64,
    pub closed: u64,
    /// Sessions whose verdict the sink does not take, or already sent.
    pub skipped: u64,
    /// Sessions left queued for the next run.
    pub pending: u64,
    /// Tickets the service refused for their content (400, 413, 422): recorded, not retried for
    /// this verdict version, listed in `rejections`.
    pub rejected: u64,
    pub rejections: Vec<String>,
    /// Why the sink stopped, when it did.
    pub error: Option<String>,
    /// Dry run: what would be sent, one line each.
    pub planned: Vec<String>,
}

impl SinkSummary {
    pub fn line(&self) -> String {
        let mut s = format!(
            "{}: {} created, {} updated, {} closed, {} skipped",
            self.name, self.created, self.updated, self.closed, self.skipped
        );
        if self.rejected > 0 {
            s.push_str(&format!(", {} rejected by the service", self.rejected));
        }
        if self.pending > 0 {
            s.push_str(&format!(", {} left queued", self.pending));
        }
        if let Some(e) = &self.error {
            s.push_str(&format!(" ({e})"));
        }
        s
    }
}

#[derive(Debug, Clone, Default)]
pub struct DispatchSummary {
    pub sinks: Vec<SinkSummary>,
}

impl DispatchSummary {
    /// Some sink stopped with sessions left queued, or refused a ticket.
    pub fn failed(&self) -> bool {
        self.sinks.iter().any(|s| s.error.is_some() || s.rejected > 0)
    }
}

/// A new sink starts with the verdicts of the last day, not the whole history (unless
/// `backfill`).
pub const NEW_SINK_LOOKBACK_MS: Millis = 24 * 3_600_000;

/// The dedup key of a session: `ACCOUNT:CONSOLELOGIN_EVENT_ID`.
pub fn dedup_key(r: &VerdictRecord) -> String {
    format!("{}:{}", r.account_id.as_deref().unwrap_or("unknown-account"), r.console_login_event_id)
}

/// Checks every sink's configuration (and that its secret can be read) without sending.
pub fn build_all(sinks: &[NotifySink]) -> Result<Vec<Sink>, NotifyError> {
    let mut names = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for cfg in sinks {
        if !names.insert(cfg.name.clone()) {
            return Err(NotifyError::Config { name: cfg.name.clone(), why: "two sinks have this name".into() });
        }
        out.push(Sink::build(cfg)?);
    }
    Ok(out)
}

/// Delivers the queued verdicts to every sink. Per-sink failures are in the summary.
pub async fn dispatch(
    store: &Store,
    sinks: &[NotifySink],
    opts: &DispatchOptions,
) -> Result<DispatchSummary, NotifyError> {
    let built = build_all(sinks)?;
    let mut out = DispatchSummary::default();
    for sink in &built {
        out.sinks.push(dispatch_one(store, sink, opts).await?);
    }
    Ok(out)
}

async fn dispatch_one(store: &Store, sink: &Sink, opts: &DispatchOptions) -> Result<SinkSummary, NotifyError> {
    let name = sink.name().to_string();
    let mut sum = SinkSummary { name: name.clone(), ..Default::default() };
    let cursor = match store.notify_cursor(&name)? {
        Some(c) => c,
        None if sink.backfill() => 0,
        None => store.outbox_before_ms(opts.now_ms - NEW_SINK_LOOKBACK_MS)?,
    };
    let rows = store.outbox_after(cursor, 1_000_000)?;
    let Some(last_id) = rows.last().map(|r| r.id) else {
        return Ok(sum);
    };
    // The latest version per session, in the order of that latest row; and each session's first
    // row, which bounds how far the cursor may move while the session is not done.
    let mut first: HashMap<&str, i64> = HashMap::new();
    let mut latest: HashMap<&str, i64> = HashMap::new();
    for r in &rows {
        first.entry(r.console_login_event_id.as_str()).or_insert(r.id);
        latest.insert(r.console_login_event_id.as_str(), r.id);
    }
    let mut order: Vec<(i64, &str)> = latest.iter().map(|(s, id)| (*id, *s)).collect();
    order.sort();
    let mut stopped_at: Option<usize> = None;
    for (i, (_, session)) in order.iter().enumerate() {
        let Some(rec) = store.verdicts_for(session)?.into_iter().find(|r| r.console_login_event_id == *session) else {
            sum.skipped += 1; // the verdict is gone (database pruned): nothing to say
            continue;
        };
        let key = dedup_key(&rec);
        let held = store.ticket(&name, &key)?;
        let Some(action) = decide(sink, &rec, held.as_ref()) else {
            sum.skipped += 1;
            continue;
        };
        if opts.dry_run {
            sum.planned.push(format!(
                "{name}: would {} {} (verdict {} v{}, severity {:?})",
                action.as_str(),
                key,
                rec.verdict.as_str(),
                rec.version,
                rec.risk.severity
            ));
            match action {
                Action::Create => sum.created += 1,
                Action::Update => sum.updated += 1,
                Action::Close => sum.closed += 1,
            }
            continue;
        }
        match sink.send(action, &rec, &key, held.as_ref().and_then(|t| t.external_id.as_deref())).await {
            Ok(external_id) => {
                // Updating a closed ticket comments on it; only PagerDuty's trigger reopens.
                let state = match (action, held.as_ref().map(|t| t.state.as_str())) {
                    (Action::Close, _) => "closed",
                    (Action::Update, Some("closed")) if sink.kind() != Kind::PagerDuty => "closed",
                    _ => "open",
                };
                store.put_ticket(
                    &name,
                    &Ticket {
                        dedup_key: key,
                        console_login_event_id: rec.console_login_event_id.clone(),
                        external_id: external_id.or_else(|| held.and_then(|t| t.external_id)),
                        state: state.into(),
                        version: rec.version,
                        verdict: rec.verdict.as_str().into(),
                    },
                )?;
                match action {
                    Action::Create => sum.created += 1,
                    Action::Update => sum.updated += 1,
                    Action::Close => sum.closed += 1,
                }
            }
            Err(e) if e.rejects_only_this_ticket() => {
                // One poisoned ticket must not hold the sink's queue: record the refusal for this
                // verdict version (a later version tries again) and go on.
                let msg = trailproof_http::redact(&e.message);
                sum.rejected += 1;
                sum.rejections.push(format!("{name}: {} {key}: {msg}", action.as_str()));
                let (state, external_id) = match &held {
                    Some(t) if t.state != "rejected" => (t.state.clone(), t.external_id.clone()),
                    _ => ("rejected".to_string(), None),
                };
                store.put_ticket(
                    &name,
                    &Ticket {
                        dedup_key: key,
                        console_login_event_id: rec.console_login_event_id.clone(),
                        external_id,
                        state,
                        version: rec.version,
                        verdict: rec.verdict.as_str().into(),
                    },
                )?;
            }
            Err(e) => {
                sum.error = Some(trailproof_http::redact(&e.message));
                stopped_at = Some(i);
                break;
            }
        }
    }
    if opts.dry_run {
        return Ok(sum);
    }
    let new_cursor = match stopped_at {
        None => last_id,
        Some(i) => {
            sum.pending = (order.len() - i) as u64;
            // Not past the first row of any session still to do.
            order[i..].iter().filter_map(|(_, s)| first.get(s)).min().map(|id| id - 1).unwrap_or(cursor)
        }
    };
    store.set_notify_cursor(&name, new_cursor.max(cursor))?;
    Ok(sum)
}

/// What to do for a session, given what the sink holds for it.
pub(crate) fn decide(sink: &Sink, rec: &VerdictRecord, held: Option<&Ticket>) -> Option<Action> {
    match held {
        Some(t) if t.version >= rec.version => None,
        // Never filed (or refused at creation): as if nothing were held.
        None => sink.takes(rec).then_some(Action::Create),
        Some(t) if t.state == "rejected" => sink.takes(rec).then_some(Action::Create),
        Some(t) if t.state == "open" => {
            if rec.verdict == Verdict::Enforced && sink.closes_on_enforced() {
                Some(Action::Close)
            } else {
                Some(Action::Update)
            }
        }
        Some(_) => sink.takes(rec).then_some(Action::Update),
    }
}
