//! Late events: the overlap re-reads what may still arrive, coverage stops at `now - overlap`,
//! and deduplication keeps the store exact.

use std::time::Duration;

use trailproof_collect::{CollectOptions, NullReporter, collect};
use trailproof_emulate::{ClockMode, serve};

use crate::common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_events_are_caught_by_the_overlap_and_coverage_never_claims_unread_data() {
    // 6 hours of events that become visible 5 to 15 minutes after their time, out of order.
    let ds = dataset(600, 600, 600, 6 * HOUR);
    let t1 = t0() + 3 * HOUR;
    let emu = serve(emulator_config(ds.dir.path(), &["late:5m,jitter=10m"], ClockMode::Frozen(t1))).await.unwrap();
    let c = creds();
    let db = c.dir.path().join("t.db");
    let mut cfg = config(
        vec![okta_source(&emu.url(), &c)],
        vec![entra_source(&emu.url(), &c)],
        vec![google_source(&emu.url(), &c)],
    );
    cfg.collect.overlap_minutes = 15;
    cfg.collect.initial_lookback_hours = 4;
    let run = |now: i64| {
        let mut o = CollectOptions::new(now);
        o.tuning.page_size = Some(100);
        o.tuning.window_ms = HOUR;
        o
    };
    let all = |db: &std::path::Path| {
        let mut s = stored_ids(db, "okta");
        s.extend(stored_ids(db, "entra"));
        s.extend(stored_ids(db, "google"));
        s
    };

    // Run 1 at t0 + 3 h: events after about t0 + 2 h 45 m may not be visible yet.
    let s = collect(&db, &cfg, &run(t1), &NullReporter).await.unwrap();
    assert!(!s.failed(), "{:?}", s.sources.iter().map(|r| r.line()).collect::<Vec<_>>());
    let got = all(&db);
    let claim_end = t1 - 15 * MIN;
    // Some events before `now` were not visible yet...
    let missing_before_now: Vec<_> =
        ds.times.iter().filter(|(id, t)| **t < t1 && !got.contains(*id)).map(|(id, _)| id.clone()).collect();
    assert!(!missing_before_now.is_empty(), "the late-events fault had no effect");
    // ...but every event inside the claimed coverage is stored.
    for (id, t) in &ds.times {
        if *t < claim_end {
            assert!(got.contains(id), "{id} at {t} is inside the coverage but not stored");
        }
    }
    for (_, _, _, end) in coverage(&db) {
        assert_eq!(end, claim_end - 1);
    }

    // Run 2, 8 hours later: everything has arrived; the overlap and Okta's next link catch the
    // late events.
    emu.clock().advance(Duration::from_secs(8 * 3600));
    let t2 = t1 + 8 * HOUR;
    let s = collect(&db, &cfg, &run(t2), &NullReporter).await.unwrap();
    assert!(!s.failed(), "{:?}", s.sources.iter().map(|r| r.line()).collect::<Vec<_>>());
    let dups: u64 = s.sources.iter().map(|r| r.counts.duplicates).sum();
    assert!(dups > 0, "the overlap re-read nothing");
    assert_eq!(stored_ids(&db, "okta"), ds.okta_ids);
    assert_eq!(stored_ids(&db, "entra"), ds.entra_ids);
    assert_eq!(stored_ids(&db, "google"), ds.google_ids);
    let cov = coverage(&db);
    assert_eq!(cov.len(), 3, "{cov:?}");
    for (_, _, start, end) in cov {
        assert_eq!((start, end), (t1 - 4 * HOUR, t2 - 15 * MIN - 1));
    }
}
