//! `--since` / `--until`: bounded reads with their own checkpoint.

use trailproof_collect::{CollectError, CollectOptions, NullReporter, collect};
use trailproof_emulate::Endpoint;
use trailproof_model::Source;

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_backfill_reads_bounded_windows_and_leaves_the_incremental_checkpoint_alone() {
    let ds = dataset(300, 0, 0, 2 * DAY);
    let emu = emulator(ds.dir.path(), &[]).await;
    let c = creds();
    let db = c.dir.path().join("t.db");
    let cfg = config(vec![okta_source(&emu.url(), &c)], vec![], vec![]);
    let now = t0() + 3 * DAY;
    let mut o = CollectOptions::new(now);
    o.since = Some(t0());
    o.until = Some(t0() + DAY);
    o.tuning.page_size = Some(50);
    o.tuning.window_ms = 6 * HOUR;
    let s = collect(&db, &cfg, &o, &NullReporter).await.unwrap();
    let r = &s.sources[0];
    assert!(r.ok(), "{}", r.line());
    assert_eq!(r.mode, "backfill");
    let want: std::collections::BTreeSet<String> =
        ds.okta_ids.iter().filter(|id| ds.times[*id] < t0() + DAY).cloned().collect();
    assert_eq!(stored_ids(&db, "okta"), want);
    assert_eq!(coverage(&db), vec![("okta".into(), "*".into(), t0(), t0() + DAY - 1)]);
    assert_eq!(r.coverage.len(), 4);
    assert!(checkpoint(&db, Source::Okta, "127.0.0.1", "incremental").is_none());
    let ck = checkpoint(&db, Source::Okta, "127.0.0.1", "backfill").unwrap();
    assert_eq!(ck, format!(r#"{{"done_until":{},"since":{},"until":{}}}"#, t0() + DAY, t0(), t0() + DAY));

    // The same backfill again has nothing left to read.
    let before = emu.requests(Endpoint::OktaLogs);
    let s = collect(&db, &cfg, &o, &NullReporter).await.unwrap();
    assert!(s.sources[0].ok());
    assert_eq!(emu.requests(Endpoint::OktaLogs), before);

    // `--until` alone moves the incremental run's end: bounded windows, then polling resumes
    // from where they ended.
    let mut inc = CollectOptions::new(now);
    inc.until = Some(t0() + 36 * HOUR);
    inc.tuning.page_size = Some(50);
    let s = collect(&db, &cfg, &inc, &NullReporter).await.unwrap();
    assert!(s.sources[0].ok(), "{}", s.sources[0].line());
    let ck = checkpoint(&db, Source::Okta, "127.0.0.1", "incremental").unwrap();
    assert_eq!(ck, format!(r#"{{"done_until":{}}}"#, t0() + 36 * HOUR));
    let s =
        collect(&db, &cfg, &CollectOptions { tuning: inc.tuning.clone(), ..CollectOptions::new(now) }, &NullReporter)
            .await
            .unwrap();
    assert!(s.sources[0].ok(), "{}", s.sources[0].line());
    assert_eq!(stored_ids(&db, "okta"), ds.okta_ids);
    assert_eq!(coverage(&db), vec![("okta".into(), "*".into(), now - 96 * HOUR, now - 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_backfill_resumes_where_it_stopped() {
    let ds = dataset(0, 0, 400, 2 * DAY);
    // Reports requests from the 9th on fail.
    let emu = emulator(ds.dir.path(), &["5xx:burst=1000,after=8,status=500"]).await;
    let c = creds();
    let db = c.dir.path().join("t.db");
    let mut cfg = config(vec![], vec![], vec![google_source(&emu.url(), &c)]);
    cfg.collect.max_retries = 1;
    let now = t0() + 3 * DAY;
    let mut o = CollectOptions::new(now);
    o.since = Some(t0());
    o.tuning.page_size = Some(30);
    o.tuning.window_ms = 6 * HOUR;
    let s = collect(&db, &cfg, &o, &NullReporter).await.unwrap();
    assert!(s.failed());
    let kept = raw_count(&db, "google");
    assert!(kept > 0);
    let ck = checkpoint(&db, Source::Google, CUSTOMER, "backfill").unwrap();
    assert!(ck.contains(r#""pending":"#), "{ck}");

    emu.shutdown().await;
    let emu = emulator(ds.dir.path(), &[]).await;
    let cfg = config(vec![], vec![], vec![google_source(&emu.url(), &c)]);
    let s = collect(&db, &cfg, &o, &NullReporter).await.unwrap();
    let r = &s.sources[0];
    assert!(r.ok(), "{}", r.line());
    // Resumed: the records of the first run are not read again (the stored page link is for
    // the old server, so the pending window's application starts over: a few at most).
    assert!(r.counts.duplicates < 60, "{}", r.line());
    assert_eq!(stored_ids(&db, "google"), ds.google_ids);
    assert_eq!(coverage(&db), vec![("google".into(), CUSTOMER.into(), t0(), now - 1)]);
}

#[tokio::test]
async fn bad_ranges_and_missing_sources_are_refused_before_any_work() {
    let c = creds();
    let db = c.dir.path().join("t.db");
    let cfg = config(vec![okta_source("http://127.0.0.1:1", &c)], vec![], vec![]);
    let now = t0();
    let mut o = CollectOptions::new(now);
    o.since = Some(now - HOUR);
    o.until = Some(now - 2 * HOUR);
    assert!(matches!(collect(&db, &cfg, &o, &NullReporter).await, Err(CollectError::BadRange(_))));
    o.since = Some(now + HOUR);
    o.until = None;
    assert!(matches!(collect(&db, &cfg, &o, &NullReporter).await, Err(CollectError::BadRange(_))));
    let mut o = CollectOptions::new(now);
    o.only = Some(Source::Entra);
    assert_eq!(
        collect(&db, &cfg, &o, &NullReporter).await.unwrap_err().to_string(),
        "no [[collect.entra]] source is configured"
    );
    assert!(!db.exists(), "nothing may be created when nothing runs");
}

#[tokio::test]
async fn a_second_collect_on_the_same_database_is_refused() {
    let c = creds();
    let db = c.dir.path().join("t.db");
    let lock_path = c.dir.path().join("t.db.collect-lock");
    let f = std::fs::File::create(&lock_path).unwrap();
    f.lock().unwrap();
    let cfg = config(vec![okta_source("http://127.0.0.1:1", &c)], vec![], vec![]);
    let e = collect(&db, &cfg, &CollectOptions::new(t0()), &NullReporter).await.unwrap_err();
    assert!(matches!(e, CollectError::Busy(_)), "{e}");
    drop(f);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_is_read_or_covered_beyond_the_api_retention() {
    let ds = dataset(0, 50, 0, DAY);
    let emu = emulator(ds.dir.path(), &[]).await;
    let c = creds();
    let db = c.dir.path().join("t.db");
    let cfg = config(vec![], vec![entra_source(&emu.url(), &c)], vec![]);
    let now = t0() + 2 * DAY;
    let mut o = CollectOptions::new(now);
    o.since = Some(now - 40 * DAY);
    o.tuning.window_ms = 10 * DAY;
    let s = collect(&db, &cfg, &o, &NullReporter).await.unwrap();
    let r = &s.sources[0];
    assert!(r.ok(), "{}", r.line());
    let horizon = now - 30 * DAY + HOUR;
    assert!(r.warnings[0].starts_with("entra keeps 30 days of sign-ins: reading from"), "{:?}", r.warnings);
    assert_eq!(coverage(&db), vec![("entra".into(), TENANT.into(), horizon, now - 1)]);
    assert_eq!(stored_ids(&db, "entra"), ds.entra_ids);
}
