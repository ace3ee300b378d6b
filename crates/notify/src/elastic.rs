//! The Elasticsearch sink (`[[notify]] kind = "elasticsearch"`): every verdict version as an ECS
//! document (built by `trailproof_report::ecs`, the same document `report --format ecs` prints)
//! in a data stream, through `_bulk` (the one client, `trailproof-elastic`).
//!
//! Delivery is at-least-once from the store's outbox, as for the ticket sinks, and duplicates
//! nothing: each version is a document whose `_id` is derived from the session and the version
//! (`ecs::document_id`), written with `create`. Data streams accept only `create`
//! (elastic.co/docs/manage-data/data-store/data-streams/use-data-stream), and a `create` of an
//! `_id` that exists answers 409 `version_conflict_engine_exception`, which counts as already
//! stored. So a retry, a re-run or a process killed between the request and the cursor's commit
//! writes each version once. The latest version of a session is the one with the highest
//! `trailproof.version` (docs/elastic.md gives the query).
//!
//! Per-item results (elastic.co/docs/api/doc/elasticsearch/operation/operation-bulk: HTTP 200
//! with `errors: true` and one result per action): created; already there; 429 or 5xx (sent
//! again, only those items, with the sink's backoff, up to `max_retries` rounds, then the sink
//! stops for this run with them queued); any other refusal (a mapping conflict, a document the
//! cluster will not take) is recorded as `rejected` for that version with the cluster's reason
//! and reported, the rest goes on. When every item of a batch is refused the same way, or a
//! refusal is about permissions (401/403, `security_exception`) or a missing index, it is the
//! setup, not the documents: the sink stops with its queue kept. A whole request refused with
//! 429 or 5xx is retried by the HTTP layer (`Retry-After` waited in full up to
//! `max_wait_seconds`), then the sink stops for this run with its queue kept.
//!
//! The optional `event.kind: alert` copy (`alert_min_severity`) goes to `alert_data_stream` with
//! the same `_id`, so Elastic's prebuilt "External Alerts" rule raises it. Writing into
//! `.alerts-security.alerts-*` (or any hidden index) is refused at configuration: Elastic
//! advises against changing the alert indices (elastic.co/guide/en/security/current/alert-schema.html).

use std::time::Duration;

use serde_json::Value;
use trailproof_elastic::{BulkAction, BulkOp, BulkOutcome, Client, ConnectConfig, Credentials, ElasticError};
use trailproof_http::{RetryPolicy, Secret};
use trailproof_model::config::NotifySink;
use trailproof_model::verdict::{Severity, Verdict, VerdictRecord};
use trailproof_report::ecs;
use trailproof_store::Store;
use trailproof_store::outbox::{OutboxRow, Ticket};

use crate::{DispatchOptions, NEW_SINK_LOOKBACK_MS, NotifyError, SinkSummary, Stop};

pub const KIND: &str = "elasticsearch";

/// Whether a `[[notify]]` entry is an Elasticsearch sink.
pub fn is_elastic(cfg: &NotifySink) -> bool {
    cfg.kind.trim().eq_ignore_ascii_case(KIND)
}

/// A configured Elasticsearch sink.
pub struct ElasticSink {
    pub name: String,
    pub data_stream: String,
    pub alert: Option<(Severity, String)>,
    pub batch_size: usize,
    pub backfill: bool,
    policy: RetryPolicy,
    connect: ConnectConfig,
    /// `alert_tags` / `case_comment` through Kibana's APIs (`crate::kibana`).
    pub kibana: Option<crate::kibana::KibanaPart>,
}

/// Why a target name is refused, if it is: empty, not a valid index name, hidden (`.…`: the
/// alert indices `.alerts-security.alerts-*`, `.internal.alerts-*` and every system index).
fn bad_target(key: &str, name: &str) -> Option<String> {
    let n = name.trim();
    if n.is_empty() {
        return Some(format!("{key} is empty"));
    }
    if n.starts_with('.') || n.contains("alerts-security") {
        return Some(format!(
            "{key} {n:?}: trailproof never writes into Kibana's alert indices (.alerts-security.alerts-*) or any \
             hidden index (Elastic: \"System indices, such as the alert indices … do not change their mappings\"); \
             write to a data stream such as logs-trailproof.verdict-default and let a rule raise alerts from it"
        ));
    }
    // Elasticsearch's index naming rules: lower case, none of \ / * ? " < > | space , #, not
    // starting with - _ +.
    if n.chars().any(|c| c.is_uppercase() || "\\/*?\"<>| ,#:".contains(c)) || n.starts_with(['-', '_', '+']) {
        return Some(format!(
            "{key} {n:?} is not a valid data stream name (lower case, no \\ / * ? \" < > | , # : or space)"
        ));
    }
    None
}

impl ElasticSink {
    pub fn build(cfg: &NotifySink) -> Result<ElasticSink, NotifyError> {
        let err = |why: String| NotifyError::Config { name: cfg.name.clone(), why };
        if cfg.name.trim().is_empty() {
            return Err(NotifyError::Config { name: "(unnamed)".into(), why: "needs a name".into() });
        }
        if let Some(why) = bad_target("data_stream", &cfg.data_stream) {
            return Err(err(why));
        }
        let alert = match cfg.alert_min_severity.trim() {
            "" => None,
            s => {
                let sev = Severity::parse(s)
                    .ok_or_else(|| err(format!("alert_min_severity {s:?}: use low, medium, high or critical")))?;
                if let Some(why) = bad_target("alert_data_stream", &cfg.alert_data_stream) {
                    return Err(err(why));
                }
                let target = cfg.alert_data_stream.trim().to_string();
                if !target.starts_with("logs-") {
                    return Err(err(format!(
                        "alert_data_stream {target:?}: the External Alerts rule reads logs-* \
                         (elastic/detection-rules rules/promotions/external_alerts.toml); use a logs-… name"
                    )));
                }
                if target == cfg.data_stream.trim() {
                    return Err(err("alert_data_stream must differ from data_stream (same _id in both)".into()));
                }
                Some((sev, target))
            }
        };
        let url = cfg.url.trim();
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(err(format!(
                "url {:?} must start with https:// (or http:// for a local test server)",
                cfg.url
            )));
        }
        // No secret configured: no authentication (a local cluster, the emulator).
        let credentials = if cfg.secret_env.trim().is_empty() && cfg.secret_file.trim().is_empty() {
            Credentials::None
        } else {
            let what = if cfg.user.trim().is_empty() { "Elasticsearch API key" } else { "Elasticsearch password" };
            let secret: Secret =
                trailproof_http::secret::load(what, "secret_env", &cfg.secret_env, "secret_file", &cfg.secret_file)
                    .map_err(|e| err(e.to_string()))?;
            if cfg.user.trim().is_empty() {
                Credentials::ApiKey(secret)
            } else {
                Credentials::Basic { user: cfg.user.trim().to_string(), password: secret }
            }
        };
        // Kibana, when no key of its own is set, takes the cluster's credential.
        let es_auth = match &credentials {
            Credentials::ApiKey(k) => Some(Secret::new(format!("ApiKey {}", k.expose()))),
            Credentials::Basic { user, password } => Some(trailproof_http::basic_auth(user, password)),
            _ => None,
        };
        let ca_pem = match cfg.ca_file.trim() {
            "" => None,
            f => Some(std::fs::read(f).map_err(|e| err(format!("ca_file {f:?}: {e}")))?),
        };
        let initial = Duration::from_millis(cfg.retry_initial_ms.max(1));
        let policy = RetryPolicy {
            max_retries: cfg.max_retries,
            initial,
            max: Duration::from_millis(cfg.retry_max_ms).max(initial),
            max_server_wait: Duration::from_secs(u64::from(cfg.max_wait_seconds)),
        };
        let kibana = crate::kibana::KibanaPart::build(cfg, es_auth, policy, ca_pem.as_deref()).map_err(err)?;
        let connect = ConnectConfig {
            url: url.to_string(),
            credentials,
            ca_pem,
            timeout: Duration::from_secs(u64::from(cfg.request_timeout_seconds.max(1))),
            policy,
            requests_per_second: cfg.requests_per_minute.div_ceil(60),
            ..ConnectConfig::default()
        };
        Ok(ElasticSink {
            name: cfg.name.clone(),
            data_stream: cfg.data_stream.trim().to_string(),
            alert,
            batch_size: cfg.batch_size.clamp(1, 10_000) as usize,
            backfill: cfg.backfill,
            policy,
            connect,
            kibana,
        })
    }

    /// Whether a verdict gets the `event.kind: alert` copy.
    fn alerts(&self, rec: &VerdictRecord) -> bool {
        self.alert.as_ref().is_some_and(|(min, _)| rec.verdict != Verdict::Enforced && rec.risk.severity >= *min)
    }

    /// The bulk operations of one verdict version: its document, and its alert copy.
    pub fn ops(&self, rec: &VerdictRecord, ingested: &str) -> Vec<BulkOp> {
        let id = ecs::document_id(rec);
        let finish = |mut doc: Value, target: &str| {
            ecs::set_data_stream(&mut doc, target);
            if let Some(ev) = doc.get_mut("event").and_then(Value::as_object_mut) {
                // The External Alerts rule looks back by `event.ingested` (timestamp_override),
                // and a verdict may be hours older than its login.
                ev.insert("ingested".into(), ingested.into());
            }
            BulkOp { action: BulkAction::Create, index: target.to_string(), id: Some(id.clone()), doc }
        };
        let mut out = vec![finish(ecs::document(rec), &self.data_stream)];
        if let Some((_, target)) = self.alert.as_ref().filter(|_| self.alerts(rec)) {
            out.push(finish(ecs::alert_document(rec), target));
        }
        out
    }
}

/// One queued version and where its operations are.
struct Pending {
    row: OutboxRow,
    rec: VerdictRecord,
}

/// What became of one version's documents.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Fate {
    Stored,
    Rejected(String),
    /// Not done: retries ran out, or the sink stopped before it.
    Queued,
}

fn is_setup(status: u16, error_type: &str) -> bool {
    matches!(status, 401 | 403)
        || matches!(error_type, "security_exception" | "index_not_found_exception" | "cluster_block_exception")
}

fn setup_error(e: &ElasticError) -> bool {
    matches!(e, ElasticError::Unauthorized { .. } | ElasticError::Config(_))
        || matches!(e, ElasticError::Refused { status, .. } if matches!(status, 403..=405))
}

/// Writes the queued verdict versions of one Elasticsearch sink, then (with `alert_tags` /
/// `case_comment`) tags their Kibana alerts and comments their cases. The Kibana part has its own
/// cursor: a Kibana that refuses never holds the documents back.
pub async fn dispatch_one(
    store: &Store,
    sink: &ElasticSink,
    opts: &DispatchOptions,
) -> Result<SinkSummary, NotifyError> {
    let mut sum = write_all(store, sink, opts).await?;
    if let Some(kb) = &sink.kibana {
        crate::kibana::run(store, kb, &sink.name, sink.backfill, opts, &mut sum).await?;
    }
    Ok(sum)
}

/// Writes the queued verdict versions of one Elasticsearch sink.
async fn write_all(store: &Store, sink: &ElasticSink, opts: &DispatchOptions) -> Result<SinkSummary, NotifyError> {
    let name = sink.name.clone();
    let mut sum = SinkSummary { name: name.clone(), ..Default::default() };
    let cursor = match store.notify_cursor(&name)? {
        Some(c) => c,
        None if sink.backfill => 0,
        None => store.outbox_before_ms(opts.now_ms - NEW_SINK_LOOKBACK_MS)?,
    };
    let rows = store.outbox_after(cursor, 10_000_000)?;
    let Some(last_id) = rows.last().map(|r| r.id) else {
        return Ok(sum);
    };
    let mut pending = Vec::with_capacity(rows.len());
    for row in rows {
        match store.verdict_version(&row.console_login_event_id, row.version)? {
            Some(rec) => pending.push(Pending { row, rec }),
            None => {
                // Pruned from the database (retention): nothing left to write.
                sum.skipped += 1;
                sum.notes.push(format!(
                    "{name}: {} v{}: no longer stored, not written",
                    row.console_login_event_id, row.version
                ));
            }
        }
    }
    if opts.dry_run {
        for p in &pending {
            let ops = sink.ops(&p.rec, "");
            sum.planned.push(format!(
                "{name}: would write {} v{} ({}{}) to {}",
                p.rec.console_login_event_id,
                p.rec.version,
                p.rec.verdict.as_str(),
                if ops.len() > 1 { ", with an alert copy" } else { "" },
                sink.data_stream
            ));
            sum.created += 1;
        }
        return Ok(sum);
    }
    let client =
        Client::connect(&sink.connect).map_err(|e| NotifyError::Config { name: name.clone(), why: e.to_string() })?;
    let ingested = trailproof_model::format_ms(opts.now_ms);
    // The first outbox id not done; the cursor stays before it.
    let mut first_undone: Option<i64> = None;
    let mut stopped = false;
    for chunk in pending.chunks(sink.batch_size) {
        if stopped {
            first_undone.get_or_insert(chunk[0].row.id);
            sum.pending += chunk.len() as u64;
            continue;
        }
        let fates = write_batch(&client, sink, chunk, &ingested, &mut sum).await;
        for (p, fate) in chunk.iter().zip(&fates) {
            match fate {
                Fate::Stored => record(store, &name, &p.rec, "open", None)?,
                Fate::Rejected(why) => {
                    sum.rejected += 1;
                    sum.rejections.push(format!("{name}: {} v{}: {why}", ecs::session_key(&p.rec), p.rec.version));
                    record(store, &name, &p.rec, "rejected", Some(why.clone()))?;
                }
                Fate::Queued => {
                    sum.pending += 1;
                    first_undone.get_or_insert(p.row.id);
                }
            }
        }
        if sum.stop.is_some() {
            stopped = true;
        }
        // Progress is kept batch by batch: a run killed later resends at most one batch.
        let done_upto = match first_undone {
            Some(id) => id - 1,
            None => chunk.last().map(|p| p.row.id).unwrap_or(cursor),
        };
        store.set_notify_cursor(&name, done_upto.max(cursor))?;
    }
    if first_undone.is_none() {
        store.set_notify_cursor(&name, last_id.max(cursor))?;
    }
    Ok(sum)
}

/// Records the version a session's documents reached (the ticket table, as the ticket sinks).
fn record(
    store: &Store,
    sink: &str,
    rec: &VerdictRecord,
    state: &str,
    note: Option<String>,
) -> Result<(), NotifyError> {
    store.put_ticket(
        sink,
        &Ticket {
            dedup_key: ecs::session_key(rec),
            console_login_event_id: rec.console_login_event_id.clone(),
            external_id: Some(ecs::document_id(rec)),
            state: state.into(),
            version: rec.version,
            verdict: rec.verdict.as_str().into(),
            severity: Some(rec.risk.severity.as_str().into()),
            note,
            updated_ms: 0,
        },
    )?;
    Ok(())
}

/// Sends one batch, resending the items refused with 429 / 5xx, and says what became of each
/// version. Sets `sum.stop` / `sum.error` when the sink must stop.
async fn write_batch(
    client: &Client,
    sink: &ElasticSink,
    chunk: &[Pending],
    ingested: &str,
    sum: &mut SinkSummary,
) -> Vec<Fate> {
    // Every operation, with the index of the version it belongs to.
    let mut ops: Vec<(usize, BulkOp)> = Vec::new();
    for (i, p) in chunk.iter().enumerate() {
        ops.extend(sink.ops(&p.rec, ingested).into_iter().map(|op| (i, op)));
    }
    let mut fates = vec![Fate::Stored; chunk.len()];
    let mut queued = vec![false; chunk.len()];
    let mut todo: Vec<usize> = (0..ops.len()).collect();
    let mut round = 0u32;
    // Per-item refusals of this batch by (status, type): when none went through and all were
    // refused the same way, it is the setup.
    let mut refused: Vec<(usize, u16, String, String)> = Vec::new();
    let mut went_through = false;
    loop {
        let batch: Vec<BulkOp> = todo.iter().map(|&k| ops[k].1.clone()).collect();
        let result = match client.bulk(&batch).await {
            Ok(r) => r,
            Err(e) => {
                sum.stop = Some(if setup_error(&e) { Stop::Setup } else { Stop::Transient });
                sum.error = Some(format!(
                    "{}; nothing was dropped, the queue waits for the next run",
                    trailproof_http::redact(&e.to_string())
                ));
                for &k in &todo {
                    queued[ops[k].0] = true;
                }
                break;
            }
        };
        let mut again = Vec::new();
        let mut last_retry: Option<String> = None;
        for (&k, item) in todo.iter().zip(&result.items) {
            let v = ops[k].0;
            match &item.outcome {
                BulkOutcome::Created => {
                    went_through = true;
                    sum.created += u64::from(ops[k].1.index == sink.data_stream);
                }
                BulkOutcome::AlreadyExists => {
                    went_through = true;
                    if ops[k].1.index == sink.data_stream {
                        sum.skipped += 1;
                    }
                }
                BulkOutcome::Retryable { status, error_type, reason } => {
                    last_retry = Some(format!("HTTP {status} {error_type}: {reason}"));
                    again.push(k);
                }
                BulkOutcome::Rejected { status, error_type, reason } => {
                    refused.push((v, *status, error_type.clone(), reason.clone()));
                }
            }
        }
        if again.is_empty() {
            break;
        }
        if round >= sink.policy.max_retries {
            sum.stop = Some(Stop::Transient);
            sum.error = Some(format!(
                "{} documents still refused after {} retries ({}); nothing was dropped, the queue waits for the next run",
                again.len(),
                round,
                last_retry.unwrap_or_default()
            ));
            for &k in &again {
                queued[ops[k].0] = true;
            }
            break;
        }
        tokio::time::sleep(sink.policy.backoff(round)).await;
        round += 1;
        todo = again;
    }
    // Refusals: the setup (stop, keep the queue) or these documents (rejected, reported).
    if !refused.is_empty() {
        let same = refused.iter().all(|r| r.1 == refused[0].1 && r.2 == refused[0].2);
        let setup = refused.iter().any(|r| is_setup(r.1, &r.2)) || (!went_through && same && refused.len() > 1);
        if setup {
            let r = &refused[0];
            sum.stop = Some(Stop::Setup);
            sum.error = Some(format!(
                "setup problem, the same for every document: HTTP {} {}: {}; check the data stream's mapping \
                 (config/elastic/index-template.json) and the API key's privileges (create_doc on it); nothing was \
                 dropped, the queue waits for the next run",
                r.1,
                r.2,
                trailproof_http::redact(&r.3)
            ));
            for r in &refused {
                queued[r.0] = true;
            }
        } else if refused.len() == 1 && !went_through && chunk.len() == 1 {
            // One document alone refused: nothing yet tells whether it is its content or the
            // setup. Kept queued; a later batch tells.
            let r = &refused[0];
            sum.held.push(format!(
                "{}: {} v{}: HTTP {} {}: {}; kept queued: a later document will tell whether this is a setup problem \
                 or this document's content",
                sink.name,
                ecs::session_key(&chunk[r.0].rec),
                chunk[r.0].rec.version,
                r.1,
                r.2,
                r.3
            ));
            queued[r.0] = true;
        } else {
            for r in &refused {
                fates[r.0] = Fate::Rejected(format!("HTTP {} {}: {}", r.1, r.2, trailproof_http::redact(&r.3)));
            }
        }
    }
    for (f, q) in fates.iter_mut().zip(queued) {
        if q {
            *f = Fate::Queued;
        }
    }
    fates
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> NotifySink {
        NotifySink { name: "es".into(), kind: KIND.into(), url: "http://127.0.0.1:9".into(), ..NotifySink::default() }
    }

    #[test]
    fn alert_indices_and_hidden_indices_are_refused() {
        for bad in [".alerts-security.alerts-default", ".internal.alerts-security.alerts-default-000001", ".kibana"] {
            let c = NotifySink { data_stream: bad.into(), ..cfg() };
            let e = ElasticSink::build(&c).err().expect(bad).to_string();
            assert!(e.contains("never writes into Kibana's alert indices"), "{e}");
            let c = NotifySink { alert_min_severity: "high".into(), alert_data_stream: bad.into(), ..cfg() };
            assert!(ElasticSink::build(&c).is_err(), "{bad}");
        }
        let c = NotifySink { alert_min_severity: "high".into(), alert_data_stream: "alerts-x".into(), ..cfg() };
        assert!(ElasticSink::build(&c).err().unwrap().to_string().contains("logs-*"));
        let c = NotifySink { data_stream: "Logs-X".into(), ..cfg() };
        assert!(ElasticSink::build(&c).is_err());
        assert!(ElasticSink::build(&cfg()).is_ok());
    }

    #[test]
    fn the_alert_copy_is_only_for_findings_at_the_threshold() {
        use trailproof_model::verdict::{Risk, SessionPath};
        let s = ElasticSink::build(&NotifySink { alert_min_severity: "high".into(), ..cfg() }).unwrap();
        let rec = |v: Verdict, sev: Severity| VerdictRecord {
            console_login_event_id: "e1".into(),
            account_id: Some("111122223333".into()),
            arn: None,
            session_name: None,
            time: "2026-11-02T10:00:00Z".into(),
            source_ip: None,
            user_agent: None,
            path: SessionPath::Saml,
            verdict: v,
            reason: None,
            identity: None,
            mfa: None,
            evidence: vec![],
            risk: Risk { score: 60, severity: sev, signals: vec![] },
            explanation: String::new(),
            version: 1,
        };
        let ops = s.ops(&rec(Verdict::NotEnforced, Severity::High), "2026-11-02T11:00:00.000Z");
        assert_eq!(ops.len(), 2);
        assert_eq!(ops[0].index, "logs-trailproof.verdict-default");
        assert_eq!(ops[1].index, "logs-trailproof.alert-default");
        assert_eq!(ops[0].id, ops[1].id);
        assert_eq!(ops[1].doc["event"]["kind"], "alert");
        assert_eq!(ops[1].doc["data_stream"]["dataset"], "trailproof.alert");
        assert_eq!(ops[0].doc["event"]["ingested"], "2026-11-02T11:00:00.000Z");
        assert_eq!(s.ops(&rec(Verdict::NotEnforced, Severity::Medium), "").len(), 1);
        assert_eq!(s.ops(&rec(Verdict::Enforced, Severity::Critical), "").len(), 1);
    }
}
