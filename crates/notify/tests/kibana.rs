//! The Elasticsearch sink's Kibana part (`alert_tags`, `case_comment`) against the emulated
//! cluster and Kibana (`trailproof-emulate`, `kibana.rs`): the alerts of the same ConsoleLogin
//! are tagged and re-tagged on a new version, a case comment is added once across runs, no
//! request writes the alert indices, and a Kibana that refuses (401) leaves the documents written
//! and says what to fix.

use serde_json::Value;
use trailproof_emulate::{DEFAULT_ELASTIC_API_KEY, DEFAULT_KIBANA_API_KEY, EmulatorConfig, RunningEmulator, serve};
use trailproof_model::config::NotifySink;
use trailproof_model::verdict::{Severity, Verdict, VerdictRecord};
use trailproof_notify::{DispatchOptions, dispatch};
use trailproof_report::testdata::record;
use trailproof_store::Store;

const RULE: &str = "AWS Sign-In Console Login with Federated User";

async fn emulator(dir: &std::path::Path) -> RunningEmulator {
    serve(EmulatorConfig { data: dir.to_path_buf(), seed: 3, ..EmulatorConfig::default() }).await.unwrap()
}

fn write(dir: &std::path::Path, name: &str, value: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, value).unwrap();
    p.display().to_string()
}

fn sink(emu: &RunningEmulator, dir: &std::path::Path) -> NotifySink {
    NotifySink {
        name: "es".into(),
        kind: "elasticsearch".into(),
        url: emu.url(),
        secret_file: write(dir, "es-key", DEFAULT_ELASTIC_API_KEY),
        kibana_url: emu.url(),
        kibana_secret_file: write(dir, "kb-key", DEFAULT_KIBANA_API_KEY),
        alert_tags: true,
        case_comment: true,
        requests_per_minute: 0,
        max_retries: 2,
        retry_initial_ms: 5,
        retry_max_ms: 20,
        max_wait_seconds: 2,
        request_timeout_seconds: 5,
        backfill: true,
        ..NotifySink::default()
    }
}

fn opts(now_ms: i64) -> DispatchOptions {
    DispatchOptions { dry_run: false, now_ms }
}

const NOW: i64 = 1_800_000_000_000;

fn verdicts() -> Vec<VerdictRecord> {
    (0..4)
        .map(|i| {
            let mut r = record(&format!("evt-{i:03}"), Verdict::NotEnforced);
            r.risk.severity = Severity::High;
            r.explanation = format!("session {i}: no MFA at the IdP\u{1b}[31m");
            r
        })
        .collect()
}

fn store_with(dir: &std::path::Path, recs: &[VerdictRecord]) -> Store {
    let mut s = Store::open(&dir.join("tp.db")).unwrap();
    let mut b = s.batch().unwrap();
    b.put_verdicts(recs).unwrap();
    b.commit().unwrap();
    s
}

async fn stored(emu: &RunningEmulator, index: &str) -> Vec<Value> {
    let r = reqwest::Client::new()
        .post(format!("{}/{index}/_search", emu.url()))
        .header("authorization", format!("ApiKey {DEFAULT_ELASTIC_API_KEY}"))
        .header("content-type", "application/json")
        .body(r#"{"size":10000}"#)
        .send()
        .await
        .unwrap();
    if !r.status().is_success() {
        return Vec::new();
    }
    let v: Value = r.json().await.unwrap();
    v["hits"]["hits"].as_array().cloned().unwrap_or_default()
}

/// Only the four read/tag/comment APIs were called, never an index or `_bulk` through Kibana.
fn assert_only_kibana_apis(emu: &RunningEmulator) {
    for r in emu.kibana().requests() {
        let p = r.path.trim_start_matches("/s/default");
        let post = r.method == "POST";
        let ok = if post {
            p == "/api/detection_engine/signals/search"
                || p == "/api/detection_engine/signals/tags"
                || (p.starts_with("/api/cases/") && p.ends_with("/comments"))
        } else {
            r.method == "GET" && p.starts_with("/api/cases/alerts/")
        };
        assert!(ok, "unexpected Kibana request {} {}", r.method, r.path);
        assert!(!r.path.contains(".alerts"), "{}", r.path);
    }
}

#[tokio::test]
async fn tags_go_on_the_right_alerts_and_are_replaced_on_a_new_version() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(dir.path()).await;
    let kb = emu.kibana();
    // The rule fired for evt-000 (twice: two alerts) and evt-002; evt-001 and evt-003 have none.
    kb.add_alert("default", "a0", "evt-000", RULE);
    kb.add_alert("default", "a0b", "evt-000", RULE);
    kb.add_alert("default", "a2", "evt-002", RULE);
    kb.add_alert("default", "other", "evt-999", RULE);
    let mut recs = verdicts();
    let mut store = store_with(dir.path(), &recs);
    let cfg = vec![NotifySink { case_comment: false, ..sink(&emu, dir.path()) }];
    let sum = dispatch(&store, &cfg, &opts(NOW)).await.unwrap();
    let s = &sum.sinks[0];
    assert!(s.error.is_none(), "{} {:?}", s.line(), s.notes);
    assert_eq!(s.created, 4, "{}", s.line());
    assert_eq!(kb.alert_tags("a0"), ["trailproof:not_enforced"]);
    assert_eq!(kb.alert_tags("a0b"), ["trailproof:not_enforced"]);
    assert_eq!(kb.alert_tags("a2"), ["trailproof:not_enforced"]);
    assert!(kb.alert_tags("other").is_empty(), "an alert of another event is left alone");
    assert!(
        s.notes.iter().any(|n| n.contains("3 alerts tagged") && n.contains("2 sessions whose alert is not there yet")),
        "{:?}",
        s.notes
    );

    // Late IdP records: evt-000 is enforced after all (version 2): its tag is replaced.
    recs[0].verdict = Verdict::Enforced;
    recs[0].risk.severity = Severity::Low;
    let mut b = store.batch().unwrap();
    b.put_verdicts(&recs).unwrap();
    b.commit().unwrap();
    let sum = dispatch(&store, &cfg, &opts(NOW + 60_000)).await.unwrap();
    assert!(sum.sinks[0].error.is_none(), "{}", sum.sinks[0].line());
    assert_eq!(kb.alert_tags("a0"), ["trailproof:enforced"]);
    assert_eq!(kb.alert_tags("a0b"), ["trailproof:enforced"]);
    assert_eq!(kb.alert_tags("a2"), ["trailproof:not_enforced"]);
    assert_only_kibana_apis(&emu);
    assert!(stored(&emu, ".alerts-security.alerts-default").await.is_empty());
}

#[tokio::test]
async fn a_case_comment_is_added_once_across_runs_and_a_late_alert_is_found_later() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(dir.path()).await;
    let kb = emu.kibana();
    kb.add_alert("default", "a1", "evt-001", RULE);
    kb.add_case("default", "case-1", "Federated console logins", &["a1"]);
    kb.add_case("default", "case-x", "Unrelated", &["zz"]);
    let recs = verdicts();
    let store = store_with(dir.path(), &recs);
    let cfg = vec![sink(&emu, dir.path())];
    let first = dispatch(&store, &cfg, &opts(NOW)).await.unwrap();
    assert!(first.sinks[0].error.is_none(), "{:?}", first.sinks[0].notes);
    let comments = kb.case_comments("case-1");
    assert_eq!(comments.len(), 1, "{comments:?}");
    assert!(comments[0].contains("trailproof verdict v1") && comments[0].contains("not_enforced"), "{}", comments[0]);
    assert!(comments[0].contains("session 1: no MFA at the IdP"), "{}", comments[0]);
    assert!(!comments[0].contains('\u{1b}'), "the explanation is made inert");
    assert!(kb.case_comments("case-x").is_empty());

    // The rule fires for evt-003 after the first run; its case follows.
    kb.add_alert("default", "a3", "evt-003", RULE);
    kb.add_case("default", "case-3", "Another", &["a3"]);
    let second = dispatch(&store, &cfg, &opts(NOW + 600_000)).await.unwrap();
    assert!(second.sinks[0].error.is_none(), "{:?}", second.sinks[0].notes);
    assert_eq!(kb.case_comments("case-1").len(), 1, "not commented twice");
    assert_eq!(kb.case_comments("case-3").len(), 1, "the late alert's case is commented on the next run");
    // A third run, a day later: nothing new is sent; the sessions without alerts are given up.
    let before = kb.requests().len();
    let third = dispatch(&store, &cfg, &opts(NOW + 25 * 3_600_000)).await.unwrap();
    assert!(third.sinks[0].notes.iter().any(|n| n.contains("2 given up")), "{:?}", third.sinks[0].notes);
    assert_eq!(kb.case_comments("case-1").len(), 1);
    assert_eq!(kb.case_comments("case-3").len(), 1);
    let searches = kb.requests()[before..].iter().filter(|r| r.path.ends_with("/signals/search")).count();
    assert_eq!(searches, 2, "only the two sessions still waiting are looked for");
    let fourth_before = kb.requests().len();
    dispatch(&store, &cfg, &opts(NOW + 26 * 3_600_000)).await.unwrap();
    assert_eq!(kb.requests().len(), fourth_before, "given up: not looked for again");
    assert_only_kibana_apis(&emu);
    assert!(kb.requests().iter().all(|r| r.method == "GET" || r.status != 400), "kbn-xsrf sent on every POST");
}

#[tokio::test]
async fn kibana_refusing_leaves_the_documents_written_and_reports_the_setup_error() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(dir.path()).await;
    let kb = emu.kibana();
    kb.add_alert("default", "a0", "evt-000", RULE);
    kb.add_case("default", "case-1", "Case", &["a0"]);
    let recs = verdicts();
    let store = store_with(dir.path(), &recs);
    let mut cfg = sink(&emu, dir.path());
    cfg.kibana_secret_file = write(dir.path(), "bad-key", "bm90LXRoZS1rZXk6bm9wZQ==");
    let sum = dispatch(&store, &[cfg.clone()], &opts(NOW)).await.unwrap();
    let s = &sum.sinks[0];
    assert_eq!(s.created, 4, "the documents are written: {}", s.line());
    assert_eq!(stored(&emu, "logs-trailproof.verdict-default").await.len(), 4);
    let e = s.error.as_deref().unwrap_or_default();
    assert!(e.contains("401") && e.contains("kibana_secret"), "{e}");
    assert!(!e.contains("bm90LXRoZS1rZXk6bm9wZQ"), "the key never shows: {e}");
    assert!(kb.alert_tags("a0").is_empty());
    assert_eq!(kb.requests().len(), 1, "the Kibana part stopped at the first refusal");

    // A wrong space is a setup error too.
    let wrong = NotifySink { kibana_space: "secops".into(), name: "es2".into(), ..sink(&emu, dir.path()) };
    let sum = dispatch(&store, &[wrong], &opts(NOW)).await.unwrap();
    let e = sum.sinks[0].error.as_deref().unwrap_or_default();
    assert!(e.contains("404") && e.contains("kibana_space"), "{e}");

    // Fixed: the next run does the waiting work, and the documents are not written again.
    cfg.kibana_secret_file = write(dir.path(), "kb-key", DEFAULT_KIBANA_API_KEY);
    let sum = dispatch(&store, &[cfg], &opts(NOW + 60_000)).await.unwrap();
    let s = &sum.sinks[0];
    assert!(s.error.is_none(), "{}", s.line());
    assert_eq!(s.created, 0, "{}", s.line());
    assert_eq!(kb.alert_tags("a0"), ["trailproof:not_enforced"]);
    assert_eq!(kb.case_comments("case-1").len(), 1);
    assert_eq!(stored(&emu, "logs-trailproof.verdict-default").await.len(), 4);
}
