//! Helpers shared by the integration tests: run the simulator into a temp dir and read what it
//! wrote back, without the parsers.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use trailproof_model::verdict::Label;
use trailproof_simulate::{SimOptions, SimSummary, Truth, simulate};

/// The smallest organisation in which every scenario appears (README.md, "Scenario catalogue").
pub fn small(seed: u64) -> SimOptions {
    SimOptions { seed, users: 80, days: 1, noise_ratio: 0.9, ..SimOptions::default() }
}

pub fn run(opts: &SimOptions) -> (tempfile::TempDir, SimSummary) {
    let dir = tempfile::tempdir().unwrap();
    let summary = simulate(opts, dir.path(), &mut |_| {}).unwrap();
    (dir, summary)
}

/// Every file under `dir`, by relative path.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, d: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(d).unwrap().map(|e| e.unwrap().path()).collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().display().to_string(), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

pub fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(b).read_to_end(&mut out).unwrap();
    out
}

pub fn labels(dir: &Path) -> Vec<Label> {
    std::fs::read_to_string(dir.join("labels.ndjson"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

pub fn truth(dir: &Path) -> Truth {
    serde_json::from_slice(&std::fs::read(dir.join("truth.json")).unwrap()).unwrap()
}

/// CloudTrail records as written: (file path, record).
pub fn cloudtrail_records(dir: &Path) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    for (path, bytes) in tree(dir) {
        if !path.starts_with("AWSLogs/") {
            continue;
        }
        let v: serde_json::Value = serde_json::from_slice(&gunzip(&bytes)).unwrap();
        for r in v["Records"].as_array().unwrap() {
            out.push((path.clone(), r.clone()));
        }
    }
    out
}

/// The ids each source's parser gives the written records.
#[derive(Default, Debug)]
pub struct Ids {
    pub cloudtrail: BTreeSet<String>,
    pub okta: BTreeSet<String>,
    pub entra: BTreeSet<String>,
    pub google: BTreeSet<String>,
    pub adfs: BTreeSet<String>,
}

pub fn written_ids(dir: &Path) -> Ids {
    let mut ids = Ids::default();
    for (_, r) in cloudtrail_records(dir) {
        ids.cloudtrail.insert(r["eventID"].as_str().unwrap().to_string());
    }
    for (path, bytes) in tree(dir) {
        if path.ends_with("coverage.json") {
            continue;
        }
        if path.starts_with("okta/") {
            let v: Vec<serde_json::Value> = serde_json::from_slice(&bytes).unwrap();
            for r in v {
                ids.okta.insert(r["uuid"].as_str().unwrap().to_string());
            }
        } else if path.starts_with("entra/") {
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            for r in v["value"].as_array().unwrap() {
                ids.entra.insert(r["id"].as_str().unwrap().to_string());
            }
        } else if path.starts_with("adfs/") {
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            for r in v["records"].as_array().unwrap() {
                assert_eq!(r["category"], "ADFSSignInLogs");
                ids.adfs.insert(r["properties"]["id"].as_str().unwrap().to_string());
            }
        } else if path.starts_with("google/") {
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            for r in v["items"].as_array().unwrap() {
                let native = format!(
                    "{}/{}/{}",
                    r["id"]["applicationName"].as_str().unwrap(),
                    r["id"]["time"].as_str().unwrap(),
                    r["id"]["uniqueQualifier"].as_str().unwrap()
                );
                let n = r["events"].as_array().unwrap().len();
                if n == 1 {
                    ids.google.insert(native);
                } else {
                    for i in 0..n {
                        ids.google.insert(format!("{native}#{i}"));
                    }
                }
            }
        }
    }
    ids
}
