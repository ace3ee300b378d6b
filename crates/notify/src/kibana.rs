//! The Elasticsearch sink's Kibana part (`kibana_url` with `alert_tags` / `case_comment`): puts
//! each verdict next to the security alerts raised on the same CloudTrail ConsoleLogin (Elastic's
//! "AWS Sign-In Console Login with Federated User" rule), through Kibana's APIs only. The alert
//! indices (`.alerts-security.alerts-<space>`) are never written directly: Elastic says not to
//! change them (elastic.co/guide/en/security/current/alert-schema.html).
//!
//! - Finding the alerts: `POST /s/{space}/api/detection_engine/signals/search` (a query DSL over
//!   the space's alerts, elastic.co/guide/en/security/8.9/signals-api-overview.html) for
//!   `kibana.alert.original_event.id` (the alert schema puts the source event's `event.*` under
//!   `kibana.alert.original_event.*`) or `event.id` equal to the verdict's `event.id` (the
//!   ConsoleLogin's CloudTrail eventID). Whether a given rule type also copies `event.id` itself is
//!   unconfirmed; either field matches. Alerts raised on trailproof's own documents (dataset
//!   `trailproof.*`) are left out.
//! - Tags: `POST /s/{space}/api/detection_engine/signals/tags` with `ids` and
//!   `tags: {tags_to_add: ["trailproof:<verdict>"], tags_to_remove: [the other verdict tags]}`
//!   (elastic.co/docs/api/doc/kibana/v8/operation/operation-setalerttags: both lists required, a
//!   tag may not be added and removed at once). Idempotent: sent again after a lost answer.
//! - Case comments: `GET /s/{space}/api/cases/alerts/{alert_id}` (the cases holding the alert,
//!   elastic.co/guide/en/kibana/current/cases-api-get-cases-by-alert.html), then for each
//!   `POST /s/{space}/api/cases/{case_id}/comments` `{"type": "user", "comment", "owner"}`
//!   (elastic.co/guide/en/kibana/current/cases-api-add-comment.html). A comment is not
//!   idempotent: it is sent once per run without retries (a 5xx or a timeout is not resent in the
//!   same run); each case commented is recorded at once, so a re-run comments only the cases not
//!   yet recorded. A comment whose answer was lost is sent again on the next run (it may then
//!   show twice: Kibana has no idempotency key for comments).
//! - Every `POST` carries `kbn-xsrf` (elastic.co/guide/en/kibana/current/api.html).
//!
//! State (no schema change): the ticket table under `<sink>#kibana`, one row per session:
//! `waiting` (no alert yet; its note holds when the version was first looked for), `done`,
//! `gave_up`, at the verdict version handled; the note (JSON) lists the alerts tagged and the
//! cases commented for that version. A cursor `<sink>#kibana` over the outbox stays before the
//! first session still waiting. An alert not found is not an error: the rule may not have fired
//! yet (CloudTrail reaches the cluster minutes after the login, the rule runs on a schedule), so
//! the version is looked for again on each run for `alert_wait_hours` after its first look, then
//! given up quietly (a note line). Only the latest version of a session in the queue is handled
//! (a comment per version handled, never two for one version).
//!
//! Failures: 401/403, a missing `kbn-xsrf` (400), an unknown space (404) or any other refusal of
//! the search or the tags call stop the Kibana part for this run with a message saying what to
//! fix; the verdict documents are written before it and are not affected; sessions not handled
//! wait for the next run. A case gone (404 on the comment) is noted and skipped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use trailproof_http::{Api, Auth, HttpError, Pacer, RetryPolicy, Secret};
use trailproof_model::config::NotifySink;
use trailproof_model::text::inert;
use trailproof_model::verdict::{Verdict, VerdictRecord};
use trailproof_report::ecs;
use trailproof_store::Store;
use trailproof_store::outbox::Ticket;

use crate::{DispatchOptions, NEW_SINK_LOOKBACK_MS, NotifyError, SinkSummary};

/// The Kibana part of one Elasticsearch sink.
pub struct KibanaPart {
    base: url::Url,
    space: String,
    tags: bool,
    comments: bool,
    wait_ms: i64,
    data_stream: String,
    /// Searches and tags: retried with the sink's policy (both are safe to resend).
    api: Api,
    /// Comments: never resent within a run.
    once: Api,
}

/// The tag a verdict puts on the alerts.
pub fn tag(v: Verdict) -> String {
    format!("trailproof:{}", v.as_str())
}

/// The state's name for a sink.
pub fn state_name(sink: &str) -> String {
    format!("{sink}#kibana")
}

impl KibanaPart {
    /// `None` when neither `alert_tags` nor `case_comment` is on. `es_auth`: the
    /// Elasticsearch credential's `Authorization` value, used when no Kibana secret is set.
    pub fn build(
        cfg: &NotifySink,
        es_auth: Option<Secret>,
        policy: RetryPolicy,
        ca_pem: Option<&[u8]>,
    ) -> Result<Option<KibanaPart>, String> {
        if !cfg.alert_tags && !cfg.case_comment {
            return Ok(None);
        }
        let base = trailproof_http::base_url("kibana_url", &cfg.kibana_url)
            .map_err(|e| format!("{e} (alert_tags and case_comment call Kibana's APIs)"))?;
        let space = match cfg.kibana_space.trim() {
            "" => "default".to_string(),
            s if s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-') => {
                s.to_string()
            }
            s => return Err(format!("kibana_space {s:?}: a space id is lower case letters, digits, _ and -")),
        };
        let auth = if cfg.kibana_secret_env.trim().is_empty() && cfg.kibana_secret_file.trim().is_empty() {
            match es_auth {
                Some(a) => Auth::Header(a),
                None => Auth::None,
            }
        } else {
            let key = trailproof_http::secret::load(
                "Kibana API key",
                "kibana_secret_env",
                &cfg.kibana_secret_env,
                "kibana_secret_file",
                &cfg.kibana_secret_file,
            )
            .map_err(|e| e.to_string())?;
            Auth::Header(Secret::new(format!("ApiKey {}", key.expose())))
        };
        let timeout = Duration::from_secs(u64::from(cfg.request_timeout_seconds.max(1)));
        let http = client(timeout, ca_pem)?;
        let pacer = Arc::new(match cfg.requests_per_minute {
            0 => Pacer::unlimited(),
            n => Pacer::new(n, Duration::from_secs(60)),
        });
        let once_policy = RetryPolicy { max_retries: 0, ..policy };
        Ok(Some(KibanaPart {
            base,
            space,
            tags: cfg.alert_tags,
            comments: cfg.case_comment,
            wait_ms: i64::from(cfg.alert_wait_hours) * 3_600_000,
            data_stream: cfg.data_stream.trim().to_string(),
            api: Api::new(http.clone(), pacer.clone(), policy, auth.clone()),
            once: Api::new(http, pacer, once_policy, auth),
        }))
    }

    fn url(&self, path: &str) -> Result<url::Url, String> {
        // Kibana: "/s/{space_id}" before the API path; the default space may omit it.
        // Appended to kibana_url's own path (a Kibana behind a base path such as /kibana).
        let p = if self.space == "default" { path.to_string() } else { format!("/s/{}{path}", self.space) };
        let full = format!("{}{p}", self.base.as_str().trim_end_matches('/'));
        url::Url::parse(&full).map_err(|e| format!("kibana_url + {p}: {e}"))
    }

    async fn post(&self, once: bool, path: &str, body: &Value) -> Result<Value, HttpError> {
        let url = self.url(path).map_err(HttpError::Config)?;
        let bytes = body.to_string().into_bytes();
        let api = if once { &self.once } else { &self.api };
        let r = api.send(Method::POST, &url, Some(("application/json", &bytes)), &json_ok).await?;
        Ok(serde_json::from_slice(&r.body).unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> Result<Value, HttpError> {
        let url = self.url(path).map_err(HttpError::Config)?;
        let r = self.api.get(&url, &json_ok).await?;
        Ok(serde_json::from_slice(&r.body).unwrap_or(Value::Null))
    }

    /// The ids of the security alerts raised on the ConsoleLogin `event_id`.
    async fn alerts(&self, event_id: &str) -> Result<Vec<String>, HttpError> {
        let q = json!({
            "size": 100,
            "_source": ["kibana.alert.rule.name"],
            "query": {"bool": {
                "filter": [{"bool": {"should": [
                    {"term": {"kibana.alert.original_event.id": event_id}},
                    {"term": {"event.id": event_id}}
                ], "minimum_should_match": 1}}],
                "must_not": [
                    {"prefix": {"kibana.alert.original_event.dataset": "trailproof."}},
                    {"prefix": {"data_stream.dataset": "trailproof."}}
                ]
            }}
        });
        let v = self.post(false, "/api/detection_engine/signals/search", &q).await?;
        let mut ids: Vec<String> = v["hits"]["hits"]
            .as_array()
            .map(|a| a.iter().filter_map(|h| h["_id"].as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    fn comment(&self, rec: &VerdictRecord) -> String {
        let mut s = format!(
            "trailproof verdict v{} for this ConsoleLogin ({}): {}, risk {} ({})",
            rec.version,
            inert(&rec.console_login_event_id),
            rec.verdict.as_str(),
            rec.risk.score,
            rec.risk.severity.as_str()
        );
        if let Some(r) = &rec.reason {
            s.push_str(&format!(", reason {}", inert(&format!("{r:?}"))));
        }
        s.push_str("\n\n");
        s.push_str(&inert(&rec.explanation));
        s.push_str(&format!(
            "\n\nECS document: {} _id {} (trailproof.version {}).",
            self.data_stream,
            ecs::document_id(rec),
            rec.version
        ));
        s
    }
}

fn json_ok(b: &[u8]) -> Result<(), String> {
    if b.is_empty() {
        return Ok(());
    }
    serde_json::from_slice::<Value>(b).map(|_| ()).map_err(|e| e.to_string())
}

/// The HTTP client: as `trailproof_http::client_with_ca`, plus `kbn-xsrf` on every request
/// (Kibana ignores it on GET).
fn client(timeout: Duration, ca_pem: Option<&[u8]>) -> Result<reqwest::Client, String> {
    trailproof_http::install_crypto_provider();
    let mut headers = HeaderMap::new();
    headers.insert("kbn-xsrf", HeaderValue::from_static("true"));
    let mut b = reqwest::Client::builder().default_headers(headers);
    if let Some(pem) = ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| format!("ca_file: {e}"))?;
        b = b.tls_certs_only(certs);
    }
    b.tls_backend_rustls()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(30)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("trailproof/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot build the Kibana HTTP client: {e}"))
}

/// What was done for one version (the ticket row's note).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Progress {
    /// When this version was first looked for (UTC ms).
    first_ms: i64,
    alerts: Vec<String>,
    tagged: bool,
    cases: Vec<String>,
}

/// What a refusal means for the Kibana part.
fn setup_message(e: &HttpError, space: &str) -> String {
    let fix = match e.status() {
        Some(401) => "Kibana refused the credential (401): check kibana_secret_env/_file (or the Elasticsearch key)",
        Some(403) => {
            "the key lacks a privilege (403): it needs Security alerts read + write (tags) and Cases all (comments) in the space"
        }
        Some(400) => "Kibana refused the request (400): a proxy may strip the kbn-xsrf header",
        Some(404) => "not found (404): check kibana_url and that kibana_space names an existing space",
        _ => "Kibana could not be reached or kept failing",
    };
    format!(
        "Kibana (space {space}): {}; {fix}. The verdict documents are written; alert tags and case comments wait for the next run",
        trailproof_http::redact(&e.to_string())
    )
}

/// Tags the alerts and comments the cases of the queued verdict versions.
pub async fn run(
    store: &Store,
    kb: &KibanaPart,
    sink: &str,
    backfill: bool,
    opts: &DispatchOptions,
    sum: &mut SinkSummary,
) -> Result<(), NotifyError> {
    let state = state_name(sink);
    let cursor = match store.notify_cursor(&state)? {
        Some(c) => c,
        None if backfill => 0,
        None => store.outbox_before_ms(opts.now_ms - NEW_SINK_LOOKBACK_MS)?,
    };
    let rows = store.outbox_after(cursor, 10_000_000)?;
    let Some(last_id) = rows.last().map(|r| r.id) else {
        return Ok(());
    };
    let mut first: HashMap<&str, i64> = HashMap::new();
    let mut latest: HashMap<&str, (i64, u32)> = HashMap::new();
    for r in &rows {
        first.entry(r.console_login_event_id.as_str()).or_insert(r.id);
        latest.insert(r.console_login_event_id.as_str(), (r.id, r.version));
    }
    let mut order: Vec<(i64, &str, u32)> = latest.iter().map(|(s, (id, v))| (*id, *s, *v)).collect();
    order.sort();
    if opts.dry_run {
        sum.planned.push(format!(
            "{sink}: would look for the Kibana alerts of {} sessions{}{}",
            order.len(),
            if kb.tags { ", tag them" } else { "" },
            if kb.comments { ", comment their cases" } else { "" }
        ));
        return Ok(());
    }
    let mut undone: Vec<&str> = Vec::new();
    let (mut tagged, mut commented, mut waiting, mut gave_up) = (0u64, 0u64, 0u64, 0u64);
    let mut stopped = false;
    for (_, session, version) in &order {
        if stopped {
            undone.push(session);
            continue;
        }
        let Some(rec) = store.verdict_version(session, *version)? else { continue };
        let key = ecs::session_key(&rec);
        let held = store.ticket(&state, &key)?;
        let mut p = match &held {
            Some(t) if t.version > rec.version || (t.version == rec.version && t.state != "waiting") => continue,
            Some(t) if t.version == rec.version => {
                serde_json::from_str::<Progress>(t.note.as_deref().unwrap_or("")).unwrap_or_default()
            }
            _ => Progress::default(),
        };
        if p.first_ms == 0 {
            p.first_ms = opts.now_ms;
        }
        let save = |p: &Progress, st: &str| -> Result<(), NotifyError> {
            store.put_ticket(
                &state,
                &Ticket {
                    dedup_key: key.clone(),
                    console_login_event_id: rec.console_login_event_id.clone(),
                    external_id: p.alerts.first().cloned(),
                    state: st.into(),
                    version: rec.version,
                    verdict: rec.verdict.as_str().into(),
                    severity: Some(rec.risk.severity.as_str().into()),
                    note: serde_json::to_string(p).ok(),
                    updated_ms: 0,
                },
            )?;
            Ok(())
        };
        match kb.step(&rec, &mut p, &save).await? {
            Ok(Step::Done { tags, comments }) => {
                tagged += tags;
                commented += comments;
                save(&p, "done")?;
            }
            Ok(Step::NoAlert) if opts.now_ms - p.first_ms < kb.wait_ms => {
                waiting += 1;
                save(&p, "waiting")?;
                undone.push(session);
            }
            Ok(Step::NoAlert) => {
                gave_up += 1;
                save(&p, "gave_up")?;
            }
            Err(msg) => {
                save(&p, "waiting")?;
                sum.error.get_or_insert(msg.clone());
                sum.notes.push(format!("{sink}: {msg}"));
                undone.push(session);
                stopped = true;
            }
        }
    }
    sum.notes.push(format!(
        "{sink}: Kibana: {tagged} alerts tagged, {commented} case comments, {waiting} sessions whose alert is not there yet, {gave_up} given up (no alert within {} h)",
        kb.wait_ms / 3_600_000
    ));
    let new_cursor = undone.iter().filter_map(|s| first.get(s)).min().map(|id| id - 1).unwrap_or(last_id);
    store.set_notify_cursor(&state, new_cursor.max(cursor))?;
    Ok(())
}

enum Step {
    NoAlert,
    Done { tags: u64, comments: u64 },
}

type Save<'a> = &'a dyn Fn(&Progress, &str) -> Result<(), NotifyError>;

impl KibanaPart {
    /// One version: find its alerts, tag them, comment their cases. The outer error is the
    /// store's; the inner one stops the Kibana part (its message).
    async fn step(
        &self,
        rec: &VerdictRecord,
        p: &mut Progress,
        save: Save<'_>,
    ) -> Result<Result<Step, String>, NotifyError> {
        let alerts = match self.alerts(&rec.console_login_event_id).await {
            Ok(a) => a,
            Err(e) => return Ok(Err(setup_message(&e, &self.space))),
        };
        if alerts.is_empty() {
            return Ok(Ok(Step::NoAlert));
        }
        p.alerts = alerts;
        let mut tags = 0;
        if self.tags && !p.tagged {
            let add = tag(rec.verdict);
            let remove: Vec<String> = Verdict::ALL.iter().map(|v| tag(*v)).filter(|t| *t != add).collect();
            let body = json!({"ids": p.alerts, "tags": {"tags_to_add": [add], "tags_to_remove": remove}});
            if let Err(e) = self.post(false, "/api/detection_engine/signals/tags", &body).await {
                return Ok(Err(setup_message(&e, &self.space)));
            }
            p.tagged = true;
            tags = p.alerts.len() as u64;
            save(p, "waiting")?;
        }
        let mut comments = 0;
        if self.comments {
            let text = self.comment(rec);
            for alert in p.alerts.clone() {
                let cases = match self.get(&format!("/api/cases/alerts/{}", enc(&alert))).await {
                    Ok(v) => v,
                    Err(e) => return Ok(Err(setup_message(&e, &self.space))),
                };
                let ids: Vec<String> = cases
                    .as_array()
                    .map(|a| a.iter().filter_map(|c| c["id"].as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                for case in ids {
                    if p.cases.contains(&case) {
                        continue;
                    }
                    let body = json!({"type": "user", "comment": text, "owner": "securitySolution"});
                    match self.post(true, &format!("/api/cases/{}/comments", enc(&case)), &body).await {
                        Ok(_) => {
                            comments += 1;
                            p.cases.push(case);
                            // Recorded at once: a run killed after this does not comment again.
                            save(p, "waiting")?;
                        }
                        // The case was deleted since it was listed: nothing to comment.
                        Err(e) if e.status() == Some(404) => {
                            tracing::info!("Kibana case {case} is gone; not commented");
                        }
                        Err(e) => return Ok(Err(setup_message(&e, &self.space))),
                    }
                }
            }
        }
        Ok(Ok(Step::Done { tags, comments }))
    }
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
