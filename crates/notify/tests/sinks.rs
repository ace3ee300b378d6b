//! Every sink against a local mock of its service: request shapes, one ticket per session, updates
//! and closing on later verdict versions, retries through a sink that is down for a while, a run
//! cut off mid-dispatch, and dry runs.

mod common;

use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use trailproof_model::verdict::{Verdict, VerdictRecord};
use trailproof_notify::{DispatchOptions, dispatch, sign, verify_standard, webhook_key};
use trailproof_store::Store;

fn jira() -> Arc<Behaviour> {
    jira_mock(false)
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
    // No close_transition: a closing comment, reported as such; the issue stays open.
    assert_eq!((s.sinks[0].closed, s.sinks[0].close_comments), (0, 1), "{:?}", s.sinks[0]);
    assert!(s.sinks[0].line().contains("1 closing comments (tickets left open)"), "{}", s.sinks[0].line());
    let st = st.lock().unwrap();
    assert_eq!(st.issues.len(), 2, "never a second issue for a session");
    assert!(st.closed.is_empty());
    let key = st.issues.iter().find(|(l, _)| l.ends_with("s1")).unwrap().1;
    let comments = &st.comments[key];
    assert_eq!(comments.len(), 2, "{comments:#?}");
    assert!(
        comments[1].contains("MFA was enforced after all") && comments[1].contains("no close_transition"),
        "{}",
        comments[1]
    );
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
        1 | 2 | 6 => Resp::empty(503),
        3 => Resp::empty(429).header("retry-after", "1"),
        _ => Resp::empty(204),
    });
    let st = serve_on(tokio::net::TcpListener::bind(addr).await.unwrap(), behaviour).await;
    let s = dispatch(&store, &cfg, &opts()).await.unwrap();
    assert!(!s.failed(), "{:?}", s.sinks[0]);
    assert_eq!(s.sinks[0].created, 6);
    let st = st.lock().unwrap();
    let mut per_key: BTreeMap<String, u32> = BTreeMap::new();
    let hmac_key = webhook_key(key).unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    for r in &st.requests {
        // Standard Webhooks on every attempt, and the old header for this version.
        let (id, ts, sig) = (
            r.header("webhook-id").unwrap(),
            r.header("webhook-timestamp").unwrap(),
            r.header("webhook-signature").unwrap(),
        );
        assert!(verify_standard(&hmac_key, id, ts, sig, r.body.as_bytes(), now, 300), "signature of {id}");
        assert_eq!(
            r.header("x-trailproof-signature").unwrap(),
            format!("sha256={}", sign(key.as_bytes(), r.body.as_bytes()))
        );
        if r.ok() {
            let v: Value = serde_json::from_str(&r.body).unwrap();
            *per_key.entry(v["dedup_key"].as_str().unwrap().to_string()).or_default() += 1;
            assert_eq!(v["verdict"]["user_agent"], "<script>alert(1)</script>", "JSON carries the value as data");
        }
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
    let hang_after_create: Arc<Behaviour> = Arc::new(move |r: &Req, st: &mut MockState| {
        let out = jira_answer(false, r, st);
        if r.method == "POST" && r.path == "/rest/api/2/issue" && st.issues.len() == 3 {
            return out.hang();
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
    {
        let (a, mut b) = (st.lock().unwrap(), st2.lock().unwrap());
        b.issues = a.issues.clone();
        b.created_at = a.created_at.clone();
    }
    let cfg = [sink("jira", "jira", &url2, &secret_file(tmp.path(), "t", "jira-api-token-123"))];
    let s = dispatch(&store, &cfg, &opts()).await.unwrap();
    assert!(!s.failed(), "{:?}", s.sinks[0]);
    let st2 = st2.lock().unwrap();
    assert_eq!(st2.issues.len(), 5, "every session has its issue, none twice: {:?}", st2.issues);
    assert_eq!(
        st2.count("POST", "/rest/api/2/issue"),
        2,
        "the issue created before the cut was found by its label, not created again"
    );
}

#[tokio::test]
async fn servicenow_pagerduty_and_slack_requests_carry_the_dedup_key_and_escape_text() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(&tmp.path().join("tp.db")).unwrap();
    put(&mut store, &[rec("p1", Verdict::NotEnforced, 60)]);
    let (snow_url, snow_st) = serve(snow_mock()).await;
    let (pd_url, pd_st) = serve(pagerduty_mock()).await;
    let (slack_url, slack_st) = serve(slack_ok()).await;
    let cfg = [
        sink("snow", "servicenow", &snow_url, &secret_file(tmp.path(), "s", "snow-password-789")),
        sink("pd", "pagerduty", &pd_url, &secret_file(tmp.path(), "p", SERVICE_KEY)),
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
        assert_eq!(pd["routing_key"], SERVICE_KEY);
        let slack = slack_st.lock().unwrap();
        assert_eq!(slack.requests[0].path, "/services/T/B/X");
        let text =
            serde_json::from_str::<Value>(&slack.requests[0].body).unwrap()["text"].as_str().unwrap().to_string();
        assert!(!text.contains("<!channel>") && text.contains("&lt;!channel&gt;"), "{text}");
        assert!(!text.contains("<script>"), "{text}");
    }

    // The session turns out enforced: PagerDuty resolves, ServiceNow resolves with a note, Slack
    // can only post a closing message (reported as such).
    put(&mut store, &[rec("p1", Verdict::Enforced, 0)]);
    let s = dispatch(&store, &cfg, &opts()).await.unwrap();
    assert!(!s.failed(), "{s:?}");
    assert_eq!(s.sinks.iter().map(|x| (x.closed, x.close_comments)).collect::<Vec<_>>(), [(1, 0), (1, 0), (0, 1)]);
    let pd: Value = serde_json::from_str(&pd_st.lock().unwrap().requests[1].body).unwrap();
    assert_eq!(pd["event_action"], "resolve");
    let snow = snow_st.lock().unwrap();
    let patch = snow.requests.iter().find(|r| r.method == "PATCH").unwrap();
    assert_eq!(patch.path, format!("/api/now/table/incident/{}", snow.issues["trailproof:111122223333:p1"]));
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
    // The service refuses the ticket of one session (say, a field it cannot take).
    let refusing: Arc<Behaviour> = Arc::new(move |r: &Req, st: &mut MockState| {
        if r.method == "POST" && r.path == "/rest/api/2/issue" && r.body.contains("bad@example.com") {
            return Resp::json(400, jira_error(&[], &[("summary", "too long")]));
        }
        jira_answer(true, r, st)
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

/// The `[[notify]]` entries of config/trailproof.example.toml, uncommented, are valid: every key
/// is known and every sink builds (with a secret from a file instead of the environment).
#[test]
fn the_example_configurations_notify_sinks_build() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/trailproof.example.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let start = text.find("# [[notify]]").unwrap();
    let toml_text: String = text[start..]
        .lines()
        .take_while(|l| l.starts_with('#'))
        .map(|l| l.strip_prefix("# ").or_else(|| l.strip_prefix('#')).unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n");
    let mut cfg: trailproof_model::config::Config = toml::from_str(&toml_text).unwrap();
    assert_eq!(cfg.notify.len(), 6);
    let tmp = tempfile::tempdir().unwrap();
    let file = secret_file(tmp.path(), "s", "https://hooks.slack.com/services/T000/B000/XXXXXXXX");
    for s in &mut cfg.notify {
        s.secret_env.clear();
        s.secret_file = file.clone();
    }
    let built = trailproof_notify::build_all(&cfg.notify).unwrap();
    assert_eq!(built.len(), 5, "the ticket sinks; the Elasticsearch one is checked and dispatched apart");
    let es = trailproof_notify::elastic::ElasticSink::build(&cfg.notify[5]).unwrap();
    assert_eq!(es.data_stream, "logs-trailproof.verdict-default");
    assert_eq!(es.alert.as_ref().map(|a| a.1.as_str()), Some("logs-trailproof.alert-default"));
    let jira = &cfg.notify[0];
    assert_eq!((jira.on_gone.as_str(), jira.search_lag_seconds, jira.max_wait_seconds), ("recreate", 60, 600));
    // Slack: one message a second at most.
    assert_eq!(built[3].interval(), Some(Duration::from_millis(1020)));
}
