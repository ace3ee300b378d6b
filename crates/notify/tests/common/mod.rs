//! Local mocks of the ticket services, each answering as its vendor documents (the page is cited
//! next to each behaviour), and the helpers the sink tests share.
#![allow(dead_code)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use trailproof_model::config::NotifySink;
use trailproof_model::verdict::{Risk, SessionPath, Severity, Signal, Verdict, VerdictRecord};
use trailproof_notify::DispatchOptions;
use trailproof_store::Store;

#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    pub body: String,
    pub at: Instant,
    /// The status the mock answered (0 while it is being answered).
    pub status: u16,
}

impl Req {
    pub fn ok(&self) -> bool {
        (200..300).contains(&self.status)
    }
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes()).find(|(k, _)| k == name).map(|(_, v)| v.to_string())
    }
}

/// An answer; `hang`: never answer (the client times out), after acting.
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub hang: bool,
}

impl Resp {
    pub fn json(status: u16, v: Value) -> Resp {
        Resp {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: v.to_string(),
            hang: false,
        }
    }
    pub fn text(status: u16, s: &str) -> Resp {
        Resp { status, headers: vec![("content-type".into(), "text/plain".into())], body: s.into(), hang: false }
    }
    pub fn empty(status: u16) -> Resp {
        Resp { status, headers: vec![], body: String::new(), hang: false }
    }
    pub fn header(mut self, k: &str, v: &str) -> Resp {
        self.headers.push((k.into(), v.into()));
        self
    }
    pub fn hang(mut self) -> Resp {
        self.hang = true;
        self
    }
}

pub type Behaviour = dyn Fn(&Req, &mut MockState) -> Resp + Send + Sync;

/// What a mock service holds.
#[derive(Default)]
pub struct MockState {
    /// Every request, answered or not, in arrival order.
    pub requests: Vec<Req>,
    /// Jira issues / ServiceNow incidents: label or correlation id → key or sys_id.
    pub issues: BTreeMap<String, String>,
    /// When each ticket was created (Jira's search shows it `search_lag` later).
    pub created_at: BTreeMap<String, Instant>,
    /// Tickets deleted (or hidden from the account) on the other side, and when.
    pub deleted: BTreeMap<String, Instant>,
    pub closed: BTreeSet<String>,
    pub comments: BTreeMap<String, Vec<String>>,
    pub search_lag: Duration,
    /// PagerDuty: alert per dedup_key: open?
    pub alerts: BTreeMap<String, bool>,
    /// PagerDuty: incidents opened (each one pages someone).
    pub pages: u32,
    pub change_events: Vec<Value>,
    pub n: usize,
}

impl MockState {
    /// Deletes a ticket on the other side.
    pub fn delete(&mut self, key: &str) {
        self.deleted.insert(key.to_string(), Instant::now());
    }

    pub fn count(&self, method: &str, path: &str) -> usize {
        self.requests.iter().filter(|r| r.method == method && r.path == path).count()
    }
}

#[derive(Clone)]
struct Mock {
    state: Arc<Mutex<MockState>>,
    behaviour: Arc<Behaviour>,
}

async fn handle(
    State(m): State<Mock>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> axum::response::Response {
    let req = Req {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or("").to_string(),
        headers,
        body: String::from_utf8_lossy(&body).to_string(),
        at: Instant::now(),
        status: 0,
    };
    let resp = {
        let mut st = m.state.lock().unwrap();
        st.n += 1;
        let resp = (m.behaviour)(&req, &mut st);
        st.requests.push(Req { status: if resp.hang { 0 } else { resp.status }, ..req });
        resp
    };
    if resp.hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    let mut b = axum::response::Response::builder().status(resp.status);
    for (k, v) in &resp.headers {
        b = b.header(k.as_str(), v.as_str());
    }
    b.body(axum::body::Body::from(resp.body)).unwrap()
}

pub async fn serve_on(listener: tokio::net::TcpListener, behaviour: Arc<Behaviour>) -> Arc<Mutex<MockState>> {
    let state = Arc::new(Mutex::new(MockState::default()));
    let app = Router::new().fallback(handle).with_state(Mock { state: state.clone(), behaviour });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    state
}

pub async fn serve(behaviour: Arc<Behaviour>) -> (String, Arc<Mutex<MockState>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    (url, serve_on(l, behaviour).await)
}

// ---- Jira Cloud / Data Center, REST API v2 ----

/// Jira's error body (ErrorCollection).
pub fn jira_error(messages: &[&str], errors: &[(&str, &str)]) -> Value {
    let errors: serde_json::Map<String, Value> =
        errors.iter().map(|(k, v)| (k.to_string(), Value::String(v.to_string()))).collect();
    json!({"errorMessages": messages, "errors": errors})
}

/// What Jira answers a user without the Create issues permission, or a request with the wrong
/// Authorization scheme (Bearer where Basic is expected): a 400 about the fields (JRASERVER-44003,
/// jira.atlassian.com/browse/JRASERVER-44003, "Current behaviour").
pub fn jira_no_permission_400() -> Resp {
    Resp::json(
        400,
        jira_error(
            &[],
            &[
                ("summary", "Field 'summary' cannot be set. It is not on the appropriate screen, or unknown."),
                ("description", "Field 'description' cannot be set. It is not on the appropriate screen, or unknown."),
            ],
        ),
    )
}

fn trailproof_label(v: &Value) -> Option<String> {
    v["fields"]["labels"]
        .as_array()?
        .iter()
        .filter_map(|l| l.as_str())
        .find(|l| l.starts_with("trailproof-"))
        .map(str::to_string)
}

/// A Jira mock. `cloud`: `/search` is gone (410, "The requested API has been removed") and
/// `/search/jql` serves; otherwise (Data Center) `/search/jql` is unknown (404).
pub fn jira_mock(cloud: bool) -> Arc<Behaviour> {
    Arc::new(move |r: &Req, st: &mut MockState| jira_answer(cloud, r, st))
}

pub fn jira_answer(cloud: bool, r: &Req, st: &mut MockState) -> Resp {
    if r.path == "/rest/api/2/search/jql" && !cloud {
        return Resp::json(404, jira_error(&["null for uri"], &[]));
    }
    if r.path == "/rest/api/2/search" && cloud {
        return Resp::json(410, jira_error(&["The requested API has been removed."], &[]));
    }
    let issue_of =
        |p: &str, suffix: &str| p.trim_start_matches("/rest/api/2/issue/").trim_end_matches(suffix).to_string();
    // Get issue / add comment / transitions on an issue that is deleted or that the account may
    // not see: 404 "Returned if the issue is not found or the user does not have permission to
    // view it" (Add comment, Get transitions, Transition issue).
    let gone = |key: &str, st: &MockState| st.deleted.contains_key(key) || !st.issues.values().any(|k| k == key);
    let not_found =
        || Resp::json(404, jira_error(&["Issue does not exist or you do not have permission to see it."], &[]));
    match (r.method.as_str(), r.path.as_str()) {
        ("GET", "/rest/api/2/search" | "/rest/api/2/search/jql") => {
            let jql = r.param("jql").unwrap_or_default();
            let label = jql.split('"').nth(1).unwrap_or("").to_string();
            // Search after write: "The API doesn't provide read-after-write consistency by
            // default ... The delay might vary from a few seconds to minutes" (Jira Cloud,
            // Search and reconcile). A new issue shows `search_lag` after its creation; a deleted
            // one keeps showing for as long after its deletion.
            let now = Instant::now();
            let lag = st.search_lag;
            let issues: Vec<Value> = st
                .issues
                .iter()
                .filter(|(l, _)| l.as_str() == label || l.starts_with(&format!("{label}#")))
                .filter(|(_, k)| st.created_at.get(*k).is_none_or(|t| now >= *t + lag))
                .filter(|(_, k)| st.deleted.get(*k).is_none_or(|t| now < *t + lag))
                .map(|(_, k)| json!({"id": format!("1{}", k.trim_start_matches("SEC-")), "key": k}))
                .collect();
            Resp::json(200, json!({"issues": issues, "isLast": true}))
        }
        ("POST", "/rest/api/2/issue") => {
            let v = r.json();
            let Some(label) = trailproof_label(&v) else {
                return Resp::json(400, jira_error(&[], &[("labels", "no trailproof label")]));
            };
            let n = st.created_at.len() + 1;
            let key = format!("SEC-{n}");
            // A label can carry a second issue after the first was deleted.
            let slot = if st.issues.contains_key(&label) { format!("{label}#{n}") } else { label };
            st.issues.insert(slot, key.clone());
            st.created_at.insert(key.clone(), Instant::now());
            // Create issue: 201 {"id", "key", "self"}.
            Resp::json(
                201,
                json!({"id": format!("1{n}"), "key": key, "self": format!("https://example.atlassian.net/rest/api/2/issue/1{n}")}),
            )
        }
        ("POST", p) if p.ends_with("/comment") => {
            let key = issue_of(p, "/comment");
            if gone(&key, st) {
                return not_found();
            }
            let body = r.json()["body"].as_str().unwrap_or("").to_string();
            let list = st.comments.entry(key).or_default();
            list.push(body);
            // Add comment: 201 with the comment.
            Resp::json(201, json!({"id": format!("{}", 10000 + list.len()), "body": "…"}))
        }
        ("GET", p) if p.ends_with("/transitions") => {
            let key = issue_of(p, "/transitions");
            if gone(&key, st) {
                return not_found();
            }
            // Get transitions: those available from the issue's status.
            let t = if st.closed.contains(&key) {
                json!([{"id": "41", "name": "Reopen", "to": {"name": "To Do"}}])
            } else {
                json!([{"id": "21", "name": "In Progress", "to": {"name": "In Progress"}},
                       {"id": "31", "name": "Done", "to": {"name": "Done"}}])
            };
            Resp::json(200, json!({"transitions": t}))
        }
        ("POST", p) if p.ends_with("/transitions") => {
            let key = issue_of(p, "/transitions");
            if gone(&key, st) {
                return not_found();
            }
            // Transition issue: 204; 400 when the transition is not available.
            if r.json()["transition"]["id"] == "31" && !st.closed.contains(&key) {
                st.closed.insert(key);
                Resp::empty(204)
            } else {
                Resp::json(400, jira_error(&["Transition id '41' is not valid for this issue."], &[]))
            }
        }
        _ => Resp::json(404, jira_error(&["null for uri"], &[])),
    }
}

// ---- ServiceNow, Table API ----

/// ServiceNow's error body: {"error": {"message", "detail"}, "status": "failure"}.
pub fn snow_error(status: u16, message: &str, detail: &str) -> Resp {
    Resp::json(status, json!({"error": {"message": message, "detail": detail}, "status": "failure"}))
}

pub fn snow_mock() -> Arc<Behaviour> {
    Arc::new(|r: &Req, st: &mut MockState| snow_answer(r, st))
}

pub fn snow_answer(r: &Req, st: &mut MockState) -> Resp {
    match r.method.as_str() {
        // GET /api/now/table/incident?sysparm_query=correlation_id=…: {"result": [records]}.
        "GET" if r.path == "/api/now/table/incident" => {
            let q = r.param("sysparm_query").unwrap_or_default();
            let corr = q.trim_start_matches("correlation_id=").to_string();
            let result: Vec<Value> = st
                .issues
                .iter()
                .filter(|(c, s)| **c == corr && !st.deleted.contains_key(*s))
                .map(|(_, s)| json!({"sys_id": s}))
                .collect();
            Resp::json(200, json!({"result": result}))
        }
        // POST: 201 {"result": {the new record}}.
        "POST" if r.path == "/api/now/table/incident" => {
            let v = r.json();
            let corr = v["correlation_id"].as_str().unwrap_or("").to_string();
            let n = st.created_at.len() + 1;
            let sys_id = format!("{n:032x}");
            st.issues.insert(corr, sys_id.clone());
            st.created_at.insert(sys_id.clone(), Instant::now());
            Resp::json(201, json!({"result": {"sys_id": sys_id, "number": format!("INC{:07}", n), "state": "1"}}))
        }
        // PATCH /api/now/table/incident/{sys_id}: 200 {"result": {...}}; a record that does not
        // exist or that an ACL hides: 404 "No Record found" (REST API HTTP response codes:
        // "This can be caused by an ACL constraint or if the resource does not exist").
        "PATCH" => {
            let sys_id = r.path.trim_start_matches("/api/now/table/incident/").to_string();
            if st.deleted.contains_key(&sys_id) || !st.issues.values().any(|s| *s == sys_id) {
                return snow_error(
                    404,
                    "No Record found",
                    "Record doesn't exist or ACL restricts the record retrieval",
                );
            }
            let v = r.json();
            if v["state"] == "6" {
                st.closed.insert(sys_id.clone());
            }
            if let Some(n) = v["work_notes"].as_str() {
                st.comments.entry(sys_id.clone()).or_default().push(n.to_string());
            }
            Resp::json(200, json!({"result": {"sys_id": sys_id}}))
        }
        _ => snow_error(400, "Requested URI does not represent any resource", ""),
    }
}

// ---- PagerDuty, Events API v2 ----

/// Events API v2 as documented (Send an Alert Event; Overview, "Response Codes & Retry Logic"):
/// - a `routing_key` of the wrong length: 400 {"status": "invalid event", "message": "Event
///   object is invalid", "errors": ["Length of 'routing_key' is incorrect (should be 32
///   characters)"]};
/// - otherwise 202 {"status": "success", "message": "Event processed", "dedup_key": …};
/// - `trigger`: "A new alert is opened or a trigger log entry is created on an existing alert if
///   one already exists with the same dedup_key"; "Once the alert is resolved, any further
///   events with the same dedup_key will create a new alert (for trigger events) or be dropped
///   (for acknowledge and resolve events)". A new alert opens an incident, which pages.
pub fn pagerduty_mock() -> Arc<Behaviour> {
    Arc::new(|r: &Req, st: &mut MockState| pagerduty_answer(r, st))
}

pub fn pagerduty_answer(r: &Req, st: &mut MockState) -> Resp {
    let v = r.json();
    let rk = v["routing_key"].as_str().unwrap_or("");
    if rk.len() != 32 {
        return Resp::json(
            400,
            json!({"status": "invalid event", "message": "Event object is invalid",
                   "errors": ["Length of 'routing_key' is incorrect (should be 32 characters)"]}),
        );
    }
    match r.path.as_str() {
        "/v2/enqueue" => {
            let dedup = v["dedup_key"].as_str().unwrap_or("").to_string();
            match v["event_action"].as_str() {
                Some("trigger") => {
                    if !st.alerts.get(&dedup).copied().unwrap_or(false) {
                        st.pages += 1;
                    }
                    st.alerts.insert(dedup.clone(), true);
                }
                Some("resolve") => {
                    if let Some(open) = st.alerts.get_mut(&dedup) {
                        *open = false;
                    }
                }
                _ => {}
            }
            Resp::json(202, json!({"status": "success", "message": "Event processed", "dedup_key": dedup}))
        }
        // Change events (Send a Change Event): 202; they notify no one.
        "/v2/change/enqueue" => {
            st.change_events.push(v);
            Resp::json(202, json!({"status": "success", "message": "Change event processed"}))
        }
        _ => Resp::empty(404),
    }
}

/// Routing keys of 32 characters, as the Events API wants: a service's integration key, and a
/// ruleset's (they "begin with the character R", Events API v2 Overview).
pub const SERVICE_KEY: &str = "e93facc04764012d7bfb002500d5d1a6";
pub const RULESET_KEY: &str = "R0UT1NGKEY0123456789abcdef012345";

// ---- Slack, incoming webhooks ----

/// Slack incoming webhooks: 200 with the body `ok`; errors as a status and a code in the body
/// ("Improving error conditions for Incoming Webhooks", api.slack.com/changelog/2016-05-17):
/// 400 `invalid_payload` / `user_not_found`, 403 `action_prohibited`, 404 `channel_not_found`,
/// 410 `channel_is_archived`, 500 `rollup_error`.
pub fn slack_ok() -> Arc<Behaviour> {
    Arc::new(|_r: &Req, _st: &mut MockState| Resp::text(200, "ok"))
}

// ---- records and sinks ----

pub fn rec(id: &str, verdict: Verdict, score: u8) -> VerdictRecord {
    VerdictRecord {
        console_login_event_id: id.into(),
        account_id: Some("111122223333".into()),
        arn: Some(format!("arn:aws:sts::111122223333:assumed-role/Admin/{id}@example.com")),
        session_name: Some(format!("{id}@example.com <!channel> *x*")),
        time: "2026-11-02T10:15:32Z".into(),
        source_ip: Some("198.51.100.7".into()),
        user_agent: Some("<script>alert(1)</script>".into()),
        path: SessionPath::Saml,
        verdict,
        reason: None,
        identity: None,
        mfa: None,
        evidence: vec![],
        risk: Risk {
            score,
            severity: if score >= 90 {
                Severity::Critical
            } else if score >= 60 {
                Severity::High
            } else {
                Severity::Low
            },
            signals: if verdict == Verdict::Enforced { vec![] } else { vec![Signal::NoMfa] },
        },
        explanation: format!("Console sign-in {id}."),
        version: 0,
    }
}

pub fn put(store: &mut Store, recs: &[VerdictRecord]) {
    let mut b = store.batch().unwrap();
    b.put_verdicts(recs).unwrap();
    b.commit().unwrap();
}

pub fn secret_file(dir: &std::path::Path, name: &str, value: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, value).unwrap();
    p.display().to_string()
}

pub fn sink(name: &str, kind: &str, url: &str, secret_file: &str) -> NotifySink {
    NotifySink {
        name: name.into(),
        kind: kind.into(),
        url: url.into(),
        secret_file: secret_file.into(),
        user: if kind == "servicenow" || kind == "jira" { "bot@example.com".into() } else { String::new() },
        project: "SEC".into(),
        requests_per_minute: 0,
        max_retries: 3,
        retry_initial_ms: 5,
        retry_max_ms: 50,
        request_timeout_seconds: 2,
        search_lag_seconds: 2,
        backfill: true,
        ..NotifySink::default()
    }
}

pub fn opts() -> DispatchOptions {
    DispatchOptions { dry_run: false, now_ms: 1_800_000_000_000 }
}
