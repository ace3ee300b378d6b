//! A service, or a proxy or WAF in front of it, that echoes the request in its error page (issue
//! 17): nothing trailproof reports may carry a credential in any form it took on the wire.

mod common;

use common::*;
use std::sync::Arc;
use trailproof_model::verdict::Verdict;
use trailproof_notify::dispatch;
use trailproof_store::Store;

/// Answers every request with `status` and an HTML page quoting the request line, its headers
/// and its body, as a misconfigured proxy does.
fn echo(status: u16) -> Arc<Behaviour> {
    Arc::new(move |r: &Req, _st: &mut MockState| {
        let headers: Vec<String> =
            r.headers.iter().map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("?"))).collect();
        Resp::text(
            status,
            &format!(
                "<html><body><h1>Request blocked</h1><pre>{} {}{} HTTP/1.1\n{}\n\n{}</pre></body></html>",
                r.method,
                r.path,
                if r.query.is_empty() { String::new() } else { format!("?{}", r.query) },
                headers.join("\n"),
                r.body
            ),
        )
    })
}

/// Every text of the summaries.
fn all_text(s: &trailproof_notify::DispatchSummary) -> String {
    let mut out = Vec::new();
    for k in &s.sinks {
        out.extend(k.error.clone());
        out.extend(k.rejections.iter().cloned());
        out.extend(k.held.iter().cloned());
        out.extend(k.notes.iter().cloned());
    }
    out.join("\n")
}

#[tokio::test]
async fn basic_credentials_echoed_by_jira_or_servicenow_are_redacted() {
    for (kind, status) in [("jira", 400), ("jira", 502), ("servicenow", 400), ("servicenow", 403)] {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = Store::open(&tmp.path().join("tp.db")).unwrap();
        let (url, st) = serve(echo(status)).await;
        let token = format!("ATATT3xFfGF0{kind}{status}-secret-token");
        let mut cfg = sink(kind, kind, &url, &secret_file(tmp.path(), "t", &token));
        cfg.max_retries = 0;
        put(&mut store, &[rec("a", Verdict::NotEnforced, 60), rec("b", Verdict::NotEnforced, 60)]);
        let s = dispatch(&store, &[cfg], &opts()).await.unwrap();
        // The echo did carry the credentials, base64 encoded…
        let auth = {
            let st = st.lock().unwrap();
            st.requests[0].header("authorization").unwrap_or_default().to_string()
        };
        let b64 = auth.strip_prefix("Basic ").expect("basic auth").to_string();
        let text = all_text(&s);
        assert!(text.contains("HTTP"), "the failure is reported: {text}");
        // … and no form of them reaches a message.
        for leak in [token.as_str(), b64.as_str(), &b64[..20], "bot@example.com:"] {
            assert!(!text.contains(leak), "{kind} {status}: {leak:?} in {text}");
        }
    }
}

#[tokio::test]
async fn the_secret_path_of_a_slack_webhook_is_redacted() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(&tmp.path().join("tp.db")).unwrap();
    let (base, _st) = serve(echo(403)).await;
    let hook = format!("{base}/services/T0AAA0000/B0BBB0000/sEcReTsLaCkPaThXyZ123456");
    let mut cfg = sink("slack", "slack", "", &secret_file(tmp.path(), "hook", &hook));
    cfg.max_retries = 0;
    put(&mut store, &[rec("a", Verdict::NotEnforced, 60), rec("b", Verdict::NotEnforced, 60)]);
    let s = dispatch(&store, &[cfg], &opts()).await.unwrap();
    let text = all_text(&s);
    assert!(text.contains("HTTP 403"), "{text}");
    for leak in ["sEcReTsLaCkPaThXyZ123456", "/services/T0AAA0000/B0BBB0000", "%2Fservices"] {
        assert!(!text.contains(leak), "{leak:?} in {text}");
    }
}

/// Control characters from a log never reach a receiver's JSON: `jq -r .verdict.session_name`
/// must not replay an escape on an analyst's terminal.
#[tokio::test]
async fn the_webhook_verdict_object_carries_no_control_character() {
    let tmp = tempfile::tempdir().unwrap();
    let mut store = Store::open(&tmp.path().join("tp.db")).unwrap();
    let (base, st) = serve(Arc::new(|_r: &Req, _st: &mut MockState| Resp::empty(204))).await;
    let cfg = [sink("hook", "webhook", &format!("{base}/hook"), &secret_file(tmp.path(), "k", "hmac-key-123456"))];
    let mut r = rec("h\u{1b}[2J", Verdict::NotEnforced, 60);
    r.session_name = Some("alice\u{1b}]0;pwned\u{7}\u{9b}31m@example.com".into());
    r.user_agent = Some("ua\r\nforged: line".into());
    put(&mut store, &[r]);
    let s = dispatch(&store, &cfg, &opts()).await.unwrap();
    assert_eq!(s.sinks[0].created, 1, "{:?}", s.sinks[0]);
    let body = st.lock().unwrap().requests[0].body.clone();
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["verdict"]["session_name"], "alice\u{FFFD}]0;pwned\u{FFFD}\u{FFFD}31m@example.com");
    assert_eq!(v["verdict"]["user_agent"], "ua\u{FFFD}\u{FFFD}forged: line");
    assert_eq!(v["dedup_key"], "111122223333:h\u{FFFD}[2J");
    for bad in ["\\u001b", "\\u0007", "\\r", "\u{9b}"] {
        assert!(!body.contains(bad), "{bad:?} in {body}");
    }
}
