//! The Elasticsearch sink against the emulated cluster (`trailproof-emulate`'s `_bulk`): every
//! verdict version stored once whatever fails on the way (per-item 429s, a whole request refused
//! with 429 and `Retry-After`), a re-run writes nothing, a new version adds one document, a
//! process killed between the bulk request and the cursor's commit duplicates nothing.

use std::time::Duration;

use serde_json::Value;
use trailproof_emulate::{DEFAULT_ELASTIC_API_KEY, EmulatorConfig, Faults, RunningEmulator, serve};
use trailproof_model::config::NotifySink;
use trailproof_model::verdict::{Severity, Verdict, VerdictRecord};
use trailproof_notify::{DispatchOptions, Stop, dispatch};
use trailproof_report::testdata::record;
use trailproof_store::Store;

const STREAM: &str = "logs-trailproof.verdict-default";

async fn emulator(dir: &std::path::Path, faults: &[&str]) -> RunningEmulator {
    serve(EmulatorConfig {
        data: dir.to_path_buf(),
        faults: Faults::parse(&faults.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap(),
        seed: 11,
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

fn key_file(dir: &std::path::Path) -> String {
    let p = dir.join("es-key");
    std::fs::write(&p, DEFAULT_ELASTIC_API_KEY).unwrap();
    p.display().to_string()
}

fn sink(url: &str, key: &str) -> NotifySink {
    NotifySink {
        name: "es".into(),
        kind: "elasticsearch".into(),
        url: url.into(),
        secret_file: key.into(),
        requests_per_minute: 0,
        max_retries: 6,
        retry_initial_ms: 5,
        retry_max_ms: 40,
        max_wait_seconds: 5,
        request_timeout_seconds: 5,
        batch_size: 7,
        backfill: true,
        alert_min_severity: "high".into(),
        ..NotifySink::default()
    }
}

fn opts() -> DispatchOptions {
    DispatchOptions { dry_run: false, now_ms: 1_800_000_000_000 }
}

fn verdicts(n: usize) -> Vec<VerdictRecord> {
    (0..n)
        .map(|i| {
            let mut r =
                record(&format!("evt-{i:03}"), if i % 3 == 0 { Verdict::NotEnforced } else { Verdict::Enforced });
            if r.verdict == Verdict::NotEnforced {
                r.risk.severity = Severity::High;
                r.risk.score = 70;
            }
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

/// The documents of `index` as the cluster holds them: (`_id`, `_source`). Asked again while
/// the emulator's faults refuse the search.
async fn stored(emu: &RunningEmulator, index: &str) -> Vec<(String, Value)> {
    for _ in 0..20 {
        let r = reqwest::Client::new()
            .post(format!("{}/{index}/_search", emu.url()))
            .header("authorization", format!("ApiKey {DEFAULT_ELASTIC_API_KEY}"))
            .header("content-type", "application/json")
            .body(r#"{"size":10000}"#)
            .send()
            .await
            .unwrap();
        if !r.status().is_success() {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        }
        let v: Value = r.json().await.unwrap();
        return v["hits"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h["_id"].as_str().unwrap().to_string(), h["_source"].clone()))
            .collect();
    }
    panic!("the search kept failing");
}

/// Each (session, version) exactly once.
fn assert_once(docs: &[(String, Value)], want: &[(String, u64)]) {
    let mut got: Vec<(String, u64)> = docs
        .iter()
        .map(|(_, d)| (d["event"]["id"].as_str().unwrap().to_string(), d["trailproof"]["version"].as_u64().unwrap()))
        .collect();
    got.sort();
    let mut want = want.to_vec();
    want.sort();
    assert_eq!(got, want);
    let mut ids: Vec<&str> = docs.iter().map(|(id, _)| id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), docs.len(), "one _id per document");
}

#[tokio::test]
async fn failed_items_and_a_throttled_request_end_with_every_verdict_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    // A quarter of the items refused with 429 es_rejected_execution_exception, and the first
    // bulk request refused as a whole with 429 and Retry-After.
    let emu = emulator(dir.path(), &["bulk-reject:0.25", "429:burst=1,every=100000"]).await;
    let recs = verdicts(30);
    let store = store_with(dir.path(), &recs);
    let cfg = vec![sink(&emu.url(), &key_file(dir.path()))];
    let t0 = std::time::Instant::now();
    let sum = dispatch(&store, &cfg, &opts()).await.unwrap();
    let s = &sum.sinks[0];
    assert!(s.error.is_none(), "{}", s.line());
    assert_eq!((s.created, s.skipped, s.pending, s.rejected), (30, 0, 0, 0), "{}", s.line());
    assert!(t0.elapsed() >= Duration::from_secs(1), "the Retry-After of the throttled request was waited");
    // 30 versions in batches of 7 are 5 requests; the refused request and items made more.
    let requests = emu.requests(trailproof_emulate::Endpoint::ElasticBulk);
    assert!(requests > 6, "{requests} bulk requests: the faults did not fire");
    let want: Vec<(String, u64)> = recs.iter().map(|r| (r.console_login_event_id.clone(), 1)).collect();
    assert_once(&stored(&emu, STREAM).await, &want);
    // The alert copies: the high not_enforced verdicts, as event.kind alert, same _id.
    let alerts = stored(&emu, "logs-trailproof.alert-default").await;
    assert_eq!(alerts.len(), recs.iter().filter(|r| r.verdict == Verdict::NotEnforced).count());
    assert!(alerts.iter().all(|(_, d)| d["event"]["kind"] == "alert" && d["event"]["severity"] == 73));
    assert!(alerts.iter().all(|(_, d)| d["event"]["ingested"].is_string()));

    // A re-run writes nothing: the cursor is past every version.
    let again = dispatch(&store, &cfg, &opts()).await.unwrap();
    assert_eq!((again.sinks[0].created, again.sinks[0].skipped), (0, 0), "{}", again.sinks[0].line());
    assert_once(&stored(&emu, STREAM).await, &want);
}

#[tokio::test]
async fn a_new_version_adds_one_document_and_the_latest_is_the_highest_version() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(dir.path(), &[]).await;
    let mut recs = verdicts(5);
    let mut store = store_with(dir.path(), &recs);
    let cfg = vec![sink(&emu.url(), &key_file(dir.path()))];
    dispatch(&store, &cfg, &opts()).await.unwrap();
    // Late IdP records: evt-000 is enforced after all (version 2).
    recs[0].verdict = Verdict::Enforced;
    recs[0].risk.severity = Severity::Low;
    let mut b = store.batch().unwrap();
    b.put_verdicts(&recs).unwrap();
    b.commit().unwrap();
    let sum = dispatch(&store, &cfg, &opts()).await.unwrap();
    assert_eq!(sum.sinks[0].created, 1, "{}", sum.sinks[0].line());
    let docs = stored(&emu, STREAM).await;
    let mut want: Vec<(String, u64)> = recs.iter().map(|r| (r.console_login_event_id.clone(), 1)).collect();
    want.push(("evt-000".into(), 2));
    assert_once(&docs, &want);
    let latest = docs
        .iter()
        .filter(|(_, d)| d["event"]["id"] == "evt-000")
        .max_by_key(|(_, d)| d["trailproof"]["version"].as_u64())
        .unwrap();
    assert_eq!(latest.1["trailproof"]["verdict"], "enforced");
    // The enforced version gets no alert copy; the first one had one.
    assert_eq!(stored(&emu, "logs-trailproof.alert-default").await.len(), 2);
}

#[tokio::test]
async fn a_cluster_that_keeps_refusing_leaves_the_queue_for_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    // Every item refused with 429 for the first run's whole retry budget.
    let emu = emulator(dir.path(), &["bulk-reject:burst=200,every=1000000"]).await;
    let recs = verdicts(10);
    let store = store_with(dir.path(), &recs);
    let mut cfg = sink(&emu.url(), &key_file(dir.path()));
    cfg.max_retries = 2;
    cfg.batch_size = 500;
    let sum = dispatch(&store, &[cfg.clone()], &opts()).await.unwrap();
    let s = &sum.sinks[0];
    assert_eq!(s.stop, Some(Stop::Transient), "{}", s.line());
    assert_eq!((s.created, s.pending), (0, 10), "{}", s.line());
    assert!(sum.failed());
    assert!(stored(&emu, STREAM).await.is_empty());
    // The burst is over (200 items refused): the next run stores every one, once.
    let mut n = 0;
    while stored(&emu, STREAM).await.len() < 10 && n < 20 {
        dispatch(&store, &[cfg.clone()], &opts()).await.unwrap();
        n += 1;
    }
    let want: Vec<(String, u64)> = recs.iter().map(|r| (r.console_login_event_id.clone(), 1)).collect();
    assert_once(&stored(&emu, STREAM).await, &want);
}

#[tokio::test]
async fn a_kill_between_the_bulk_request_and_the_cursor_commit_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let emu = emulator(dir.path(), &[]).await;
    let recs = verdicts(12);
    let db = dir.path().join("tp.db");
    drop(store_with(dir.path(), &recs));
    // The database as it is when the run starts: what a kill after the bulk request and before
    // the cursor's commit leaves behind.
    let before = dir.path().join("before.db");
    std::fs::copy(&db, &before).unwrap();
    let cfg = vec![sink(&emu.url(), &key_file(dir.path()))];
    let first = dispatch(&Store::open(&db).unwrap(), &cfg, &opts()).await.unwrap();
    assert_eq!(first.sinks[0].created, 12);
    std::fs::copy(&before, &db).unwrap();
    let store = Store::open(&db).unwrap();
    assert_eq!(store.notify_cursor("es").unwrap(), None, "the run's commits are undone");
    let sum = dispatch(&store, &cfg, &opts()).await.unwrap();
    let s = &sum.sinks[0];
    assert_eq!((s.created, s.skipped, s.pending), (0, 12, 0), "every version found already stored: {}", s.line());
    let want: Vec<(String, u64)> = recs.iter().map(|r| (r.console_login_event_id.clone(), 1)).collect();
    assert_once(&stored(&emu, STREAM).await, &want);
    assert_eq!(stored(&emu, "logs-trailproof.alert-default").await.len(), 4);
}

#[tokio::test]
async fn writing_into_the_alert_indices_is_refused() {
    let mut c = sink("http://127.0.0.1:9", "");
    c.data_stream = ".alerts-security.alerts-default".into();
    let dir = tempfile::tempdir().unwrap();
    let store = store_with(dir.path(), &verdicts(1));
    let e = dispatch(&store, &[c], &opts()).await.unwrap_err().to_string();
    assert!(e.contains("never writes into Kibana's alert indices"), "{e}");
}

/// A cluster that answers `_bulk` by a rule of the test's: per-item mapping refusals, which the
/// emulator does not model for well-formed documents (a real cluster refuses a document whose
/// field conflicts with the data stream's mapping: HTTP 200, the item 400
/// `document_parsing_exception`).
async fn refusing_cluster(refuse: fn(&str) -> bool) -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use axum::routing::post;
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let log = seen.clone();
    let app = axum::Router::new().route(
        "/_bulk",
        post(move |body: String| {
            let log = log.clone();
            async move {
                let lines: Vec<&str> = body.lines().collect();
                let mut items = Vec::new();
                for pair in lines.chunks(2) {
                    let meta: Value = serde_json::from_str(pair[0]).unwrap();
                    let id = meta["create"]["_id"].as_str().unwrap().to_string();
                    let doc: Value = serde_json::from_str(pair[1]).unwrap();
                    let event = doc["event"]["id"].as_str().unwrap().to_string();
                    log.lock().unwrap().push(event.clone());
                    items.push(if refuse(&event) {
                        serde_json::json!({"create": {"_index": STREAM, "_id": id, "status": 400, "error": {
                            "type": "document_parsing_exception",
                            "reason": "[1:200] failed to parse field [trailproof.version] of type [date]"}}})
                    } else {
                        serde_json::json!({"create": {"_index": STREAM, "_id": id, "status": 201, "result": "created"}})
                    });
                }
                axum::Json(serde_json::json!({"took": 1, "errors": true, "items": items}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test]
async fn a_refused_document_is_recorded_and_reported_and_the_rest_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let (url, seen) = refusing_cluster(|e| e == "evt-004").await;
    let recs = verdicts(10);
    let store = store_with(dir.path(), &recs);
    let mut cfg = sink(&url, "");
    cfg.alert_min_severity.clear();
    let sum = dispatch(&store, &[cfg.clone()], &opts()).await.unwrap();
    let s = &sum.sinks[0];
    assert_eq!((s.created, s.rejected, s.pending), (9, 1, 0), "{}", s.line());
    assert!(s.rejections[0].contains("evt-004 v1") && s.rejections[0].contains("document_parsing_exception"));
    assert!(sum.failed(), "a refusal fails the run (exit 1), as for the ticket sinks");
    let t = store.ticket("es", "111122223333:evt-004").unwrap().unwrap();
    assert_eq!((t.state.as_str(), t.version), ("rejected", 1));
    assert!(t.note.unwrap().contains("failed to parse field"));
    // Not sent again for this version; a re-run sends nothing.
    let before = seen.lock().unwrap().len();
    dispatch(&store, &[cfg], &opts()).await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), before);
}

#[tokio::test]
async fn every_document_refused_the_same_way_is_the_setup_and_the_queue_waits() {
    let dir = tempfile::tempdir().unwrap();
    let (url, _) = refusing_cluster(|_| true).await;
    let store = store_with(dir.path(), &verdicts(10));
    let mut cfg = sink(&url, "");
    cfg.alert_min_severity.clear();
    let sum = dispatch(&store, &[cfg], &opts()).await.unwrap();
    let s = &sum.sinks[0];
    assert_eq!(s.stop, Some(Stop::Setup), "{}", s.line());
    assert_eq!((s.created, s.rejected, s.pending), (0, 0, 10), "{}", s.line());
    assert!(s.error.as_deref().unwrap().contains("setup problem"));
    assert_eq!(store.notify_cursor("es").unwrap(), Some(0), "the cursor stays before the first version");
}
