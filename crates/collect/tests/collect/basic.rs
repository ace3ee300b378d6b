//! Happy paths: each source collects exactly the emulator's records, with coverage and
//! checkpoints.

use trailproof_collect::{CollectOptions, NullReporter, collect};
use trailproof_emulate::Endpoint;
use trailproof_model::Source;

use crate::common::*;

fn opts(now: i64, page: u32) -> CollectOptions {
    let mut o = CollectOptions::new(now);
    o.tuning.page_size = Some(page);
    o.tuning.window_ms = 6 * HOUR;
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_api_token_polls_everything_and_records_coverage() {
    let ds = dataset(300, 0, 0, 2 * DAY);
    let emu = emulator(ds.dir.path(), &[]).await;
    let c = creds();
    let db = c.dir.path().join("t.db");
    let cfg = config(vec![okta_source(&emu.url(), &c)], vec![], vec![]);
    let now = t0() + 3 * DAY;
    let s = collect(&db, &cfg, &opts(now, 50), &NullReporter).await.unwrap();
    let r = &s.sources[0];
    assert!(r.ok(), "{}", r.line());
    assert_eq!(stored_ids(&db, "okta"), ds.okta_ids);
    assert_eq!(r.counts.stored, 270);
    // 270 kept events in pages of 50: five full pages, a short one, and the empty one that ends
    // the poll (Okta: "continue this process until no events are returned").
    assert_eq!(r.pages, 7);
    assert_eq!(emu.requests(Endpoint::OktaLogs), 7);
    assert_eq!(coverage(&db), vec![("okta".into(), "*".into(), now - 96 * HOUR, now - 1)]);
    let ck = checkpoint(&db, Source::Okta, "127.0.0.1", "incremental").unwrap();
    let st: serde_json::Value = serde_json::from_str(&ck).unwrap();
    assert_eq!(st["done_until"], now);
    assert!(st["next"].as_str().unwrap().contains("/api/v1/logs?"), "{ck}");

    // The next run continues from the stored next link: one short page, nothing new.
    let s = collect(&db, &cfg, &opts(now + HOUR, 50), &NullReporter).await.unwrap();
    let r = &s.sources[0];
    assert!(r.ok(), "{}", r.line());
    assert_eq!((r.pages, r.records, r.counts.stored), (1, 0, 0));
    assert_eq!(emu.requests(Endpoint::OktaLogs), 8);
    assert_eq!(coverage(&db), vec![("okta".into(), "*".into(), now - 96 * HOUR, now + HOUR - 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_service_app_uses_private_key_jwt() {
    let ds = dataset(120, 0, 0, DAY);
    let emu = emulator(ds.dir.path(), &[]).await;
    let c = creds();
    let db = c.dir.path().join("t.db");
    let cfg = config(vec![okta_app_source(&emu.url(), &c)], vec![], vec![]);
    let s = collect(&db, &cfg, &opts(t0() + 2 * DAY, 1000), &NullReporter).await.unwrap();
    assert!(s.sources[0].ok(), "{}", s.sources[0].line());
    assert_eq!(stored_ids(&db, "okta"), ds.okta_ids);
    assert_eq!(emu.requests(Endpoint::OktaToken), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_windows_read_newest_first_pages_and_cover_the_tenant() {
    let ds = dataset(0, 400, 0, 2 * DAY);
    let emu = emulator(ds.dir.path(), &[]).await;
    let c = creds();
    let db = c.dir.path().join("t.db");
    let cfg = config(vec![], vec![entra_source(&emu.url(), &c)], vec![]);
    let now = t0() + 3 * DAY;
    let s = collect(&db, &cfg, &opts(now, 20), &NullReporter).await.unwrap();
    let r = &s.sources[0];
    assert!(r.ok(), "{}", r.line());
    // Interactive and non-interactive sign-ins (every 8th; Graph lists them only when asked).
    assert_eq!(stored_ids(&db, "entra"), ds.entra_ids);
    assert_eq!(ds.entra_ids.len(), 400);
    assert_eq!(emu.requests(Endpoint::GraphSignIns) as usize, r.pages as usize);
    // 96 h in 6 h windows.
    assert_eq!(r.coverage.len(), 16);
    assert_eq!(coverage(&db), vec![("entra".into(), TENANT.into(), now - 96 * HOUR, now - 1)]);
    assert_eq!(emu.requests(Endpoint::EntraToken), 1);
    let ck = checkpoint(&db, Source::Entra, TENANT, "incremental").unwrap();
    assert_eq!(ck, format!(r#"{{"done_until":{now},"scope":"{TENANT}"}}"#));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_app_ids_are_one_or_group() {
    let ds = dataset(0, 240, 0, DAY);
    let emu = emulator(ds.dir.path(), &[]).await;
    let c = creds();
    let now = t0() + 2 * DAY;
    let mut src = entra_source(&emu.url(), &c);
    src.app_ids = vec!["aws-app".into()];
    let db = c.dir.path().join("one.db");
    let s = collect(&db, &config(vec![], vec![src.clone()], vec![]), &opts(now, 1000), &NullReporter).await.unwrap();
    assert!(s.sources[0].ok(), "{}", s.sources[0].line());
    // Sign-in i goes to other-app when i % 3 == 0; every 8th is non-interactive (read too).
    let want: usize = (0..240).filter(|i| i % 3 != 0).count();
    assert_eq!(raw_count(&db, "entra") as usize, want);

    src.app_ids = vec!["aws-app".into(), "other-app".into()];
    let db = c.dir.path().join("two.db");
    let s = collect(&db, &config(vec![], vec![src], vec![]), &opts(now, 1000), &NullReporter).await.unwrap();
    assert!(s.sources[0].ok(), "{}", s.sources[0].line());
    assert_eq!(stored_ids(&db, "entra"), ds.entra_ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_reads_login_then_saml_per_window_and_covers_the_customer() {
    let ds = dataset(0, 0, 300, 2 * DAY);
    let emu = emulator(ds.dir.path(), &[]).await;
    let c = creds();
    let db = c.dir.path().join("t.db");
    let cfg = config(vec![], vec![], vec![google_source(&emu.url(), &c)]);
    let now = t0() + 3 * DAY;
    let s = collect(&db, &cfg, &opts(now, 25), &NullReporter).await.unwrap();
    let r = &s.sources[0];
    assert!(r.ok(), "{}", r.line());
    assert_eq!(r.counts.quarantined, 0);
    assert!(r.withheld.is_empty(), "{:?}", r.withheld);
    assert_eq!(stored_ids(&db, "google"), ds.google_ids);
    assert_eq!(coverage(&db), vec![("google".into(), CUSTOMER.into(), now - 96 * HOUR, now - 1)]);
    assert_eq!(emu.requests(Endpoint::GoogleToken), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn google_my_customer_learns_the_scope_from_the_records() {
    let ds = dataset(0, 0, 40, DAY);
    let emu = emulator(ds.dir.path(), &[]).await;
    let c = creds();
    let db = c.dir.path().join("t.db");
    let mut src = google_source(&emu.url(), &c);
    src.customer_id = "my_customer".into();
    let now = t0() + 2 * DAY;
    let cfg = config(vec![], vec![], vec![src]);
    let mut o = opts(now, 1000);
    o.tuning.window_ms = 96 * HOUR;
    let s = collect(&db, &cfg, &o, &NullReporter).await.unwrap();
    assert!(s.sources[0].ok(), "{}", s.sources[0].line());
    assert_eq!(coverage(&db), vec![("google".into(), CUSTOMER.into(), now - 96 * HOUR, now - 1)]);
    let ck = checkpoint(&db, Source::Google, "my_customer:admin@example.com", "incremental").unwrap();
    assert!(ck.contains(&format!(r#""scope":"{CUSTOMER}""#)), "{ck}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_sources_run_concurrently_into_one_store() {
    let ds = dataset(500, 500, 500, 2 * DAY);
    let emu = emulator(ds.dir.path(), &[]).await;
    let c = creds();
    let db = c.dir.path().join("t.db");
    let cfg = config(
        vec![okta_source(&emu.url(), &c)],
        vec![entra_source(&emu.url(), &c)],
        vec![google_source(&emu.url(), &c)],
    );
    let now = t0() + 3 * DAY;
    let s = collect(&db, &cfg, &opts(now, 50), &NullReporter).await.unwrap();
    assert!(!s.failed(), "{:#?}", s.sources.iter().map(|r| r.line()).collect::<Vec<_>>());
    assert_eq!(stored_ids(&db, "okta"), ds.okta_ids);
    assert_eq!(stored_ids(&db, "entra"), ds.entra_ids);
    assert_eq!(stored_ids(&db, "google"), ds.google_ids);
    let cov = coverage(&db);
    assert_eq!(cov.len(), 3, "{cov:?}");
    // Nothing new on a second run, and the import log has a line per source and run.
    let s = collect(&db, &cfg, &opts(now, 50), &NullReporter).await.unwrap();
    assert!(!s.failed());
    assert_eq!(s.sources.iter().map(|r| r.counts.stored).sum::<u64>(), 0);
    let store = trailproof_store::Store::open(&db).unwrap();
    assert_eq!(store.imports(100).unwrap().len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_org_configured_twice_is_collected_once() {
    let ds = dataset(30, 0, 0, DAY);
    let emu = emulator(ds.dir.path(), &[]).await;
    let c = creds();
    let db = c.dir.path().join("t.db");
    let cfg = config(vec![okta_source(&emu.url(), &c), okta_app_source(&emu.url(), &c)], vec![], vec![]);
    let s = collect(&db, &cfg, &opts(t0() + 2 * DAY, 1000), &NullReporter).await.unwrap();
    assert!(s.sources[0].ok());
    assert_eq!(
        s.sources[1].error.as_deref(),
        Some("okta:app: reads the same org (127.0.0.1) as okta:main; not collected twice")
    );
    assert_eq!(stored_ids(&db, "okta"), ds.okta_ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_polling_stops_once_it_reaches_now_even_when_pages_stay_full() {
    // Half of the events lie after the run's `now` (a busy org keeps filling pages).
    let ds = dataset(600, 0, 0, 2 * DAY);
    let emu = emulator(ds.dir.path(), &[]).await;
    let c = creds();
    let db = c.dir.path().join("t.db");
    let cfg = config(vec![okta_source(&emu.url(), &c)], vec![], vec![]);
    let now = t0() + DAY;
    let s = collect(&db, &cfg, &opts(now, 50), &NullReporter).await.unwrap();
    let r = &s.sources[0];
    assert!(r.ok(), "{}", r.line());
    assert!(r.pages < 10, "{}", r.line());
    let stored = stored_ids(&db, "okta");
    for id in &ds.okta_ids {
        if ds.times[id] < now {
            assert!(stored.contains(id), "{id} is before now but was not read");
        }
    }
    assert_eq!(coverage(&db), vec![("okta".into(), "*".into(), now - 96 * HOUR, now - 1)]);
    // The next run goes on from the stored link.
    let s = collect(&db, &cfg, &opts(t0() + 3 * DAY, 50), &NullReporter).await.unwrap();
    assert!(s.sources[0].ok());
    assert_eq!(stored_ids(&db, "okta"), ds.okta_ids);
}

/// A record the parser cannot read is quarantined, and the window it lies in is not claimed as
/// covered: a stretch holding an unreadable record is no evidence that nobody signed in then
/// (`trailproof_ingest::checkpoint::close_page`, the rule every collector follows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantined_record_withholds_the_coverage_of_its_window_only() {
    let ds = dataset(0, 400, 0, 2 * DAY);
    // One sign-in whose user is an object where Graph documents a string: the parser refuses it.
    let page = ds.dir.path().join("entra/page-0.json");
    let mut body: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&page).unwrap()).unwrap();
    let broken = &mut body["value"][200];
    broken["userPrincipalName"] = serde_json::json!({"unexpected": "object"});
    let broken_id = broken["id"].as_str().unwrap().to_string();
    std::fs::write(&page, body.to_string()).unwrap();
    let broken_t = ds.times[&broken_id];

    let emu = emulator(ds.dir.path(), &[]).await;
    let c = creds();
    let db = c.dir.path().join("t.db");
    let cfg = config(vec![], vec![entra_source(&emu.url(), &c)], vec![]);
    let now = t0() + 3 * DAY;
    let s = collect(&db, &cfg, &opts(now, 20), &NullReporter).await.unwrap();
    let r = &s.sources[0];
    assert_eq!(r.counts.quarantined, 1, "{}", r.line());
    assert_eq!(r.withheld.len(), 1, "{:?}", r.withheld);
    assert!(r.withheld[0].contains("quarantined"), "{:?}", r.withheld);
    // 96 h in 6 h windows: the one holding the record is not covered, the 15 others are.
    assert_eq!(r.coverage.len(), 15);
    let spans = coverage(&db);
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert!(spans.iter().all(|(_, _, a, b)| !(*a <= broken_t && broken_t <= *b)), "{spans:?} cover {broken_t}");
    let hole = (spans[0].3 + 1, spans[1].2 - 1);
    assert_eq!(hole.1 - hole.0 + 1, 6 * HOUR, "one window withheld: {hole:?}");
    assert!(hole.0 <= broken_t && broken_t <= hole.1);
}
