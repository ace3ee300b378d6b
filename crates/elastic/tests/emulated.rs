//! The client against the emulated cluster (`trailproof-emulate`'s Elasticsearch subset):
//! paging with a point in time, an expired one reopened, OpenSearch's endpoints, 429s, `_bulk`
//! per-item results.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trailproof_elastic::{
    BulkAction, BulkOp, BulkOutcome, Client, ConnectConfig, Credentials, Cursor, ElasticError, Scan,
};
use trailproof_emulate::{ElasticConfig, EmulatorConfig, EsFlavour, Faults, RunningEmulator, serve};
use trailproof_http::{RetryPolicy, Secret};

/// `n` Okta LogEvents a minute apart (synthetic: the paging does not look inside them).
fn data_dir(n: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("okta")).unwrap();
    let events: Vec<Value> = (0..n)
        .map(|i| {
            json!({"uuid": format!("uuid-{i:05}"), "published": format!("2025-03-01T{:02}:{:02}:00.000Z", i / 60, i % 60),
                   "eventType": if i % 2 == 0 { "user.session.start" } else { "user.authentication.sso" },
                   "actor": {"id": "00u1", "type": "User", "alternateId": "a@example.com"},
                   "outcome": {"result": "SUCCESS"}})
        })
        .collect();
    std::fs::write(dir.path().join("okta/events.json"), serde_json::to_vec(&events).unwrap()).unwrap();
    dir
}

async fn emulator(dir: &std::path::Path, faults: &[&str], flavour: EsFlavour) -> RunningEmulator {
    serve(EmulatorConfig {
        data: dir.to_path_buf(),
        faults: Faults::parse(&faults.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap(),
        seed: 3,
        elastic: ElasticConfig { flavour, ..ElasticConfig::default() },
        ..EmulatorConfig::default()
    })
    .await
    .unwrap()
}

fn client(emu: &RunningEmulator) -> Client {
    Client::connect(&ConnectConfig {
        url: emu.url(),
        credentials: Credentials::ApiKey(Secret::new(trailproof_emulate::DEFAULT_ELASTIC_API_KEY)),
        policy: RetryPolicy {
            max_retries: 4,
            initial: Duration::from_millis(10),
            max: Duration::from_millis(50),
            ..RetryPolicy::default()
        },
        ..ConnectConfig::default()
    })
    .unwrap()
}

fn scan(size: u32) -> Scan {
    Scan {
        index: "logs-okta.system-*".into(),
        filter: vec![
            json!({"term": {"data_stream.dataset": "okta.system"}}),
            json!({"range": {"event.ingested": {"gte": 0}}}),
        ],
        sort_field: "event.ingested".into(),
        includes: vec!["okta.uuid".into(), "event.ingested".into()],
        size,
        keep_alive: "1m".into(),
    }
}

/// Reads every page; returns the uuids in order and how many pages reopened a PIT.
async fn read_all(c: &Client, s: &Scan) -> (Vec<String>, usize, Vec<String>) {
    let mut cursor = Cursor::default();
    let mut ids = Vec::new();
    let mut reopened = 0;
    let mut pit_ids = Vec::new();
    loop {
        let p = c.scan_page(s, &mut cursor).await.unwrap();
        reopened += usize::from(p.reopened);
        let v: Value = serde_json::from_slice(&p.page.body).unwrap();
        for h in v["hits"]["hits"].as_array().unwrap() {
            // `_source` holds only the fields asked for.
            let src = h["_source"].as_object().unwrap();
            assert!(src.keys().all(|k| k == "okta" || k == "event"), "{src:?}");
            ids.push(h["_source"]["okta"]["uuid"].as_str().unwrap().to_string());
        }
        if let Some(p) = &cursor.pit_id {
            pit_ids.push(p.clone());
        }
        if p.done {
            assert!(cursor.pit_id.is_none(), "the PIT is closed after the last page");
            return (ids, reopened, pit_ids);
        }
    }
}

fn sorted_unique(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

#[tokio::test]
async fn pages_with_a_rotating_pit_and_search_after() {
    let dir = data_dir(250);
    let emu = emulator(dir.path(), &[], EsFlavour::Elasticsearch).await;
    let c = client(&emu);
    let info = c.info().await.unwrap();
    assert_eq!(info.flavour.to_string(), "Elasticsearch 8.17.0");
    let (ids, reopened, pits) = read_all(&c, &scan(40)).await;
    assert_eq!(reopened, 0);
    assert_eq!(ids.len(), 250, "every document once");
    assert_eq!(sorted_unique(ids.clone()).len(), 250);
    // Every page's PIT id differs from the one before: the client sent the latest each time
    // (the emulator refuses ids two generations old).
    assert!(pits.windows(2).all(|w| w[0] != w[1]), "{pits:?}");
}

#[tokio::test]
async fn an_expired_pit_is_reopened_and_nothing_is_lost() {
    let dir = data_dir(250);
    // Every fourth search finds its PIT gone.
    let emu = emulator(dir.path(), &["pit-expire:burst=1,every=4,after=2"], EsFlavour::Elasticsearch).await;
    let c = client(&emu);
    let (ids, reopened, _) = read_all(&c, &scan(30)).await;
    assert!(reopened >= 2, "{reopened}");
    assert_eq!(sorted_unique(ids).len(), 250, "nothing lost across reopened PITs");
}

#[tokio::test]
async fn opensearch_flavour_uses_its_own_pit_endpoints() {
    let dir = data_dir(120);
    let emu = emulator(dir.path(), &["pit-expire:burst=1,every=3,after=1"], EsFlavour::OpenSearch).await;
    let c = client(&emu);
    assert!(c.flavour().await.unwrap().is_opensearch());
    let (ids, reopened, _) = read_all(&c, &scan(25)).await;
    assert!(reopened >= 1);
    // `_id` is the same in every PIT: a reopened PIT resumes exactly, without reading again.
    assert_eq!(ids.len(), 120);
    assert_eq!(sorted_unique(ids).len(), 120);
    assert!(emu.requests(trailproof_emulate::Endpoint::ElasticPit) >= 3);
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out() {
    let dir = data_dir(30);
    let emu = emulator(dir.path(), &["429:burst=1,every=100,after=1;on:elastic"], EsFlavour::Elasticsearch).await;
    let c = client(&emu);
    let t = Instant::now();
    let (ids, _, _) = read_all(&c, &scan(10)).await;
    assert_eq!(ids.len(), 30);
    // The emulator's 429 says `Retry-After: 1`.
    assert!(t.elapsed() >= Duration::from_millis(950), "{:?}", t.elapsed());
    assert!(c.stats().throttled >= 1);
}

#[tokio::test]
async fn bad_credentials_are_refused_and_not_shown() {
    let dir = data_dir(1);
    let emu = emulator(dir.path(), &[], EsFlavour::Elasticsearch).await;
    let c = Client::connect(&ConnectConfig {
        url: emu.url(),
        credentials: Credentials::ApiKey(Secret::new("d3JvbmctaWQ6d3Jvbmcta2V5LXZhbHVl")),
        ..ConnectConfig::default()
    })
    .unwrap();
    let e = c.info().await.unwrap_err();
    assert!(matches!(e, ElasticError::Unauthorized { .. }), "{e}");
    assert!(!e.to_string().contains("d3JvbmctaWQ6"), "{e}");
}

fn op(id: &str, doc: Value) -> BulkOp {
    BulkOp { action: BulkAction::Create, index: "logs-trailproof.verdict-default".into(), id: Some(id.into()), doc }
}

#[tokio::test]
async fn bulk_reports_each_item() {
    let dir = data_dir(1);
    let emu = emulator(dir.path(), &["bulk-reject:burst=1,every=1000,after=3"], EsFlavour::Elasticsearch).await;
    let c = client(&emu);
    let ok = json!({"@timestamp": "2025-03-01T00:00:00Z", "message": "v1"});
    let r = c
        .bulk(&[
            op("a", ok.clone()),
            op("a", ok.clone()),
            op("b", json!({"message": "no timestamp"})),
            op("c", ok.clone()),
            op("d", json!({"@timestamp": "not a date"})),
        ])
        .await
        .unwrap();
    let outcomes: Vec<&BulkOutcome> = r.items.iter().map(|i| &i.outcome).collect();
    assert_eq!(outcomes[0], &BulkOutcome::Created);
    assert_eq!(outcomes[1], &BulkOutcome::AlreadyExists);
    assert!(matches!(outcomes[2], BulkOutcome::Rejected { status: 400, .. }));
    assert!(
        matches!(outcomes[3], BulkOutcome::Retryable { status: 429, error_type, .. } if error_type == "es_rejected_execution_exception")
    );
    assert!(
        matches!(outcomes[4], BulkOutcome::Rejected { error_type, .. } if error_type == "document_parsing_exception")
    );
    // The refused item goes through when sent again; the stored one is not duplicated.
    let r = c.bulk(&[op("c", ok.clone()), op("a", ok)]).await.unwrap();
    assert_eq!(r.items[0].outcome, BulkOutcome::Created);
    assert_eq!(r.items[1].outcome, BulkOutcome::AlreadyExists);
    let url = format!("{}/logs-trailproof.verdict-*/_search", emu.url());
    let v: Value = reqwest::Client::new()
        .post(url)
        .header("authorization", format!("ApiKey {}", trailproof_emulate::DEFAULT_ELASTIC_API_KEY))
        .header("content-type", "application/json")
        .body(r#"{"size":100}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ids: Vec<&str> = v["hits"]["hits"].as_array().unwrap().iter().map(|h| h["_id"].as_str().unwrap()).collect();
    ids.sort();
    assert_eq!(ids, vec!["a", "c"]);
}
