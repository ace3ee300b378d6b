//! Verdicts into ticketing and chat: Jira, ServiceNow, PagerDuty Events v2, Slack incoming
//! webhooks and signed generic webhooks (Standard Webhooks).
//!
//! The store's `outbox` gets one row per verdict version, in the transaction that stores the
//! verdict. [`dispatch`] reads each configured sink's rows after its cursor, keeps the latest
//! version per session, and for each session:
//!
//! | sink holds | verdict | action |
//! |---|---|---|
//! | nothing (or a refused version) | taken by the sink (`verdicts`, `min_severity`) | create the ticket |
//! | nothing | not taken | nothing |
//! | a create whose outcome is unknown | any | look it up (Jira: until the search lag passed), then create / update |
//! | an open ticket, older version | `enforced`, `close_on_enforced` | close (Jira: `close_transition`, else a comment) |
//! | an open PagerDuty alert, older version | the severity rose | trigger again (a new page) |
//! | an open PagerDuty alert, older version | otherwise | a change event (no page) |
//! | an open ticket, older version | otherwise | update (comment, work note, message) |
//! | a closed ticket, older version | taken | update (PagerDuty: a new alert) |
//! | a ticket that is gone | taken | `on_gone = "recreate"`: a new ticket; `"skip"`: nothing |
//! | a ticket for this version | any | nothing (already sent) |
//!
//! One ticket per session: the dedup key is `ACCOUNT:CONSOLELOGIN_EVENT_ID`. What a sink holds is
//! recorded right after each successful call, and the cursor moves only past sessions that are
//! done, so a sink that stops keeps its rows for the next run. Never a second ticket: at Jira and
//! ServiceNow a create is recorded as `creating` before it is sent, and the ticket is looked up
//! (Jira label search, tolerating its lag; ServiceNow `correlation_id` query) before any create,
//! and before a create is sent again after a timeout, a 5xx or a 2xx without the new id.
//! PagerDuty deduplicates on `dedup_key`; webhook receivers on `webhook-id`. Slack cannot
//! deduplicate: a message whose answer was lost is sent again.
//!
//! Failures ([`Failure`], docs/ticket-sinks.md): a setup error (authentication, permission,
//! URL, project, issue type, channel, routing key) stops the sink with its queue kept and says
//! what to fix; a refusal that is not known to be one is held until another ticket tells: if the
//! next ticket is refused the same way, it is a setup error (nothing is dropped); if another
//! ticket goes through, the first one's content was refused, and that version is recorded as
//! rejected. A ticket gone at the service is recorded and recreated or skipped (`on_gone`).
//! Transient failures are retried with the shared policy (`Retry-After` waited in full up to
//! `max_wait_seconds`); past that the sink stops for this run. Requests are paced without
//! bursts. Secrets never appear in errors (they are registered with `trailproof_http::redact`).

mod call;
mod classify;
pub mod elastic;
pub mod kibana;
mod sign;
mod sink;
mod text;

pub use classify::Failure;
pub use sign::{sign, standard_signature, verify_standard, webhook_key};
pub use sink::{Action, Kind, OnGone, PAGERDUTY_MAX_PER_MINUTE, SLACK_MAX_PER_MINUTE, Sink};

use sink::Done;
use std::collections::HashMap;
use trailproof_model::Millis;
use trailproof_model::config::NotifySink;
use trailproof_model::verdict::{Severity, Verdict, VerdictRecord};
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

/// Why a sink stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The same failure for every ticket: fix the setup; the queue waits.
    Setup,
    /// Retries used up, a wait beyond `max_wait_seconds`, a create whose outcome stays unknown.
    Transient,
}

/// What one sink did.
#[derive(Debug, Clone, Default)]
pub struct SinkSummary {
    pub name: String,
    pub created: u64,
    pub updated: u64,
    pub closed: u64,
    /// Closes that could only comment (Jira without a usable `close_transition`, Slack): the
    /// ticket stays open. Listed in `notes`.
    pub close_comments: u64,
    /// PagerDuty change events sent instead of a new page.
    pub change_events: u64,
    /// Tickets found gone at the service (deleted or hidden); recreated or skipped by `on_gone`.
    pub gone: u64,
    /// Sessions whose verdict the sink does not take, or already sent.
    pub skipped: u64,
    /// Sessions left queued for the next run.
    pub pending: u64,
    /// Tickets the service refused for their content: recorded, not retried for this verdict
    /// version, listed in `rejections`.
    pub rejected: u64,
    pub rejections: Vec<String>,
    /// Refused tickets kept queued because no other ticket told yet whether the refusal is a
    /// setup error or this ticket's content.
    pub held: Vec<String>,
    /// Why the sink stopped, when it did, and what to fix.
    pub error: Option<String>,
    pub stop: Option<Stop>,
    /// Tickets gone, closes that only commented, changes not sent: one line each.
    pub notes: Vec<String>,
    /// Dry run: what would be sent, one line each.
    pub planned: Vec<String>,
}

impl SinkSummary {
    pub fn line(&self) -> String {
        let mut s = format!(
            "{}: {} created, {} updated, {} closed, {} skipped",
            self.name, self.created, self.updated, self.closed, self.skipped
        );
        if self.close_comments > 0 {
            s.push_str(&format!(", {} closing comments (tickets left open)", self.close_comments));
        }
        if self.change_events > 0 {
            s.push_str(&format!(", {} change events", self.change_events));
        }
        if self.gone > 0 {
            s.push_str(&format!(", {} gone at the service", self.gone));
        }
        if self.rejected > 0 {
            s.push_str(&format!(", {} rejected by the service", self.rejected));
        }
        if !self.held.is_empty() {
            s.push_str(&format!(", {} refused and kept queued", self.held.len()));
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
    /// Some sink stopped with sessions left queued, refused a ticket, or holds one.
    pub fn failed(&self) -> bool {
        self.sinks.iter().any(|s| s.error.is_some() || s.rejected > 0 || !s.held.is_empty())
    }
}

/// A new sink starts with the verdicts of the last day, not the whole history (unless
/// `backfill`).
pub const NEW_SINK_LOOKBACK_MS: Millis = 24 * 3_600_000;

/// The dedup key of a session: `ACCOUNT:CONSOLELOGIN_EVENT_ID`.
pub fn dedup_key(r: &VerdictRecord) -> String {
    format!("{}:{}", r.account_id.as_deref().unwrap_or("unknown-account"), r.console_login_event_id)
}

/// Checks every sink's configuration (and that its secret can be read) without sending. The
/// ticket sinks are returned; Elasticsearch sinks ([`elastic`]) are checked and left out.
pub fn build_all(sinks: &[NotifySink]) -> Result<Vec<Sink>, NotifyError> {
    let mut names = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for cfg in sinks {
        if !names.insert(cfg.name.clone()) {
            return Err(NotifyError::Config { name: cfg.name.clone(), why: "two sinks have this name".into() });
        }
        if elastic::is_elastic(cfg) {
            elastic::ElasticSink::build(cfg)?;
        } else {
            out.push(Sink::build(cfg)?);
        }
    }
    Ok(out)
}

/// Delivers the queued verdicts to every sink, in the configuration's order. Per-sink failures
/// are in the summary.
pub async fn dispatch(
    store: &Store,
    sinks: &[NotifySink],
    opts: &DispatchOptions,
) -> Result<DispatchSummary, NotifyError> {
    let mut built = build_all(sinks)?.into_iter();
    let mut out = DispatchSummary::default();
    for cfg in sinks {
        let summary = if elastic::is_elastic(cfg) {
            elastic::dispatch_one(store, &elastic::ElasticSink::build(cfg)?, opts).await?
        } else {
            let Some(sink) = built.next() else { break };
            dispatch_one(store, &sink, opts).await?
        };
        out.sinks.push(summary);
    }
    Ok(out)
}

/// A refused ticket waiting for another ticket to tell what the refusal means.
struct Suspect {
    session: String,
    key: String,
    rec: VerdictRecord,
    held: Option<Ticket>,
    action: Action,
    message: String,
    signature: String,
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
    let mut suspect: Option<Suspect> = None;
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
                "{name}: would {} {} (verdict {} v{}, severity {})",
                action.as_str(),
                key,
                rec.verdict.as_str(),
                rec.version,
                rec.risk.severity.as_str()
            ));
            match action {
                Action::Create => sum.created += 1,
                Action::Update => sum.updated += 1,
                Action::Close => sum.closed += 1,
                Action::Note => sum.change_events += 1,
            }
            continue;
        }
        match execute(store, sink, action, &rec, &key, held.as_ref(), &mut sum).await? {
            Ok(()) => {
                // Another ticket of the same kind went through: a held refusal was about its own
                // content.
                if let Some(s) = suspect.take_if(|s| s.action == action) {
                    reject(store, &name, s, &mut sum)?;
                }
            }
            Err(Failure::Content { message, signature }) => {
                let this = Suspect {
                    session: session.to_string(),
                    key,
                    rec,
                    held,
                    action,
                    message: trailproof_http::redact(&message),
                    signature,
                };
                match suspect.take() {
                    Some(s) if s.signature == this.signature => {
                        // Two tickets refused the same way: the setup, not their content.
                        sum.error = Some(format!(
                            "setup problem, the same for every ticket: {} and {} were both refused ({}); \
                             check the sink's settings and the account at the service; nothing was dropped, \
                             the queue waits for the next run",
                            s.key, this.key, this.message
                        ));
                        sum.stop = Some(Stop::Setup);
                        suspect = Some(s);
                        stopped_at = Some(i);
                        break;
                    }
                    Some(s) => {
                        reject(store, &name, s, &mut sum)?;
                        suspect = Some(this);
                    }
                    None => suspect = Some(this),
                }
            }
            Err(f) => {
                sum.stop = Some(if matches!(f, Failure::Setup(_)) { Stop::Setup } else { Stop::Transient });
                sum.error = Some(trailproof_http::redact(f.message()));
                stopped_at = Some(i);
                break;
            }
        }
    }
    if opts.dry_run {
        return Ok(sum);
    }
    // Not done: the sessions from where the sink stopped, and a refusal still held.
    let mut undone: Vec<&str> = stopped_at.map(|i| order[i..].iter().map(|(_, s)| *s).collect()).unwrap_or_default();
    if let Some(s) = &suspect {
        if sum.stop.is_none() {
            sum.held.push(format!(
                "{name}: {} {}: {}; kept queued: a later ticket will tell whether this is a setup problem or this ticket's content",
                s.action.as_str(),
                s.key,
                s.message
            ));
        }
        if !undone.contains(&s.session.as_str()) {
            undone.push(s.session.as_str());
        }
    }
    sum.pending = undone.len() as u64;
    let new_cursor = undone.iter().filter_map(|s| first.get(s)).min().map(|id| id - 1).unwrap_or(last_id);
    store.set_notify_cursor(&name, new_cursor.max(cursor))?;
    Ok(sum)
}

/// Records a held refusal as this version's content refused.
fn reject(store: &Store, name: &str, s: Suspect, sum: &mut SinkSummary) -> Result<(), NotifyError> {
    sum.rejected += 1;
    sum.rejections.push(format!("{name}: {} {}: {}", s.action.as_str(), s.key, s.message));
    // A refused update leaves the ticket as it was (the next version tries again); a refused
    // create leaves nothing.
    let (state, external_id, severity) = match &s.held {
        Some(t) if matches!(t.state.as_str(), "open" | "closed") => {
            (t.state.clone(), t.external_id.clone(), t.severity.clone())
        }
        _ => ("rejected".to_string(), None, None),
    };
    store.put_ticket(
        name,
        &Ticket {
            dedup_key: s.key,
            console_login_event_id: s.rec.console_login_event_id.clone(),
            external_id,
            state,
            version: s.rec.version,
            verdict: s.rec.verdict.as_str().into(),
            severity,
            note: Some(s.message),
            updated_ms: 0,
        },
    )?;
    Ok(())
}

fn ticket(rec: &VerdictRecord, key: &str, state: &str, external_id: Option<String>) -> Ticket {
    Ticket {
        dedup_key: key.to_string(),
        console_login_event_id: rec.console_login_event_id.clone(),
        external_id,
        state: state.into(),
        version: rec.version,
        verdict: rec.verdict.as_str().into(),
        severity: Some(rec.risk.severity.as_str().into()),
        note: None,
        updated_ms: 0,
    }
}

/// Sends one session's action and records what the sink now holds. The inner error is the
/// sink's failure for this session; the outer one, the store's.
async fn execute(
    store: &Store,
    sink: &Sink,
    action: Action,
    rec: &VerdictRecord,
    key: &str,
    held: Option<&Ticket>,
    sum: &mut SinkSummary,
) -> Result<Result<(), Failure>, NotifyError> {
    let name = sink.name();
    let creating = held.filter(|t| t.state == "creating");
    if action == Action::Create {
        let exclude =
            held.filter(|t| matches!(t.state.as_str(), "gone" | "creating")).and_then(|t| t.external_id.clone());
        let prior = Prior { exclude, since_ms: creating.map(|t| t.updated_ms), before: held };
        return create(store, sink, rec, key, prior, sum).await;
    }
    // The ticket's id: as recorded, or, after a create whose outcome was unknown, looked up.
    let id: Option<String> = match creating {
        Some(t) => match sink.lookup(key, t.external_id.as_deref(), Some(t.updated_ms)).await {
            Ok(Some(id)) => Some(id),
            Ok(None) => {
                // The create never made a ticket, and the verdict no longer calls for one.
                store.delete_ticket(name, key)?;
                sum.skipped += 1;
                return Ok(Ok(()));
            }
            Err(f) => return Ok(Err(f)),
        },
        None => held.and_then(|t| t.external_id.clone()),
    };
    let result = match action {
        Action::Update => sink.update(rec, key, id.as_deref()).await,
        Action::Close => sink.close(rec, key, id.as_deref()).await,
        Action::Note => sink.note(rec, key).await,
        Action::Create => unreachable!("handled above"),
    };
    let was = creating.map(|_| "open").or(held.map(|t| t.state.as_str())).unwrap_or("open");
    match result {
        Ok(done) => {
            let mut t = ticket(rec, key, "open", id.clone());
            match done {
                Done::Updated => {
                    sum.updated += 1;
                    // Commenting on a closed ticket leaves it closed; PagerDuty's trigger
                    // opens a new alert.
                    if was == "closed" && sink.kind() != Kind::PagerDuty {
                        t.state = "closed".into();
                    }
                }
                Done::Closed => {
                    sum.closed += 1;
                    t.state = "closed".into();
                }
                Done::CloseCommented(why) => {
                    sum.close_comments += 1;
                    sum.notes.push(format!("{name}: {key}: {why}"));
                    t.state = was.into();
                }
                Done::Noted | Done::NotSent(_) => {
                    if let Done::NotSent(why) = &done {
                        sum.skipped += 1;
                        sum.notes.push(format!("{name}: {key}: {why}"));
                    } else {
                        sum.change_events += 1;
                    }
                    // The alert's severity stays the one it was triggered at.
                    t.state = was.into();
                    t.severity = held.and_then(|h| h.severity.clone());
                }
                Done::Created { .. } => {}
            }
            store.put_ticket(name, &t)?;
            Ok(Ok(()))
        }
        Err(Failure::Gone(why)) => {
            let why = trailproof_http::redact(&why);
            sum.gone += 1;
            let recreate = sink.on_gone() == OnGone::Recreate && action != Action::Close && sink.takes(rec);
            sum.notes.push(format!(
                "{name}: {key}: {why}; {}",
                if recreate { "a new ticket is opened (on_gone = \"recreate\")" } else { "recorded, left alone" }
            ));
            // Recorded as gone, with the id that is gone (a search must not take it for the new
            // one). Before a recreate, at the version already sent, so a failed create is tried
            // again next run.
            let mut t = ticket(rec, key, "gone", id.clone());
            t.note = Some(why);
            if recreate {
                t.version = held.map(|h| h.version).unwrap_or(0);
            }
            store.put_ticket(name, &t)?;
            if recreate {
                return create(store, sink, rec, key, Prior { exclude: id, since_ms: None, before: Some(&t) }, sum)
                    .await;
            }
            Ok(Ok(()))
        }
        Err(f) => Ok(Err(f)),
    }
}

/// What is known before a create: a ticket that is gone (not to be taken for the new one), when
/// an earlier create of unknown outcome was sent, and the row as it was.
struct Prior<'a> {
    exclude: Option<String>,
    since_ms: Option<Millis>,
    before: Option<&'a Ticket>,
}

/// Creates the session's ticket (never twice) and records it.
async fn create(
    store: &Store,
    sink: &Sink,
    rec: &VerdictRecord,
    key: &str,
    prior: Prior<'_>,
    sum: &mut SinkSummary,
) -> Result<Result<(), Failure>, NotifyError> {
    let Prior { exclude, since_ms, before } = prior;
    let name = sink.name();
    let mark = || {
        if !sink.can_look_up() {
            return Ok(());
        }
        let mut t = ticket(rec, key, "creating", exclude.clone());
        t.severity = None;
        store.put_ticket(name, &t).map_err(|e| e.to_string())
    };
    let (result, maybe_sent) = sink.create(rec, key, exclude.as_deref(), since_ms, &mark).await;
    match result {
        Ok(Done::Created { id, found }) => {
            if found {
                tracing::info!(sink = %name, "{key}: the ticket was there already ({id:?}); recorded, not created again");
            }
            store.put_ticket(name, &ticket(rec, key, "open", id))?;
            sum.created += 1;
            Ok(Ok(()))
        }
        Ok(_) => Ok(Ok(())),
        Err(f) => {
            // No create reached the service: the row is what it was before the mark. An earlier
            // `creating` mark goes too: the lookup before this create waited out its lag and
            // found nothing, so that create made no ticket.
            if sink.can_look_up() && !maybe_sent {
                match before.filter(|t| t.state != "creating") {
                    Some(t) => store.put_ticket(name, t)?,
                    None => store.delete_ticket(name, key)?,
                }
            }
            Ok(Err(f))
        }
    }
}

/// What to do for a session, given what the sink holds for it.
pub(crate) fn decide(sink: &Sink, rec: &VerdictRecord, held: Option<&Ticket>) -> Option<Action> {
    let closes = rec.verdict == Verdict::Enforced && sink.closes_on_enforced();
    let Some(t) = held else {
        return sink.takes(rec).then_some(Action::Create);
    };
    match t.state.as_str() {
        // A create was sent and its outcome is not known: look, then create or follow up.
        "creating" if sink.takes(rec) => Some(Action::Create),
        "creating" => Some(if closes { Action::Close } else { Action::Update }),
        _ if t.version >= rec.version => None,
        // Refused at creation: as if nothing were held.
        "rejected" => sink.takes(rec).then_some(Action::Create),
        "gone" => (sink.on_gone() == OnGone::Recreate && sink.takes(rec)).then_some(Action::Create),
        "open" if closes => Some(Action::Close),
        "open" if sink.kind() == Kind::PagerDuty => {
            // Page again only when the severity rose above the one the alert was triggered at.
            let was = t.severity.as_deref().and_then(Severity::parse);
            Some(if was.is_some_and(|w| rec.risk.severity > w) { Action::Update } else { Action::Note })
        }
        "open" => Some(Action::Update),
        _ => sink.takes(rec).then_some(Action::Update),
    }
}
