//! `trailproof notify` killed mid-dispatch (SIGKILL) and run again: every session has exactly one
//! ticket at the service, none lost, none duplicated — even though Jira's search shows a new issue
//! only some time after its creation ("The delay might vary from a few seconds to minutes", Jira
//! Cloud, Search and reconcile), so the rerun must wait for the issue the killed run created.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Jira {
    /// label → issue key
    issues: BTreeMap<String, String>,
    creates: u32,
    /// Hang (never answer) every create after this many.
    hang_after: Option<u32>,
    /// When each issue was created: search shows it `lag` later.
    created_at: BTreeMap<String, Instant>,
    lag: Duration,
}

async fn jira(State(s): State<Arc<Mutex<Jira>>>, method: Method, uri: Uri, body: Bytes) -> (StatusCode, String) {
    let hang = {
        let mut j = s.lock().unwrap();
        match (method.as_str(), uri.path()) {
            // Jira Cloud's enhanced search (what trailproof asks first) and Server's.
            ("GET", "/rest/api/2/search/jql" | "/rest/api/2/search") => {
                let q: String = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                    .find(|(k, _)| k == "jql")
                    .map(|(_, v)| v.to_string())
                    .unwrap_or_default();
                let label = q.split('"').nth(1).unwrap_or("").to_string();
                let issues: Vec<serde_json::Value> = j
                    .issues
                    .get(&label)
                    .filter(|k| j.created_at.get(*k).is_some_and(|t| t.elapsed() >= j.lag))
                    .map(|k| serde_json::json!({"key": k}))
                    .into_iter()
                    .collect();
                return (StatusCode::OK, serde_json::json!({"issues": issues}).to_string());
            }
            ("POST", "/rest/api/2/issue") => {
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let label = v["fields"]["labels"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(|l| l.as_str())
                    .find(|l| l.starts_with("trailproof-"))
                    .unwrap()
                    .to_string();
                j.creates += 1;
                let key = format!("SEC-{}", j.creates);
                j.issues.insert(label, key.clone());
                j.created_at.insert(key.clone(), Instant::now());
                if j.hang_after.is_some_and(|n| j.creates > n) {
                    true
                } else {
                    return (StatusCode::CREATED, serde_json::json!({"key": key}).to_string());
                }
            }
            _ => return (StatusCode::OK, "{}".into()),
        }
    };
    if hang {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
    (StatusCode::CREATED, "{}".into())
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trailproof"))
}

fn case(name: &str, file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cases").join(name).join(file).display().to_string()
}

#[test]
fn notify_killed_mid_dispatch_then_rerun_files_every_ticket_once() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let state =
        Arc::new(Mutex::new(Jira { hang_after: Some(1), lag: Duration::from_millis(1500), ..Default::default() }));
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new().fallback(jira).with_state(state.clone());
    rt.spawn(async move { axum::serve(listener, app).await });

    // A database with several findings: every fixture case, judged.
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("tp.db");
    let run = |args: &[&str]| {
        let o = bin().arg("--db").arg(&db).arg("--quiet").args(args).output().unwrap();
        assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    for c in [
        "okta_password_only_not_enforced",
        "broker_stolen_keys_no_idp_login",
        "iam_users_and_root",
        "role_broker_entra",
    ] {
        let f = if c == "iam_users_and_root" { "lookup-events.json" } else { "cloudtrail.json" };
        run(&["import", "cloudtrail", &case(c, f)]);
    }
    run(&["correlate", "--now", "2026-11-03T00:00:00Z"]);
    std::fs::write(tmp.path().join("token"), "jira-token-abcdef").unwrap();
    let cfg = tmp.path().join("tp.toml");
    std::fs::write(
        &cfg,
        format!(
            "[[notify]]\nname = \"jira\"\nkind = \"jira\"\nurl = \"{url}\"\nuser = \"bot@example.com\"\n\
             secret_file = \"{}\"\nproject = \"SEC\"\nbackfill = true\nrequests_per_minute = 0\n\
             request_timeout_seconds = 600\nsearch_lag_seconds = 10\n",
            tmp.path().join("token").display()
        ),
    )
    .unwrap();
    let sessions: u32 = {
        let o = bin().arg("--db").arg(&db).args(["report", "--format", "json"]).output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["verdicts"].as_array().unwrap().iter().filter(|r| r["verdict"] != "enforced").count() as u32
    };
    assert!(sessions >= 2, "the fixture cases give several findings");

    // First run: the second create hangs at the service; kill the process there.
    let mut child = bin()
        .arg("--db")
        .arg(&db)
        .arg("--config")
        .arg(&cfg)
        .args(["notify"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while state.lock().unwrap().creates < 2 {
        assert!(Instant::now() < deadline, "the dispatch never reached its second ticket");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    // Second run, the service answering again: the rest is filed, nothing twice.
    state.lock().unwrap().hang_after = None;
    let o = bin().arg("--db").arg(&db).arg("--config").arg(&cfg).args(["notify"]).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}{}", String::from_utf8_lossy(&o.stderr));
    let j = state.lock().unwrap();
    assert_eq!(j.issues.len() as u32, sessions, "one issue per finding: {:?}", j.issues);
    assert_eq!(j.creates, sessions, "the issue created before the kill was found by its label, not re-created");
    assert!(j.issues.len() >= 2);
    assert!(!out.contains("jira-token-abcdef"));
}
