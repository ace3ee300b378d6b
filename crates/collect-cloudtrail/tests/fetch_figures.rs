//! Throughput figures with pacing off (ignored by default; run with `--ignored --nocapture`).

mod common;

use std::time::Instant;

use common::*;
use trailproof_collect_cloudtrail::collect_cloudtrail;
use trailproof_emulate::{EmulatorConfig, serve};
use trailproof_model::config::CloudTrailSource;
use trailproof_simulate::{SimOptions, simulate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn figures_lookup_and_s3() {
    let dir = tempfile::tempdir().unwrap();
    let so = SimOptions {
        users: 300,
        days: 1,
        accounts: 1,
        noise_ratio: 0.9,
        idp_noise_per_user_day: 0,
        ..Default::default()
    };
    simulate(&so, dir.path(), &mut |_| {}).unwrap();
    let (account, regions) = layout(dir.path());
    let emu = serve(EmulatorConfig { data: dir.path().to_path_buf(), ..Default::default() }).await.unwrap();
    let src = CloudTrailSource {
        regions: regions.clone(),
        accounts: vec![account],
        requests_per_second: Some(0),
        ..source("lookup", &emu.url())
    };
    let mut store = open(dir.path(), "fig-lookup.db");
    let t = Instant::now();
    let s = collect_cloudtrail(&mut store, &src, &opts(), &mut |_| {}).await.unwrap();
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "FIGURE lookup: {} records, {} pages in {secs:.2} s = {:.0} records/s",
        s.records,
        s.pages,
        s.records as f64 / secs
    );
    emu.shutdown().await;
    if !trailproof_emulate::moto::require_or_skip("figures_lookup_and_s3") {
        return;
    }
    let p = dir.path().to_path_buf();
    let m = tokio::task::spawn_blocking(move || {
        let m = trailproof_emulate::moto::MotoS3::start().unwrap();
        m.upload(&p, "trail-bucket", None).unwrap();
        m
    })
    .await
    .unwrap();
    let src = CloudTrailSource { bucket: "trail-bucket".into(), ..source("s3", &m.endpoint()) };
    let mut store = open(dir.path(), "fig-s3.db");
    let t = Instant::now();
    let s = collect_cloudtrail(&mut store, &src, &opts(), &mut |_| {}).await.unwrap();
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "FIGURE s3: {} records, {} objects in {secs:.2} s = {:.0} records/s, {:.1} objects/s",
        s.records,
        s.pages,
        s.records as f64 / secs,
        s.pages as f64 / secs
    );
}
