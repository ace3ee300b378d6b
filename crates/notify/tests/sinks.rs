//! Every sink against a local mock of its service: request shapes, one ticket per session, updates
//! and closing on later verdict versions, retries through a sink that is down for a while, a run
//! cut off mid-dispatch, and dry runs.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use trailproof_model::config::NotifySink;
use trailproof_model::verdict::{Risk, SessionPath, Severity, Signal, Verdict, VerdictRecord};
use trailproof_notify::{DispatchOptions, dispatch, sign};
use trailproof_store::Store;

#[derive(Debug, Clone)]
struct Req {
    method: String,
    path: String,
    query: String,
    headers: HeaderMap,
    body: String,
}

type Behaviour = dyn Fn(&Req, &mut MockState) -> (StatusCode, Vec<(&'static str, String)>, String) + Send + Sync;

#[derive(Default)]
struct MockState {
    requests: Vec<Req>,
    /// Jira issues / ServiceNow incidents: label or correlation id → key.
    issues: BTreeMap<String, String>,
    comments: BTreeMap<String, Vec<String>>,
    n: usize,
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
    };
    let (status, hdrs, body) = {
        let mut st = m.state.lock().unwrap();
        st.n += 1;
        let out = (m.behaviour)(&req, &mut st);
        if out.0.is_success() {
            st.requests.push(req);
        }
        out
    };
    if status == StatusCode::GATEWAY_TIMEOUT {
        // "Hang": never answer within the client's timeout.
        tokio::time::sleep(Duration::from_secs(30)).await;
    }
    let mut resp = axum::response::Response::builder().status(status);
    for (k, v) in hdrs {
        resp = resp.header(k, v);
    }
    resp.body(axum::body::Body::from(body)).unwrap()
}

async fn serve_on(listener: tokio::net::TcpListener, behaviour: Arc<Behaviour>) -> Arc<Mutex<MockState>> {
    let state = Arc::new(Mutex::new(MockState::default()));
    let app = Router::new().fallback(handle).with_state(Mock { state: state.clone(), behaviour });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    state
}

async fn serve(behaviour: Arc<Behaviour>) -> (String, Arc<Mutex<MockState>>) {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    (url, serve_on(l, behaviour).await)
}

fn ok() -> (StatusCode, Vec<(&'static str, String)>, String) {
    (StatusCode::OK, vec![], "{}".into())
}

/// A Jira Server / Data Center mock: search by label (`/search`; no `/search/jql`), create,
/// comment.
fn jira() -> Arc<Behaviour> {
    jira_mock(false)
}

/// `cloud`: Jira Cloud, where `/search` is gone (410) and `/search/jql` serves.
fn jira_mock(cloud: bool) -> Arc<Behaviour> {
    Arc::new(move |r: &Req, st: &mut MockState| {
        if r.path == "/rest/api/2/search/jql" && !cloud {
            return (StatusCode::NOT_FOUND, vec![], "{}".into());
        }
        if r.path == "/rest/api/2/search" && cloud {
            return (StatusCode::GONE, vec![], r#"{"errorMessages":["The requested API has been removed."]}"#.into());
        }
        let label_of = |q: &str| -> Option<String> {
            let q = url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "jql")?.1.to_string();
            Some(q.split('"').nth(1)?.to_string())
        };
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/rest/api/2/search" | "/rest/api/2/search/jql") => {
                let label = label_of(&r.query).unwrap_or_default();
                let issues: Vec<Value> = st.issues.get(&label).map(|k| json!({"key": k})).into_iter().collect();
                (StatusCode::OK, vec![], json!({"issues": issues}).to_string())
            }
            ("POST", "/rest/api/2/issue") => {
                let v: Value = serde_json::from_str(&r.body).unwrap();
                let label = v["fields"]["labels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|l| l.as_str())
                    .find(|l| l.starts_with("trailproof-"))
                    .unwrap()
                    .to_string();
                let key = format!("SEC-{}", st.issues.len() + 1);
                st.issues.insert(label, key.clone());
                (StatusCode::CREATED, vec![], json!({"key": key}).to_string())
            }
            ("POST", p) if p.ends_with("/comment") => {
                let key = p.trim_start_matches("/rest/api/2/issue/").trim_end_matches("/comment").to_string();
                let v: Value = serde_json::from_str(&r.body).unwrap();
                st.comments.entry(key).or_default().push(v["body"].as_str().unwrap().to_string());
                (StatusCode::CREATED, vec![], "{}".into())
            }
            _ => (StatusCode::NOT_FOUND, vec![], "{}".into()),
        }
    })
}

fn rec(id: &str, verdict: Verdict, score: u8) -> VerdictRecord {
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
            severity: if score >= 60 { Severity::High } else { Severity::Low },
            signals: if verdict == Verdict::Enforced { vec![] } else { vec![Signal::NoMfa] },
        },
        explanation: format!("Console sign-in {id}."),
        version: 0,
    }
}

fn put(store: &mut Store, recs: &[VerdictRecord]) {
    let mut b = store.batch().unwrap();
    b.put_verdicts(recs).unwrap();
    b.commit().unwrap();
}

fn secret_file(dir: &std::path::Path, name: &str, value: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, value).unwrap();
    p.display().to_string()
}

fn sink(name: &str, kind: &str, url: &str, secret_file: &str) -> NotifySink {
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
        backfill: true,
        ..NotifySink::default()
    }
}

fn opts() -> DispatchOptions {
    DispatchOptions { dry_run: false, now_ms: 1_800_000_000_000 }
}

#[tokio::test]
async fn jira_one_issue_per_session_comment_on_change_close_on_enforced() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(&tmp.path().join("tp.db")).unwrap();
    let (url, st) = serve(jira()).await;
    let cfg = [sink("jira", "jira", &url, &secret_file(tmp.path(), "t", "jira-api-token-123"))];
    put(
        &mut store,
        &[rec("s1", Verdict::NotEnforced, 60), rec("s2", Verdict::Enforced, 0), rec("s3", Verdict::NoIdpLogin, 80)],
    );

    let s = dispatch(&store, &cfg, &opts()).await.unwrap();
    assert_eq!((s.sinks[0].created, s.sinks[0].skipped), (2, 1), "{:?}", s.sinks[0]);
    {
        let st = st.lock().unwrap();
        assert_eq!(st.issues.len(), 2);
        let create = st.requests.iter().find(|r| r.method == "POST" && r.path == "/rest/api/2/issue").unwrap();
        // Basic auth with the e-mail and the token; the token is nowhere else.
        let auth = create.headers["authorization"].to_str().unwrap();
        assert!(auth.starts_with("Basic "), "{auth}");
        let v: Value = serde_json::from_str(&create.body).unwrap();
        assert_eq!(v["fields"]["project"]["key"], "SEC");
        let desc = v["fields"]["description"].as_str().unwrap();
        assert!(desc.contains("trailproof lookup s1") || desc.contains("trailproof lookup s3"), "{desc}");
        assert!(!desc.contains("<script>") || desc.contains("\\<script\\>"), "escaped for wiki markup: {desc}");
    }

    // Nothing new: nothing sent.
    let before = st.lock().unwrap().requests.len();
    let s = dispatch(&store, &cfg, &opts()).await.unwrap();
    assert_eq!(s.sinks[0].created + s.sinks[0].updated, 0);
    assert_eq!(st.lock().unwrap().requests.len(), before);

    // s1's verdict changes twice before the next run (one comment, the latest), then turns out
    // enforced (a closing comment). Still one issue each.
    let mut s1 = rec("s1", Verdict::NotEnforced, 70);
    put(&mut store, std::slice::from_ref(&s1));
    s1.risk.score = 75;
    put(&mut store, std::slice::from_ref(&s1));
    let s = dispatch(&store, &cfg, &opts()).await.unwrap();
    assert_eq!((s.sinks[0].created, s.sinks[0].updated), (0, 1));
    put(&mut store, &[rec("s1", Verdict::Enforced, 0)]);
    let s = dispatch(&store, &cfg, &opts()).await.unwrap();
    assert_eq!(s.sinks[0].closed, 1);
    let st = st.lock().unwrap();
    assert_eq!(st.issues.len(), 2, "never a second issue for a session");
    let key = st.issues.iter().find(|(l, _)| l.ends_with("s1")).unwrap().1;
    let comments = &st.comments[key];
    assert_eq!(comments.len(), 2, "{comments:#?}");
    assert!(comments[1].contains("Closing"), "{}", comments[1]);
    assert!(!format!("{s:?}").contains("jira-api-token-123"));
}

#[tokio::test]
async fn a_webhook_down_for_a_while_gets_every_ticket_once_signed() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(&tmp.path().join("tp.db")).unwrap();
    // Reserve a port, and let nothing listen on it yet: connections are refused.
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr: SocketAddr = l.local_addr().unwrap();
    drop(l);
    let key = "hmac-signing-key-456";
    let cfg = [sink("hook", "webhook", &format!("http://{addr}/hook"), &secret_file(tmp.path(), "k", key))];
    let recs: Vec<VerdictRecord> = (0..6).map(|i| rec(&format!("w{i}"), Verdict::NotEnforced, 60)).collect();
    put(&mut store, &recs);

    let s = dispatch(&store, &cfg, &opts()).await.unwrap();
    assert!(s.failed());
    assert_eq!(s.sinks[0].pending, 6, "{:?}", s.sinks[0]);
    assert!(s.sinks[0].error.as_deref().unwrap().contains("cannot connect"), "{:?}", s.sinks[0].error);

    // Back, but flaky: two 503s, a 429 with Retry-After, then fine; a 503 again later.
    let behaviour: Arc<Behaviour> = Arc::new(|_r: &Req, st: &mut MockState| match st.n {
        1 | 2 | 6 => (StatusCode::SERVICE_UNAVAILABLE, vec![], String::new()),
        3 => (StatusCode::TOO_MANY_REQUESTS, vec![("retry-after", "1".to_string())], String::new()),
        _ => (StatusCode::NO_CONTENT, vec![], String::new()),
    });
    let st = serve_on(tokio::net::TcpListener::bind(addr).await.unwrap(), behaviour).await;
    let s = dispatch(&store, &cfg, &opts()).await.unwrap();
    assert!(!s.failed(), "{:?}", s.sinks[0]);
    assert_eq!(s.sinks[0].created, 6);
    let st = st.lock().unwrap();
    let mut per_key: BTreeMap<String, u32> = BTreeMap::new();
    for r in &st.requests {
        let sig = r.headers["x-trailproof-signature"].to_str().unwrap();
        assert_eq!(sig, format!("sha256={}", sign(key.as_bytes(), r.body.as_bytes())), "signature");
        let v: Value = serde_json::from_str(&r.body).unwrap();
        *per_key.entry(v["dedup_key"].as_str().unwrap().to_string()).or_default() += 1;
        assert_eq!(v["verdict"]["user_agent"], "<script>alert(1)</script>", "JSON carries the value as data");
    }
    assert_eq!(per_key.len(), 6);
    assert!(per_key.values().all(|n| *n == 1), "{per_key:?}");
}

#[tokio::test]
async fn a_dispatch_cut_off_mid_way_resumes_without_duplicates() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(&tmp.path().join("tp.db")).unwrap();
    let recs: Vec<VerdictRecord> = (0..5).map(|i| rec(&format!("k{i}"), Verdict::NotEnforced, 60)).collect();
    put(&mut store, &recs);
    // Jira creates the third issue, then the process dies before its reply arrives (the call
    // hangs and the dispatch is dropped), so trailproof has not recorded it.
    let inner = jira();
    let hang_after_create: Arc<Behaviour> = Arc::new(move |r: &Req, st: &mut MockState| {
        let out = inner(r, st);
        if r.method == "POST" && r.path == "/rest/api/2/issue" && st.issues.len() == 3 {
            return (StatusCode::GATEWAY_TIMEOUT, vec![], String::new());
        }
        out
    });
    let (url, st) = serve(hang_after_create).await;
    let mut cfg = sink("jira", "jira", &url, &secret_file(tmp.path(), "t", "jira-api-token-123"));
    cfg.request_timeout_seconds = 60;
    let cfg = [cfg];
    let cut = tokio::time::timeout(Duration::from_secs(3), dispatch(&store, &cfg, &opts())).await;
    assert!(cut.is_err(), "the dispatch was cut off");
    assert_eq!(st.lock().unwrap().issues.len(), 3);
    // Restart against the same service, now answering.
    let (url2, st2) = serve(jira()).await;
    st2.lock().unwrap().issues = st.lock().unwrap().issues.clone();
    let cfg = [sink("jira", "jira", &url2, &secret_file(tmp.path(), "t", "jira-api-token-123"))];
    let s = dispatch(&store, &cfg, &opts()).await.unwrap();
    assert!(!s.failed(), "{:?}", s.sinks[0]);
    let st2 = st2.lock().unwrap();
    assert_eq!(st2.issues.len(), 5, "every session has its issue, none twice: {:?}", st2.issues);
    let creates = st2.requests.iter().filter(|r| r.method == "POST" && r.path == "/rest/api/2/issue").count();
    assert_eq!(creates, 2, "the issue created before the cut was found by its label, not created again");
}

#[tokio::test]
async fn servicenow_pagerduty_and_slack_requests_carry_the_dedup_key_and_escape_text() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(&tmp.path().join("tp.db")).unwrap();
    put(&mut store, &[rec("p1", Verdict::NotEnforced, 60)]);
    let snow: Arc<Behaviour> = Arc::new(|r: &Req, _st: &mut MockState| match r.method.as_str() {
        "GET" => (StatusCode::OK, vec![], json!({"result": []}).to_string()),
        "POST" => (StatusCode::CREATED, vec![], json!({"result": {"sys_id": "abc123"}}).to_string()),
        _ => ok(),
    });
    let (snow_url, snow_st) = serve(snow).await;
    let (pd_url, pd_st) =
        serve(Arc::new(|_r: &Req, _s: &mut MockState| (StatusCode::ACCEPTED, vec![], "{}".into()))).await;
    let (slack_url, slack_st) =
        serve(Arc::new(|_r: &Req, _s: &mut MockState| (StatusCode::OK, vec![], "ok".into()))).await;
    let cfg = [
        sink("snow", "servicenow", &snow_url, &secret_file(tmp.path(), "s", "snow-password-789")),
        sink("pd", "pagerduty", &pd_url, &secret_file(tmp.path(), "p", "R0UTINGKEY0123456789")),
        sink("slack", "slack", "", &secret_file(tmp.path(), "w", &format!("{slack_url}/services/T/B/X"))),
    ];
    let s = dispatch(&store, &cfg, &opts()).await.unwrap();
    assert!(!s.failed(), "{s:?}");
    assert!(s.sinks.iter().all(|x| x.created == 1), "{s:?}");
    {
        let snow = snow_st.lock().unwrap();
        assert!(
            snow.requests[0].query.contains("correlation_id%3Dtrailproof%3A111122223333%3Ap1"),
            "{}",
            snow.requests[0].query
        );
        let created: Value = serde_json::from_str(&snow.requests[1].body).unwrap();
        assert_eq!(created["correlation_id"], "trailproof:111122223333:p1");
        assert!(snow.requests[1].headers["authorization"].to_str().unwrap().starts_with("Basic "));
        let pd: Value = serde_json::from_str(&pd_st.lock().unwrap().requests[0].body).unwrap();
        assert_eq!(pd["dedup_key"], "trailproof:111122223333:p1");
        assert_eq!(pd["event_action"], "trigger");
        assert_eq!(pd["routing_key"], "R0UTINGKEY0123456789");
        let slack = slack_st.lock().unwrap();
        assert_eq!(slack.requests[0].path, "/services/T/B/X");
        let text =
            serde_json::from_str::<Value>(&slack.requests[0].body).unwrap()["text"].as_str().unwrap().to_string();
        assert!(!text.contains("<!channel>") && text.contains("&lt;!channel&gt;"), "{text}");
        assert!(!text.contains("<script>"), "{text}");
    }

    // The session turns out enforced: PagerDuty resolves, ServiceNow resolves with a note.
    put(&mut store, &[rec("p1", Verdict::Enforced, 0)]);
    let s = dispatch(&store, &cfg, &opts()).await.unwrap();
    assert!(s.sinks.iter().all(|x| x.closed == 1), "{s:?}");
    let pd: Value = serde_json::from_str(&pd_st.lock().unwrap().requests[1].body).unwrap();
    assert_eq!(pd["event_action"], "resolve");
    let snow = snow_st.lock().unwrap();
    let patch = snow.requests.iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(patch.path, "/api/now/table/incident/abc123");
    assert_eq!(serde_json::from_str::<Value>(&patch.body).unwrap()["state"], "6");
}

#[tokio::test]
async fn a_dry_run_sends_nothing_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(&tmp.path().join("tp.db")).unwrap();
    put(&mut store, &[rec("d1", Verdict::NotEnforced, 60), rec("d2", Verdict::Enforced, 0)]);
    let (url, st) = serve(jira()).await;
    let cfg = [sink("jira", "jira", &url, &secret_file(tmp.path(), "t", "jira-api-token-123"))];
    let s = dispatch(&store, &cfg, &DispatchOptions { dry_run: true, ..opts() }).await.unwrap();
    assert_eq!(s.sinks[0].planned.len(), 1, "{:?}", s.sinks[0]);
    assert!(s.sinks[0].planned[0].contains("would create 111122223333:d1"));
    assert_eq!(st.lock().unwrap().n, 0);
    assert_eq!(store.notify_cursor("jira").unwrap(), None);
    let s = dispatch(&store, &cfg, &opts()).await.unwrap();
    assert_eq!(s.sinks[0].created, 1);
}

#[tokio::test]
async fn jira_cloud_search_and_a_refused_ticket_do_not_block_the_queue() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(&tmp.path().join("tp.db")).unwrap();
    let cloud = jira_mock(true);
    // The service refuses the ticket of one session (say, a field it cannot take).
    let refusing: Arc<Behaviour> = Arc::new(move |r: &Req, st: &mut MockState| {
        if r.method == "POST" && r.path == "/rest/api/2/issue" && r.body.contains("bad@example.com") {
            return (StatusCode::BAD_REQUEST, vec![], r#"{"errors":{"summary":"too long"}}"#.into());
        }
        cloud(r, st)
    });
    let (url, st) = serve(refusing).await;
    let cfg = [sink("jira", "jira", &url, &secret_file(tmp.path(), "t", "jira-api-token-123"))];
    put(
        &mut store,
        &[
            rec("ok1", Verdict::NotEnforced, 60),
            rec("bad", Verdict::NotEnforced, 60),
            rec("ok2", Verdict::NoIdpLogin, 80),
        ],
    );
    let s = dispatch(&store, &cfg, &opts()).await.unwrap();
    let j = &s.sinks[0];
    assert_eq!((j.created, j.rejected, j.pending), (2, 1, 0), "{j:?}");
    assert!(s.failed(), "a refused ticket is reported");
    assert!(j.rejections[0].contains("HTTP 400") && j.rejections[0].contains(":bad"), "{:?}", j.rejections);
    {
        let st = st.lock().unwrap();
        assert_eq!(st.issues.len(), 2);
        assert!(st.requests.iter().all(|r| r.path != "/rest/api/2/search"), "Cloud is searched with /search/jql");
    }
    // Nothing is retried for the same version...
    let n = st.lock().unwrap().n;
    let s = dispatch(&store, &cfg, &opts()).await.unwrap();
    assert_eq!(s.sinks[0].rejected + s.sinks[0].created, 0);
    assert_eq!(st.lock().unwrap().n, n);
    // ... and a new version of the refused session is filed again (as a new ticket).
    let mut fixed = rec("bad", Verdict::NotEnforced, 70);
    fixed.session_name = Some("fixed@example.com".into());
    put(&mut store, &[fixed]);
    let s = dispatch(&store, &cfg, &opts()).await.unwrap();
    assert_eq!(s.sinks[0].created, 1, "{:?}", s.sinks[0]);
}
