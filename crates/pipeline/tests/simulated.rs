//! The engine against the simulator, through the real import path and store:
//! - accuracy: every label (verdict, reason, path, identity, required evidence and signals) holds;
//! - never a false `enforced`: deleting random IdP factor events and session starts from the store,
//!   or cutting IdP coverage short, only ever moves verdicts away from `enforced`.
//!
//! The CI-sized runs are here; `TRAILPROOF_ACCURACY_SEEDS=1,2,3,... TRAILPROOF_ACCURACY_USERS=...`
//! scales the accuracy run up (see the README of crates/simulate).

use proptest::prelude::*;
use std::path::Path;
use trailproof_correlate::{Compiled, agreement};
use trailproof_ingest::{ImportOptions, collect_inputs, import};
use trailproof_model::verdict::{Label, Verdict};
use trailproof_simulate::{SOURCE_DIRS, SimOptions, simulate};
use trailproof_store::Store;

fn load(dir: &Path) -> (Store, Compiled, Vec<Label>) {
    let mut store = Store::open(&dir.join("t.db")).unwrap();
    for (source, sub) in SOURCE_DIRS {
        let (inputs, manifests) = collect_inputs(&[dir.join("sim").join(sub)]).unwrap();
        let r = import(&mut store, &inputs, &manifests, &ImportOptions::new(source), &mut |_| {}).unwrap();
        assert_eq!((r.counts.quarantined, r.failed_inputs.len()), (0, 0), "{source}: {r:?}");
    }
    let text = std::fs::read_to_string(dir.join("sim/org.toml")).unwrap();
    let cfg = Compiled::new(&toml_config(&text)).unwrap();
    let labels = std::fs::read_to_string(dir.join("sim/labels.ndjson"))
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (store, cfg, labels)
}

fn toml_config(text: &str) -> trailproof_model::config::Config {
    // The simulator writes org.toml with the toml crate from the same Config type.
    toml::from_str(text).unwrap()
}

fn simulated(seed: u64, users: u32, days: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let opts = SimOptions { seed, users, days, noise_ratio: 0.5, idp_noise_per_user_day: 5, ..Default::default() };
    let s = simulate(&opts, &dir.path().join("sim"), &mut |_| {}).unwrap();
    assert!(s.mismatches.is_empty(), "{:?}", s.mismatches);
    dir
}

#[test]
fn verdicts_equal_the_labels_across_seeds() {
    let seeds: Vec<u64> = std::env::var("TRAILPROOF_ACCURACY_SEEDS")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 2, 3]);
    let users: u32 = std::env::var("TRAILPROOF_ACCURACY_USERS").ok().and_then(|s| s.parse().ok()).unwrap_or(150);
    let days: u32 = std::env::var("TRAILPROOF_ACCURACY_DAYS").ok().and_then(|s| s.parse().ok()).unwrap_or(2);
    let mut total = 0;
    for seed in seeds {
        let dir = simulated(seed, users, days);
        let (mut store, cfg, labels) = load(dir.path());
        trailproof_pipeline::judge(&mut store, &cfg, None, i64::MAX - 1, &mut |_, _| {}).unwrap();
        let verdicts = store.verdicts(i64::MIN, i64::MAX).unwrap();
        let a = agreement(&labels, &verdicts);
        total += a.labels;
        assert!(
            a.all_match(),
            "seed {seed}: {}/{} match; first mismatches: {:#?}; unlabelled: {:?}",
            a.matched,
            a.labels,
            &a.mismatches[..a.mismatches.len().min(10)],
            a.unlabelled
        );
    }
    eprintln!("{total} labelled console sessions checked");
    assert!(total > 0);
}

/// The verdicts of two simulated days do not depend on how many sessions a slice holds: judged
/// again a session at a time, then seven at a time, every verdict is the one stored (the store
/// counts a verdict whose content differs as `changed`).
#[test]
fn verdicts_do_not_depend_on_the_slice_size() {
    let dir = simulated(4, 150, 2);
    let (mut store, cfg, _) = load(dir.path());
    let first = trailproof_pipeline::judge(&mut store, &cfg, None, i64::MAX - 1, &mut |_, _| {}).unwrap();
    assert_eq!(first.slices, 1, "{first:?}");
    assert!(first.sessions > 100, "{first:?}");
    for n in [1, 7] {
        let opts = trailproof_pipeline::JudgeOptions { slice_sessions: n, ..Default::default() };
        let again =
            trailproof_pipeline::judge_with(&mut store, &cfg, None, i64::MAX - 1, &opts, &mut |_, _| {}).unwrap();
        assert_eq!(again.sessions, first.sessions, "slices of {n}");
        assert!(
            again.slices * n >= again.sessions && again.slices > first.sessions / (n + 2),
            "slices of {n}: {again:?}"
        );
        assert_eq!((again.changes.new, again.changes.changed), (0, 0), "slices of {n}: {again:?}");
    }
    // Slices sized by bytes: with a budget no slice fits, every slice after the first holds an
    // eighth of `slice_sessions`; the verdicts are the same.
    let opts = trailproof_pipeline::JudgeOptions { slice_sessions: 64, slice_bytes: 1 };
    let again = trailproof_pipeline::judge_with(&mut store, &cfg, None, i64::MAX - 1, &opts, &mut |_, _| {}).unwrap();
    assert_eq!(again.sessions, first.sessions);
    assert!(again.slices > first.sessions / 16, "{again:?}");
    assert_eq!((again.changes.new, again.changes.changed), (0, 0), "{again:?}");
    // The log was copied on a thread of its own while verdicts were stored; the store's own
    // checkpoints are back, and nothing was lost.
    let auto: i64 = store.conn().pragma_query_value(None, "wal_autocheckpoint", |r| r.get(0)).unwrap();
    assert_eq!(auto, 1000);
    assert_eq!(store.verdicts(i64::MIN, i64::MAX).unwrap().len() as u64, first.sessions);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 6, ..ProptestConfig::default() })]
    #[test]
    fn deleting_idp_evidence_never_creates_enforced(seed in 1u64..10_000, keep_every in 2u64..5, cut_hours in 0i64..30, cut in any::<bool>()) {
        let dir = simulated(seed, 80, 1);
        let (mut store, cfg, _) = load(dir.path());
        trailproof_pipeline::judge(&mut store, &cfg, None, i64::MAX - 1, &mut |_, _| {}).unwrap();
        let before: std::collections::BTreeMap<String, Verdict> =
            store.verdicts(i64::MIN, i64::MAX).unwrap().into_iter().map(|v| (v.console_login_event_id, v.verdict)).collect();
        // Delete a pseudo-random share of factor events, session starts and Google verification steps.
        let deleted = store
            .conn()
            .execute(
                "DELETE FROM idp_events WHERE (kind IN ('factor_verified', 'session_start')
                   OR native_type_ref IN (SELECT id FROM idp_strings
                                          WHERE value IN ('login/login_verification', 'login/login_challenge')))
                   AND (abs(id * 2654435761 + ?1) % ?2) = 0",
                rusqlite_params(seed as i64, keep_every as i64),
            )
            .unwrap();
        if cut {
            store.conn().execute("UPDATE coverage SET start_ms = start_ms + ?1 WHERE source != 'cloudtrail'", [cut_hours * 3_600_000]).unwrap();
        }
        trailproof_pipeline::judge(&mut store, &cfg, None, i64::MAX - 1, &mut |_, _| {}).unwrap();
        for v in store.verdicts(i64::MIN, i64::MAX).unwrap() {
            if v.verdict == Verdict::Enforced {
                prop_assert_eq!(before.get(&v.console_login_event_id), Some(&Verdict::Enforced),
                    "{} became enforced after deleting {} IdP records: {}", v.console_login_event_id, deleted, v.explanation);
            }
        }
    }
}

fn rusqlite_params(a: i64, b: i64) -> [i64; 2] {
    [a, b]
}
