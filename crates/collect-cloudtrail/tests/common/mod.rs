//! Shared helpers: a small simulated trail tree, stores, record sets.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use trailproof_collect_cloudtrail::CtOptions;
use trailproof_ingest::{ImportOptions, collect_inputs, import};
use trailproof_model::config::CloudTrailSource;
use trailproof_model::{Millis, Source};
use trailproof_simulate::{DEFAULT_START_MS, SimOptions, simulate};
use trailproof_store::Store;

pub const DAY: Millis = 24 * 3_600_000;

/// A simulated organisation with one account over one day (small: fast tests).
pub fn sim(users: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let opts =
        SimOptions { users, days: 1, accounts: 1, noise_ratio: 0.5, idp_noise_per_user_day: 0, ..Default::default() };
    simulate(&opts, dir.path(), &mut |_| {}).unwrap();
    dir
}

/// `(account, regions)` of the tree.
pub fn layout(dir: &Path) -> (String, Vec<String>) {
    let logs = dir.join("AWSLogs");
    let account = std::fs::read_dir(&logs).unwrap().next().unwrap().unwrap().file_name().into_string().unwrap();
    let mut regions: Vec<String> = std::fs::read_dir(logs.join(&account).join("CloudTrail"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    regions.sort();
    (account, regions)
}

pub fn open(dir: &Path, name: &str) -> Store {
    Store::open(&dir.join(name)).unwrap()
}

/// The records a plain `trailproof import cloudtrail DIR/AWSLogs` stores.
pub fn imported(dir: &Path) -> Vec<String> {
    let mut s = Store::open_in_memory().unwrap();
    let (inputs, manifests) = collect_inputs(&[dir.join("AWSLogs")]).unwrap();
    let r = import(&mut s, &inputs, &manifests, &ImportOptions::new(Source::Cloudtrail), &mut |_| {}).unwrap();
    assert_eq!(r.counts.quarantined, 0);
    ids(&s)
}

pub fn ids(s: &Store) -> Vec<String> {
    s.native_ids(trailproof_model::Source::Cloudtrail).unwrap()
}

pub fn quarantined(s: &Store) -> Vec<(String, String)> {
    let mut st = s.conn().prepare("SELECT origin, reason FROM quarantine ORDER BY origin").unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

/// Options reading the simulated day: since the day before, now two days after its start.
pub fn opts() -> CtOptions {
    let mut o = CtOptions::new(DEFAULT_START_MS + 2 * DAY);
    o.since = Some(DEFAULT_START_MS - DAY);
    o.until = Some(DEFAULT_START_MS + 2 * DAY);
    o.credentials = Some(aws_sdk_cloudtrail::config::Credentials::new("AKIDTEST", "not-a-secret", None, None, "test"));
    o.retry.initial = std::time::Duration::from_millis(50);
    o.retry.max = std::time::Duration::from_millis(500);
    o
}

pub fn source(mode: &str, endpoint: &str) -> CloudTrailSource {
    CloudTrailSource { name: "t".into(), mode: mode.into(), endpoint_url: endpoint.into(), ..Default::default() }
}

pub fn path(dir: &Path) -> PathBuf {
    dir.to_path_buf()
}
