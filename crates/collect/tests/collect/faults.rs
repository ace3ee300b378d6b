//! The reliability contract under the emulator's faults: throttling, 5xx, dropped connections,
//! truncated bodies, expiring tokens, bounded retries.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use trailproof_collect::{CollectOptions, NullReporter, Progress, Reporter, collect};
use trailproof_emulate::{ClockMode, Endpoint, Limit, RateLimits, serve};
use trailproof_model::Source;

use crate::common::*;

fn opts(now: i64, page: u32) -> CollectOptions {
    let mut o = CollectOptions::new(now);
    o.tuning.page_size = Some(page);
    o.tuning.window_ms = 12 * HOUR;
    o
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_429_waits_for_retry_after() {
    let ds = dataset(120, 0, 0, DAY);
    // Requests 1 and 2 of the logs endpoint get 429 with Retry-After: 1.
    let emu = emulator(ds.dir.path(), &["429:burst=2,after=1,every=1000"]).await;
    let c = creds();
    let db = c.dir.path().join("t.db");
    let cfg = config(vec![okta_source(&emu.url(), &c)], vec![], vec![]);
    let t = Instant::now();
    let s = collect(&db, &cfg, &opts(t0() + 2 * DAY, 40), &NullReporter).await.unwrap();
    let r = &s.sources[0];
    assert!(r.ok(), "{}", r.line());
    assert!(t.elapsed() >= Duration::from_millis(1900), "{:?}", t.elapsed());
    assert_eq!((r.http.throttled, r.http.retries), (2, 2));
    assert_eq!(stored_ids(&db, "okta"), ds.okta_ids);
    // 108 kept events, pages of 40: 3 pages and the empty page that ends the poll, plus the 2
    // throttled attempts.
    assert_eq!(emu.requests(Endpoint::OktaLogs), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_rate_limit_remaining_zero_pauses_until_the_reset_without_a_429() {
    let ds = dataset(200, 0, 0, DAY);
    let mut ec = emulator_config(ds.dir.path(), &[], ClockMode::Wall);
    ec.rate_limits = true;
    ec.limits = RateLimits { okta: Limit { max: 3, window: Duration::from_secs(2) }, ..RateLimits::default() };
    let emu = serve(ec).await.unwrap();
    let c = creds();
    let db = c.dir.path().join("t.db");
    let cfg = config(vec![okta_source(&emu.url(), &c)], vec![], vec![]);
    // 180 kept events in pages of 40, and the empty page: 6 requests, so the limit of 3 per
    // window is reached once.
    let s = collect(&db, &cfg, &opts(t0() + 2 * DAY, 40), &NullReporter).await.unwrap();
    let r = &s.sources[0];
    assert!(r.ok(), "{}", r.line());
    assert_eq!(r.http.throttled, 0, "{}", r.line());
    assert_eq!(emu.requests(Endpoint::OktaLogs), 6);
    assert!(r.http.wait_time >= Duration::from_millis(500), "{:?}", r.http.wait_time);
    assert_eq!(stored_ids(&db, "okta"), ds.okta_ids);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_drops_and_truncated_bodies_are_retried_and_the_store_is_exact() {
    let ds = dataset(300, 300, 300, DAY);
    for faults in [
        vec!["5xx:burst=3,after=1,every=7,status=500"],
        vec!["drop:0.25"],
        vec!["trunc:0.3,mode=cut"],
        vec!["trunc:0.3,mode=close"],
    ] {
        let emu = emulator(ds.dir.path(), &faults).await;
        let c = creds();
        let db = c.dir.path().join("t.db");
        let mut cfg = config(
            vec![okta_source(&emu.url(), &c)],
            vec![entra_source(&emu.url(), &c)],
            vec![google_source(&emu.url(), &c)],
        );
        cfg.collect.max_retries = 8;
        let s = collect(&db, &cfg, &opts(t0() + 2 * DAY, 30), &NullReporter).await.unwrap();
        for r in &s.sources {
            assert!(r.ok(), "{faults:?}: {}", r.line());
            assert_eq!(r.counts.quarantined, 0, "{faults:?}: {}", r.line());
        }
        let retries: u64 = s.sources.iter().map(|r| r.http.retries).sum();
        assert!(retries >= 3, "{faults:?}: only {retries} retries");
        assert_eq!(stored_ids(&db, "okta"), ds.okta_ids, "{faults:?}");
        assert_eq!(stored_ids(&db, "entra"), ds.entra_ids, "{faults:?}");
        assert_eq!(stored_ids(&db, "google"), ds.google_ids, "{faults:?}");
        assert_eq!(coverage(&db).len(), 3, "{faults:?}");
        emu.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_bounded_and_the_error_names_the_source_the_path_and_what_was_kept() {
    let ds = dataset(0, 400, 0, 2 * DAY);
    // Graph requests 0..=2 succeed, then every request fails.
    let emu = emulator(ds.dir.path(), &["5xx:burst=1000,after=3,status=500"]).await;
    let c = creds();
    let db = c.dir.path().join("t.db");
    let mut cfg = config(vec![], vec![entra_source(&emu.url(), &c)], vec![]);
    cfg.collect.max_retries = 2;
    let now = t0() + 3 * DAY;
    let mut o = opts(now, 1000);
    o.tuning.window_ms = 6 * HOUR;
    let s = collect(&db, &cfg, &o, &NullReporter).await.unwrap();
    assert!(s.failed());
    let r = &s.sources[0];
    let e = r.error.as_deref().unwrap();
    assert!(
        e.starts_with("entra:corp: GET /beta/auditLogs/signIns failed after 3 attempts; the last: HTTP 500"),
        "{e}"
    );
    assert!(e.contains("Kept 3 pages"), "{e}");
    assert!(e.contains("the next run resumes from the checkpoint"), "{e}");
    assert!(!e.contains("filter") && !e.contains(ENTRA_SECRET), "{e}");
    assert!(r.fix.as_deref().unwrap().contains("graph_url"), "{:?}", r.fix);
    assert_eq!(emu.requests(Endpoint::GraphSignIns), 6);
    // A window is two queries (interactive, then non-interactive sign-ins): the three pages read
    // complete one window, which is covered, nothing else.
    let start = now - 96 * HOUR;
    assert_eq!(coverage(&db), vec![("entra".into(), TENANT.into(), start, start + 6 * HOUR - 1)]);
    assert_eq!(r.coverage.len(), 1);

    // A healthy server later: the run resumes and ends exact.
    emu.shutdown().await;
    let emu = emulator(ds.dir.path(), &[]).await;
    let cfg = config(vec![], vec![entra_source(&emu.url(), &c)], vec![]);
    let s = collect(&db, &cfg, &o, &NullReporter).await.unwrap();
    assert!(!s.failed(), "{}", s.sources[0].line());
    assert_eq!(stored_ids(&db, "entra"), ds.entra_ids);
    assert_eq!(coverage(&db), vec![("entra".into(), TENANT.into(), start, now - 1)]);
}

/// Moves the emulator's clock two hours on after the first stored page: the cached access
/// token (valid for an hour) is then expired for the server only.
struct AdvanceAfterFirstPage<'a> {
    clock: &'a trailproof_emulate::Clock,
    done: Mutex<bool>,
}

impl Reporter for AdvanceAfterFirstPage<'_> {
    fn progress(&self, _p: &Progress) {
        let mut d = self.done.lock().unwrap();
        if !*d {
            *d = true;
            self.clock.advance(Duration::from_secs(7200));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_is_refreshed_once_and_the_run_goes_on() {
    let ds = dataset(0, 200, 200, DAY);
    for source in [Source::Entra, Source::Google] {
        let now = t0() + 2 * DAY;
        let emu = serve(emulator_config(ds.dir.path(), &[], ClockMode::Frozen(now))).await.unwrap();
        let c = creds();
        let db = c.dir.path().join("t.db");
        let cfg = match source {
            Source::Entra => config(vec![], vec![entra_source(&emu.url(), &c)], vec![]),
            _ => config(vec![], vec![], vec![google_source(&emu.url(), &c)]),
        };
        let rep = AdvanceAfterFirstPage { clock: emu.clock(), done: Mutex::new(false) };
        let s = collect(&db, &cfg, &opts(now, 50), &rep).await.unwrap();
        let r = &s.sources[0];
        assert!(r.ok(), "{}", r.line());
        assert_eq!(r.http.token_refreshes, 1, "{}", r.line());
        let (token_ep, ids) = match source {
            Source::Entra => (Endpoint::EntraToken, &ds.entra_ids),
            _ => (Endpoint::GoogleToken, &ds.google_ids),
        };
        assert_eq!(emu.requests(token_ep), 2);
        assert_eq!(&stored_ids(&db, source.as_str()), ids);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_refused_again_after_a_refresh_is_an_error_not_a_loop() {
    let ds = dataset(50, 0, 0, DAY);
    // Tokens expire at once: every API call answers 401.
    let emu = emulator(ds.dir.path(), &["ttl:0s"]).await;
    let c = creds();
    let db = c.dir.path().join("t.db");
    let cfg = config(vec![okta_app_source(&emu.url(), &c)], vec![], vec![]);
    let s = collect(&db, &cfg, &opts(t0() + 2 * DAY, 50), &NullReporter).await.unwrap();
    let r = &s.sources[0];
    let e = r.error.as_deref().unwrap();
    assert!(e.contains("GET /api/v1/logs was not authorized (HTTP 401): E0000011"), "{e}");
    assert_eq!(emu.requests(Endpoint::OktaLogs), 2);
    assert_eq!(emu.requests(Endpoint::OktaToken), 2);
    assert!(r.fix.as_deref().unwrap().contains("okta.logs.read"), "{:?}", r.fix);

    // A static API token that is wrong: refused at once, no refresh possible.
    let bad = c.dir.path().join("bad-token");
    std::fs::write(&bad, "not-the-token-0123456789").unwrap();
    let mut src = okta_source(&emu.url(), &c);
    src.token_file = bad.to_string_lossy().into();
    let before = emu.requests(Endpoint::OktaLogs);
    let s = collect(&db, &config(vec![src], vec![], vec![]), &opts(t0() + 2 * DAY, 50), &NullReporter).await.unwrap();
    assert!(s.sources[0].error.as_deref().unwrap().contains("HTTP 401"));
    assert_eq!(emu.requests(Endpoint::OktaLogs), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_link_to_another_host_is_never_followed() {
    let ds = dataset(60, 0, 0, DAY);
    let emu = emulator(ds.dir.path(), &[]).await;
    let c = creds();
    let db = c.dir.path().join("t.db");
    let now = t0() + 2 * DAY;
    {
        let mut store = trailproof_store::Store::open(&db).unwrap();
        let mut b = store.batch().unwrap();
        let st = format!(r#"{{"done_until":{},"next":"http://192.0.2.1:9/api/v1/logs?after=x"}}"#, now - 48 * HOUR);
        b.set_checkpoint(Source::Okta, "127.0.0.1", "incremental", &st).unwrap();
        b.commit().unwrap();
    }
    let cfg = config(vec![okta_source(&emu.url(), &c)], vec![], vec![]);
    let s = collect(&db, &cfg, &opts(now, 1000), &NullReporter).await.unwrap();
    assert!(s.sources[0].ok(), "{}", s.sources[0].line());
    assert_eq!(stored_ids(&db, "okta"), ds.okta_ids);
    assert_eq!(coverage(&db), vec![("okta".into(), "*".into(), now - 48 * HOUR, now - 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_slower_than_the_timeout_fails_after_the_retries() {
    let ds = dataset(20, 0, 0, DAY);
    let emu = emulator(ds.dir.path(), &["slow:1500ms"]).await;
    let c = creds();
    let db = c.dir.path().join("t.db");
    let mut cfg = config(vec![okta_source(&emu.url(), &c)], vec![], vec![]);
    cfg.collect.request_timeout_seconds = 1;
    cfg.collect.max_retries = 1;
    let t = Instant::now();
    let s = collect(&db, &cfg, &opts(t0() + 2 * DAY, 50), &NullReporter).await.unwrap();
    let e = s.sources[0].error.as_deref().unwrap();
    assert!(e.contains("GET /api/v1/logs failed after 2 attempts; the last: timed out"), "{e}");
    assert!(t.elapsed() < Duration::from_secs(10), "{:?}", t.elapsed());
    assert_eq!(raw_count(&db, "okta"), 0);
}
