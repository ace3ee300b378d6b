//! LookupEvents against the emulator (`trailproof-emulate`), through the real aws-sdk-cloudtrail.

mod common;

use std::time::Instant;

use common::*;
use trailproof_collect_cloudtrail::{CtOptions, check_with, collect_cloudtrail};
use trailproof_emulate::{EmulatorConfig, Endpoint, RunningEmulator, serve};
use trailproof_model::config::CloudTrailSource;

async fn emulator(dir: &std::path::Path, rate_limits: bool) -> RunningEmulator {
    serve(EmulatorConfig { data: dir.to_path_buf(), rate_limits, ..Default::default() }).await.unwrap()
}

fn lookup_source(emu: &RunningEmulator, regions: &[String], rps: u32) -> CloudTrailSource {
    CloudTrailSource { regions: regions.to_vec(), requests_per_second: Some(rps), ..source("lookup", &emu.url()) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_reads_three_event_sources_per_region_like_an_import() {
    let sim = sim(12);
    let (account, regions) = layout(sim.path());
    let want = imported(sim.path());
    assert!(want.len() > 10, "the simulation has sign-ins: {}", want.len());
    let emu = emulator(sim.path(), false).await;
    // The account is configured: LookupEvents does not name it, and a region without records
    // could not teach it.
    let src = CloudTrailSource { accounts: vec![account.clone()], ..lookup_source(&emu, &regions, 0) };
    let mut store = open(sim.path(), "lookup.db");
    let mut o = opts();
    o.page_size = 5; // several pages per stream
    let t = Instant::now();
    let mut seen = 0;
    let sum = collect_cloudtrail(&mut store, &src, &o, &mut |_| seen += 1).await.unwrap();
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "lookup: {} records in {secs:.2} s ({:.0} records/s), {} requests",
        sum.records,
        sum.records as f64 / secs,
        sum.requests
    );
    assert_eq!(ids(&store), want, "the same records as a directory import");
    assert_eq!(sum.counts.quarantined, 0);
    assert!(sum.pages > 3 * regions.len() as u64 * 3, "paged: {}", sum.pages);
    assert_eq!(seen, sum.pages);
    // Three event sources asked per window and region.
    assert!(emu.requests(Endpoint::CloudTrail) >= (regions.len() * 3 * 3) as u64);
    // Coverage per ACCOUNT/REGION, one merged span each, up to now - settling (an hour).
    let cov = store.coverage().unwrap();
    for r in &regions {
        let scope = format!("{account}/{r}");
        let c: Vec<_> = cov.iter().filter(|c| c.scope == scope).collect();
        assert_eq!(c.len(), 1, "{scope}: {cov:?}");
        assert_eq!(c[0].start_ms, o.since.unwrap());
        assert_eq!(c[0].end_ms, o.until.unwrap() - o.settling_for(&src) - 1);
        assert_eq!(o.settling_for(&src), 3_600_000);
    }
    // A second run with the same backfill range re-reads only the settling time (coverage
    // stopped at now - settling): one window of three event sources per region, nothing new.
    let again = collect_cloudtrail(&mut store, &src, &o, &mut |_| {}).await.unwrap();
    assert_eq!(again.pages, 3 * regions.len() as u64, "{}", again.line());
    assert_eq!(again.counts.stored, 0);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_resumes_from_checkpoint_after_a_stop() {
    let sim = sim(8);
    let (_, regions) = layout(sim.path());
    let want = imported(sim.path());
    let emu = emulator(sim.path(), false).await;
    let src = lookup_source(&emu, &regions, 0);
    let mut store = open(sim.path(), "resume.db");
    let mut o = opts();
    o.page_size = 4;
    o.stop_after = Some(3);
    let first = collect_cloudtrail(&mut store, &src, &o, &mut |_| {}).await.unwrap();
    assert!(first.stopped);
    assert_eq!(first.pages, 3);
    let partial = ids(&store);
    assert!(partial.len() < want.len(), "stopped early: {} of {}", partial.len(), want.len());
    o.stop_after = None;
    let rest = collect_cloudtrail(&mut store, &src, &o, &mut |_| {}).await.unwrap();
    assert!(!rest.stopped);
    assert_eq!(ids(&store), want, "exact record set after the resume");
    // The resume did not start over: it read the rest only (nothing was stored twice).
    assert_eq!(rest.counts.stored as usize + partial.len(), want.len());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_backs_off_on_throttling_exception() {
    let sim = sim(4);
    let (_, regions) = layout(sim.path());
    let want = imported(sim.path());
    let emu = emulator(sim.path(), true).await; // 2 requests/s per region enforced
    let us = vec!["us-east-1".to_string()];
    assert!(regions.contains(&us[0]));
    let src = lookup_source(&emu, &us, 0); // pacing off: we will be throttled
    let mut store = open(sim.path(), "throttle.db");
    let mut o = opts();
    o.since = Some(trailproof_simulate::DEFAULT_START_MS);
    o.until = Some(trailproof_simulate::DEFAULT_START_MS + DAY);
    o.page_size = 3;
    o.retry.max_retries = 20;
    let sum = collect_cloudtrail(&mut store, &src, &o, &mut |_| {}).await.unwrap();
    assert!(sum.retries > 0, "throttled and retried: {}", sum.line());
    let got = ids(&store);
    assert!(!got.is_empty());
    assert!(got.iter().all(|id| want.contains(id)));

    // Paced at 2/s the same reads meet no throttling.
    let src = lookup_source(&emu, &us, 2);
    let mut store = open(sim.path(), "paced.db");
    let sum2 = collect_cloudtrail(&mut store, &src, &o, &mut |_| {}).await.unwrap();
    // (A fixed 1 s window that opens just after a request may still see a third one at its
    // very end once in a while, more often on a loaded machine; the retry then absorbs it.
    // Pacing must not make it worse than not pacing.)
    assert!(sum2.retries <= sum.retries.max(2), "{} vs unpaced {}", sum2.line(), sum.line());
    assert_eq!(ids(&store), got);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_gives_up_after_bounded_retries_and_names_what_was_kept() {
    let sim = sim(4);
    let (_, regions) = layout(sim.path());
    let emu = emulator(sim.path(), true).await;
    let src = lookup_source(&emu, &regions[..1], 0);
    let mut store = open(sim.path(), "fail.db");
    let mut o: CtOptions = opts();
    o.page_size = 1;
    o.retry.max_retries = 0;
    let err = collect_cloudtrail(&mut store, &src, &o, &mut |_| {}).await.unwrap_err().to_string();
    assert!(err.contains("cloudtrail:t"), "{err}");
    assert!(err.contains("ThrottlingException"), "{err}");
    assert!(err.contains(&regions[0]), "{err}");
    assert!(err.contains("kept:"), "{err}");
    assert!(!err.contains("not-a-secret"), "{err}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_each_region_and_config_problems() {
    let sim = sim(2);
    let (_, regions) = layout(sim.path());
    let emu = emulator(sim.path(), false).await;
    let src = lookup_source(&emu, &regions, 0);
    let lines = check_with(&src, &opts()).await;
    assert_eq!(lines.len(), 2 + regions.len());
    assert!(lines.iter().all(|l| l.ok), "{lines:?}");
    assert_eq!(lines[1].what, "pacing");
    assert!(lines[1].detail.starts_with("LookupEvents not paced"), "{}", lines[1].detail);
    assert!(lines[1].detail.contains("coverage ends 60 min before now"), "{}", lines[1].detail);
    let bad = CloudTrailSource { regions: vec![], ..src };
    let lines = check_with(&bad, &opts()).await;
    assert!(!lines[0].ok && lines[0].detail.contains("regions"), "{lines:?}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_learns_the_account_from_records_and_withholds_until_then() {
    let sim = sim(8);
    let (account, _) = layout(sim.path());
    let emu = emulator(sim.path(), false).await;
    let src = lookup_source(&emu, &["us-east-1".to_string(), "ap-south-1".to_string()], 0);
    let mut store = open(sim.path(), "learn.db");
    let o = opts();
    let sum = collect_cloudtrail(&mut store, &src, &o, &mut |_| {}).await.unwrap();
    // The first window (the day before the data) has no record: withheld; later windows of
    // us-east-1 are covered under the learned account; ap-south-1 never names one.
    assert!(sum.warnings.iter().any(|w| w.contains(&format!("account {account} learned"))), "{:?}", sum.warnings);
    let cov = store.coverage().unwrap();
    assert_eq!(cov.len(), 1, "{cov:?}");
    assert_eq!(cov[0].scope, format!("{account}/us-east-1"));
    assert!(cov[0].start_ms > o.since.unwrap());
    assert!(
        sum.withheld.iter().any(|w| w.starts_with("ap-south-1") && w.contains("account is unknown")),
        "{:?}",
        sum.withheld
    );
    emu.shutdown().await;
}
