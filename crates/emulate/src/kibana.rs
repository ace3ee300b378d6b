//! Emulated Kibana: the few Security APIs the Elasticsearch sink's `alert_tags` and
//! `case_comment` call, over alerts and cases a test seeds ([`KibanaState`]).
//!
//! | endpoint | as documented |
//! |---|---|
//! | `POST [/s/{space}]/api/detection_engine/signals/search` | query DSL over the space's alerts (`.alerts-security.alerts-<space>`); here `bool` (`filter`, `must`, `should` + `minimum_should_match`, `must_not`), `term`, `terms`, `prefix`, `exists`, `match_all`; `size` (default 10) (elastic.co/guide/en/security/8.9/signals-api-overview.html) |
//! | `POST [/s/{space}]/api/detection_engine/signals/tags` | `{"ids": [...], "tags": {"tags_to_add": [...], "tags_to_remove": [...]}}`, both lists required, a tag may not be in both; answers an update-by-query result (elastic.co/docs/api/doc/kibana/v8/operation/operation-setalerttags); the tags are `kibana.alert.workflow_tags` |
//! | `GET [/s/{space}]/api/cases/alerts/{alert_id}` | the cases holding the alert: `[{"id", "title", "description", "status", "createdAt", "totals"}]`, `[]` for none (elastic.co/guide/en/kibana/current/cases-api-get-cases-by-alert.html) |
//! | `POST [/s/{space}]/api/cases/{case_id}/comments` | `{"type": "user", "comment", "owner"}`; answers the case with its comments; 404 for an unknown case (elastic.co/guide/en/kibana/current/cases-api-add-comment.html) |
//!
//! Every request needs `Authorization: ApiKey <key>` (401 `{"statusCode", "error", "message"}`
//! otherwise, the documented 401 body); a read-only key gets 403 on the writes. `POST` needs a
//! `kbn-xsrf` header ("you must use kbn-xsrf for all API calls, except … GET or HEAD",
//! elastic.co/guide/en/kibana/current/api.html), else 400. Unconfirmed, modelled from Kibana's
//! behaviour as commonly seen: the 400 message text, an unknown space answering 404 and the
//! 403 text. Every request is logged ([`KibanaState::requests`]) so a test can check that
//! nothing but these APIs was called; nothing here can write an alert document except through
//! the tags API.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::any;
use serde_json::{Value, json};

use crate::server::{St, json_value};

/// The API key the emulated Kibana accepts by default (base64 of `emulator:emulator-kibana-key`).
pub const DEFAULT_KIBANA_API_KEY: &str = "ZW11bGF0b3I6ZW11bGF0b3Ita2liYW5hLWtleQ==";

/// One request the emulated Kibana received.
#[derive(Debug, Clone)]
pub struct KibanaRequest {
    pub method: String,
    pub path: String,
    pub body: Value,
    pub status: u16,
}

#[derive(Debug, Clone)]
struct Case {
    space: String,
    title: String,
    owner: String,
    alerts: Vec<String>,
    comments: Vec<Value>,
}

#[derive(Debug)]
struct Kb {
    keys: BTreeSet<String>,
    read_only: BTreeSet<String>,
    spaces: BTreeSet<String>,
    /// (space, id, document with flat dotted keys as the alert indices hold them).
    alerts: Vec<(String, String, Value)>,
    cases: BTreeMap<String, Case>,
    log: Vec<KibanaRequest>,
}

/// Alerts, cases, keys and the request log of the emulated Kibana.
#[derive(Debug)]
pub struct KibanaState {
    inner: Mutex<Kb>,
}

impl Default for KibanaState {
    fn default() -> Self {
        KibanaState {
            inner: Mutex::new(Kb {
                keys: [DEFAULT_KIBANA_API_KEY.to_string()].into(),
                read_only: BTreeSet::new(),
                spaces: ["default".to_string()].into(),
                alerts: Vec::new(),
                cases: BTreeMap::new(),
                log: Vec::new(),
            }),
        }
    }
}

impl KibanaState {
    fn lock(&self) -> std::sync::MutexGuard<'_, Kb> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Accepts `key` (read-only: 403 on tags and comments).
    pub fn add_key(&self, key: &str, read_only: bool) {
        let mut k = self.lock();
        k.keys.insert(key.to_string());
        if read_only {
            k.read_only.insert(key.to_string());
        }
    }

    /// Refuses every key from now on (401).
    pub fn revoke_keys(&self) {
        self.lock().keys.clear();
    }

    pub fn add_space(&self, space: &str) {
        self.lock().spaces.insert(space.to_string());
    }

    /// An alert of `rule` raised on the source event whose `event.id` is `original_event_id`,
    /// shaped as the alert schema says: the source's `event.*` under
    /// `kibana.alert.original_event.*`, `event.kind: signal`
    /// (elastic.co/guide/en/security/current/alert-schema.html).
    pub fn add_alert(&self, space: &str, alert_id: &str, original_event_id: &str, rule: &str) {
        let doc = json!({
            "@timestamp": "2026-11-02T10:05:00.000Z",
            "event.kind": "signal",
            "kibana.alert.original_event.id": original_event_id,
            "kibana.alert.original_event.action": "ConsoleLogin",
            "kibana.alert.original_event.provider": "signin.amazonaws.com",
            "kibana.alert.original_event.dataset": "aws.cloudtrail",
            "kibana.alert.rule.name": rule,
            "kibana.alert.workflow_status": "open",
            "kibana.alert.workflow_tags": [],
            "kibana.space_ids": [space],
        });
        self.lock().alerts.push((space.to_string(), alert_id.to_string(), doc));
    }

    /// A Security case in `space` holding `alerts`.
    pub fn add_case(&self, space: &str, case_id: &str, title: &str, alerts: &[&str]) {
        self.lock().cases.insert(
            case_id.to_string(),
            Case {
                space: space.to_string(),
                title: title.to_string(),
                owner: "securitySolution".into(),
                alerts: alerts.iter().map(|s| s.to_string()).collect(),
                comments: Vec::new(),
            },
        );
    }

    /// An alert's `kibana.alert.workflow_tags`.
    pub fn alert_tags(&self, alert_id: &str) -> Vec<String> {
        self.lock()
            .alerts
            .iter()
            .find(|(_, id, _)| id == alert_id)
            .and_then(|(_, _, d)| d["kibana.alert.workflow_tags"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect()
    }

    /// The user comments of a case, oldest first.
    pub fn case_comments(&self, case_id: &str) -> Vec<String> {
        self.lock()
            .cases
            .get(case_id)
            .map(|c| c.comments.iter().filter_map(|v| v["comment"].as_str().map(str::to_string)).collect())
            .unwrap_or_default()
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<KibanaRequest> {
        self.lock().log.clone()
    }
}

/// The routes, with and without the `/s/{space}` prefix.
pub(crate) fn routes() -> Router<St> {
    Router::new()
        .route("/api/detection_engine/signals/{op}", any(handle))
        .route("/s/{space}/api/detection_engine/signals/{op}", any(handle))
        .route("/api/cases/alerts/{alert_id}", any(handle))
        .route("/s/{space}/api/cases/alerts/{alert_id}", any(handle))
        .route("/api/cases/{case_id}/comments", any(handle))
        .route("/s/{space}/api/cases/{case_id}/comments", any(handle))
}

fn kerr(status: StatusCode, message: &str) -> Response {
    json_value(
        status,
        &json!({"statusCode": status.as_u16(), "error": status.canonical_reason().unwrap_or(""), "message": message}),
    )
}

async fn handle(State(st): State<St>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let body_json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (status, resp) = answer(&st.kibana, &method, uri.path(), &headers, &body, &body_json);
    st.kibana.lock().log.push(KibanaRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        body: body_json,
        status: status.as_u16(),
    });
    resp
}

fn answer(
    kb: &KibanaState,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    raw: &[u8],
    body: &Value,
) -> (StatusCode, Response) {
    let done = |s: StatusCode, r: Response| (s, r);
    let key = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("ApiKey "))
        .map(str::trim)
        .unwrap_or("");
    let mut k = kb.lock();
    if !k.keys.contains(key) {
        let s = StatusCode::UNAUTHORIZED;
        return done(
            s,
            kerr(
                s,
                "[security_exception]: unable to authenticate with provided credentials and anonymous access is not allowed for this request",
            ),
        );
    }
    if *method != Method::GET && *method != Method::HEAD && !headers.contains_key("kbn-xsrf") {
        let s = StatusCode::BAD_REQUEST;
        return done(s, kerr(s, "Request must contain a kbn-xsrf header."));
    }
    let (space, rest) = match path.strip_prefix("/s/") {
        Some(r) => match r.split_once('/') {
            Some((sp, rest)) => (sp.to_string(), format!("/{rest}")),
            None => (r.to_string(), "/".into()),
        },
        None => ("default".to_string(), path.to_string()),
    };
    if !k.spaces.contains(&space) {
        let s = StatusCode::NOT_FOUND;
        return done(s, kerr(s, "Not Found"));
    }
    let read_only = k.read_only.contains(key);
    let parts: Vec<&str> = rest.trim_matches('/').split('/').collect();
    if *method != Method::GET && body.is_null() && !raw.is_empty() {
        let s = StatusCode::BAD_REQUEST;
        return done(s, kerr(s, "Invalid JSON in the request body"));
    }
    match (method.clone(), parts.as_slice()) {
        (Method::POST, ["api", "detection_engine", "signals", "search"]) => {
            let query = body.get("query").cloned().unwrap_or(json!({"match_all": {}}));
            let size = body.get("size").and_then(Value::as_u64).unwrap_or(10) as usize;
            let mut hits = Vec::new();
            for (sp, id, doc) in &k.alerts {
                if *sp != space {
                    continue;
                }
                match matches(doc, &query) {
                    Ok(true) => hits.push(json!({
                        "_index": format!(".internal.alerts-security.alerts-{space}-000001"),
                        "_id": id, "_score": null, "_source": doc,
                    })),
                    Ok(false) => {}
                    Err(why) => {
                        let s = StatusCode::BAD_REQUEST;
                        return done(s, kerr(s, &why));
                    }
                }
            }
            let total = hits.len();
            hits.truncate(size);
            let s = StatusCode::OK;
            done(
                s,
                json_value(
                    s,
                    &json!({"took": 1, "timed_out": false,
                        "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
                        "hits": {"total": {"value": total, "relation": "eq"}, "max_score": null, "hits": hits}}),
                ),
            )
        }
        (Method::POST, ["api", "detection_engine", "signals", "tags"]) => {
            if read_only {
                let s = StatusCode::FORBIDDEN;
                return done(s, kerr(s, "Unauthorized to update alert tags: missing write privilege on the alerts"));
            }
            let list = |v: &Value| -> Option<Vec<String>> {
                v.as_array()?.iter().map(|x| x.as_str().filter(|s| !s.trim().is_empty()).map(str::to_string)).collect()
            };
            let (Some(ids), Some(add), Some(remove)) =
                (list(&body["ids"]), list(&body["tags"]["tags_to_add"]), list(&body["tags"]["tags_to_remove"]))
            else {
                let s = StatusCode::BAD_REQUEST;
                return done(
                    s,
                    kerr(
                        s,
                        "[request body]: ids, tags.tags_to_add and tags.tags_to_remove are required lists of non-empty strings",
                    ),
                );
            };
            if ids.is_empty() {
                let s = StatusCode::BAD_REQUEST;
                return done(s, kerr(s, "[request body]: ids: Array must contain at least 1 element(s)"));
            }
            if add.iter().any(|t| remove.contains(t)) {
                let s = StatusCode::BAD_REQUEST;
                return done(
                    s,
                    kerr(s, "Duplicated tags were found in the tags_to_add and tags_to_remove parameters."),
                );
            }
            let mut updated = 0u64;
            for (sp, id, doc) in k.alerts.iter_mut() {
                if *sp != space || !ids.contains(id) {
                    continue;
                }
                let mut tags: Vec<String> = doc["kibana.alert.workflow_tags"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
                    .unwrap_or_default();
                tags.retain(|t| !remove.contains(t));
                for t in &add {
                    if !tags.contains(t) {
                        tags.push(t.clone());
                    }
                }
                doc["kibana.alert.workflow_tags"] = json!(tags);
                updated += 1;
            }
            let s = StatusCode::OK;
            done(
                s,
                json_value(
                    s,
                    &json!({"took": 2, "timed_out": false, "total": updated, "updated": updated, "deleted": 0,
                        "batches": 1, "version_conflicts": 0, "noops": 0, "retries": {"bulk": 0, "search": 0},
                        "throttled_millis": 0, "requests_per_second": -1.0, "throttled_until_millis": 0, "failures": []}),
                ),
            )
        }
        (Method::GET, ["api", "cases", "alerts", alert_id]) => {
            let found: Vec<Value> = k
                .cases
                .iter()
                .filter(|(_, c)| c.space == space && c.alerts.iter().any(|a| a == alert_id))
                .map(|(id, c)| {
                    json!({"id": id, "title": c.title, "description": "", "status": "open",
                        "createdAt": "2026-11-02T10:10:00.000Z",
                        "totals": {"alerts": c.alerts.len(), "userComments": c.comments.len()}})
                })
                .collect();
            let s = StatusCode::OK;
            done(s, json_value(s, &Value::Array(found)))
        }
        (Method::POST, ["api", "cases", case_id, "comments"]) => {
            let case_id = case_id.to_string();
            let Some(case) = k.cases.get_mut(&case_id).filter(|c| c.space == space) else {
                let s = StatusCode::NOT_FOUND;
                return done(s, kerr(s, &format!("Saved object [cases/{case_id}] not found")));
            };
            if read_only {
                let s = StatusCode::FORBIDDEN;
                return done(s, kerr(s, "Unauthorized to create case comment with owners: \"securitySolution\""));
            }
            let comment = body["comment"].as_str().unwrap_or("");
            if body["type"] != "user" || comment.trim().is_empty() {
                let s = StatusCode::BAD_REQUEST;
                return done(s, kerr(s, "a comment of type \"user\" needs a non-empty \"comment\""));
            }
            if body["owner"].as_str() != Some(case.owner.as_str()) {
                let s = StatusCode::BAD_REQUEST;
                return done(s, kerr(s, "The owner field of the comment must match the case"));
            }
            let n = case.comments.len() + 1;
            case.comments.push(json!({"id": format!("{case_id}-c{n}"), "type": "user", "comment": comment,
                "owner": case.owner, "created_by": {"username": "trailproof"}}));
            let s = StatusCode::OK;
            let out = json!({"id": case_id, "title": case.title, "owner": case.owner, "status": "open",
                "totalComment": case.comments.len(), "comments": case.comments, "version": format!("Wz{n}")});
            done(s, json_value(s, &out))
        }
        _ => {
            let s = StatusCode::NOT_FOUND;
            done(s, kerr(s, "Not Found"))
        }
    }
}

/// A field of an alert document: the flat dotted key, else the nested path.
fn field<'v>(doc: &'v Value, path: &str) -> Option<&'v Value> {
    if let Some(v) = doc.get(path) {
        return Some(v);
    }
    path.split('.').try_fold(doc, |v, k| v.get(k))
}

fn values(doc: &Value, path: &str) -> Vec<Value> {
    match field(doc, path) {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::Null) | None => Vec::new(),
        Some(v) => vec![v.clone()],
    }
}

/// `{"field": v}` or `{"field": {"value": v}}`.
fn one_field(q: &Value, kind: &str) -> Result<(String, Value), String> {
    let o = q.as_object().filter(|o| o.len() == 1).ok_or(format!("[{kind}] query malformed"))?;
    let (f, v) = o.iter().next().ok_or(format!("[{kind}] query malformed"))?;
    let v = v.get("value").cloned().unwrap_or_else(|| v.clone());
    Ok((f.clone(), v))
}

fn as_list(v: Option<&Value>) -> Vec<Value> {
    match v {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::Null) | None => Vec::new(),
        Some(x) => vec![x.clone()],
    }
}

fn matches(doc: &Value, q: &Value) -> Result<bool, String> {
    let o = q.as_object().filter(|o| o.len() == 1).ok_or("[query] malformed query: one clause per object")?;
    let Some((kind, arg)) = o.iter().next() else { return Err("[query] empty".into()) };
    match kind.as_str() {
        "match_all" => Ok(true),
        "term" => {
            let (f, v) = one_field(arg, "term")?;
            Ok(values(doc, &f).contains(&v))
        }
        "terms" => {
            let (f, v) = one_field(arg, "terms")?;
            let want = v.as_array().ok_or("[terms] query needs a list")?;
            Ok(values(doc, &f).iter().any(|x| want.contains(x)))
        }
        "prefix" => {
            let (f, v) = one_field(arg, "prefix")?;
            let p = v.as_str().ok_or("[prefix] needs a string")?;
            Ok(values(doc, &f).iter().any(|x| x.as_str().is_some_and(|s| s.starts_with(p))))
        }
        "exists" => {
            let f = arg["field"].as_str().ok_or("[exists] needs a field")?;
            Ok(!values(doc, f).is_empty())
        }
        "bool" => {
            for c in as_list(arg.get("filter")).iter().chain(as_list(arg.get("must")).iter()) {
                if !matches(doc, c)? {
                    return Ok(false);
                }
            }
            for c in as_list(arg.get("must_not")) {
                if matches(doc, &c)? {
                    return Ok(false);
                }
            }
            let should = as_list(arg.get("should"));
            if !should.is_empty() {
                let min = arg
                    .get("minimum_should_match")
                    .and_then(Value::as_u64)
                    .unwrap_or(if arg.get("filter").is_some() || arg.get("must").is_some() { 0 } else { 1 });
                let mut n = 0;
                for c in &should {
                    n += u64::from(matches(doc, c)?);
                }
                return Ok(n >= min);
            }
            Ok(true)
        }
        other => Err(format!("[{other}] query not supported by the emulator")),
    }
}
