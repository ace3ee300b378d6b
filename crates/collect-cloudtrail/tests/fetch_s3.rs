//! S3 trail buckets against moto (skipped with a SKIP line when moto is not installed, unless
//! TRAILPROOF_REQUIRE_MOTO=1), and the directory mode.

mod common;

use std::time::Instant;

use common::*;
use trailproof_collect_cloudtrail::collect_cloudtrail;
use trailproof_emulate::moto::{MotoS3, require_or_skip};
use trailproof_model::config::CloudTrailSource;

async fn moto_with(dir: &std::path::Path, prefix: Option<&'static str>) -> MotoS3 {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let m = MotoS3::start().unwrap();
        m.upload(&dir, "trail-bucket", prefix).unwrap();
        m
    })
    .await
    .unwrap()
}

fn s3_source(m: &MotoS3, prefix: &str) -> CloudTrailSource {
    CloudTrailSource { bucket: "trail-bucket".into(), prefix: prefix.into(), ..source("s3", &m.endpoint()) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_collect_equals_directory_import_and_resumes() {
    if !require_or_skip("s3_collect_equals_directory_import_and_resumes") {
        return;
    }
    let sim = sim(12);
    let (account, regions) = layout(sim.path());
    let want = imported(sim.path());
    let m = moto_with(sim.path(), Some("org")).await;
    // Accounts and regions are listed (one delimiter level each).
    let src = s3_source(&m, "org");

    let mut full = open(sim.path(), "s3.db");
    let t = Instant::now();
    let sum = collect_cloudtrail(&mut full, &src, &opts(), &mut |_| {}).await.unwrap();
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "s3: {} records, {} objects in {secs:.2} s ({:.0} records/s)",
        sum.records,
        sum.pages,
        sum.records as f64 / secs
    );
    assert_eq!(ids(&full), want, "identical stored records");
    assert_eq!(sum.counts.quarantined, 0);
    let cov = full.coverage().unwrap();
    for r in &regions {
        assert!(cov.iter().any(|c| c.scope == format!("{account}/{r}")), "{r}: {cov:?}");
    }

    // A partial run, then a resume: the same records, nothing read twice.
    let mut part = open(sim.path(), "s3-part.db");
    let mut o = opts();
    o.stop_after = Some(2);
    let first = collect_cloudtrail(&mut part, &src, &o, &mut |_| {}).await.unwrap();
    assert!(first.stopped);
    assert_eq!(first.pages, 2);
    assert!(ids(&part).len() < want.len());
    o.stop_after = None;
    let rest = collect_cloudtrail(&mut part, &src, &o, &mut |_| {}).await.unwrap();
    assert_eq!(first.pages + rest.pages, sum.pages, "the resume starts after the last object key");
    assert_eq!(ids(&part), want);
    assert_eq!(part.coverage().unwrap(), cov);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_corrupt_gzip_object_is_quarantined_and_others_kept() {
    if !require_or_skip("s3_corrupt_gzip_object_is_quarantined_and_others_kept") {
        return;
    }
    let sim = sim(8);
    let (account, regions) = layout(sim.path());
    let want = imported(sim.path());
    // A corrupt object in the first region's first day folder, named inside the range.
    let day = std::fs::read_dir(sim.path().join("AWSLogs").join(&account).join("CloudTrail").join(&regions[0]))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut leaf = day;
    while let Some(Ok(e)) = std::fs::read_dir(&leaf).unwrap().next() {
        if e.path().is_dir() { leaf = e.path() } else { break }
    }
    let bad_name = format!("{account}_CloudTrail_{}_20261101T0001Z_BADBADBADBADBADB.json.gz", regions[0]);
    std::fs::write(leaf.join(&bad_name), [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7]).unwrap();
    let m = moto_with(sim.path(), None).await;
    let src = CloudTrailSource { accounts: vec![account.clone()], regions: regions.clone(), ..s3_source(&m, "") };
    let mut store = open(sim.path(), "bad.db");
    let sum = collect_cloudtrail(&mut store, &src, &opts(), &mut |_| {}).await.unwrap();
    assert_eq!(ids(&store), want, "every good object stored");
    assert_eq!(sum.counts.quarantined, 1);
    let q = quarantined(&store);
    assert_eq!(q.len(), 1, "{q:?}");
    assert!(q[0].0.ends_with(&bad_name) && q[0].1.contains("gzip"), "{q:?}");
    // Coverage withheld for the folder with the bad object, recorded for the others.
    let cov = store.coverage().unwrap();
    assert!(!cov.iter().any(|c| c.scope == format!("{account}/{}", regions[0])), "{cov:?}");
    assert!(sum.withheld.iter().any(|w| w.contains("quarantined")), "{:?}", sum.withheld);
    for r in &regions[1..] {
        assert!(cov.iter().any(|c| c.scope == format!("{account}/{r}")), "{r}: {cov:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_mode_is_an_import() {
    let sim = sim(6);
    let want = imported(sim.path());
    let src =
        CloudTrailSource { directory: sim.path().join("AWSLogs").display().to_string(), ..source("directory", "") };
    let mut store = open(sim.path(), "dir.db");
    let sum = collect_cloudtrail(&mut store, &src, &opts(), &mut |_| {}).await.unwrap();
    assert_eq!(ids(&store), want);
    assert!(!sum.coverage.is_empty());
    assert!(sum.pages > 0);
}

#[tokio::test]
async fn unknown_mode_and_missing_fields_are_config_errors() {
    let mut s = trailproof_store::Store::open_in_memory().unwrap();
    for (src, want) in [
        (source("kinesis", ""), "mode \"kinesis\""),
        (source("s3", ""), "needs `bucket`"),
        (source("lookup", ""), "needs `regions`"),
        (source("directory", ""), "needs `directory`"),
    ] {
        let e = collect_cloudtrail(&mut s, &src, &opts(), &mut |_| {}).await.unwrap_err().to_string();
        assert!(e.contains(want) && e.starts_with("cloudtrail:t"), "{e}");
    }
}

#[test]
fn the_collect_future_is_send() {
    fn is_send<T: Send>(_: &T) {}
    let mut s = trailproof_store::Store::open_in_memory().unwrap();
    let src = source("directory", "");
    let o = opts();
    let mut cb = |_: &trailproof_collect_cloudtrail::CtProgress| {};
    let f = collect_cloudtrail(&mut s, &src, &o, &mut cb);
    is_send(&f);
}
