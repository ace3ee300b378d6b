//! The simulated directories import cleanly through `trailproof_ingest` into a store that agrees
//! with `truth.json`: counts per source and kind, nothing quarantined, duplicates counted as
//! duplicates, every ConsoleLogin present, every label's evidence present, coverage recorded
//! from each IdP's `coverage.json`.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use trailproof_ingest::{CoverageBasis, ImportOptions, ImportReport, collect_inputs, import};
use trailproof_model::{Source, parse_time};
use trailproof_simulate::{IdpTruth, SimOptions};
use trailproof_store::Store;

fn import_dir(store: &mut Store, dir: &Path, source: Source) -> ImportReport {
    let (inputs, manifests) = collect_inputs(&[dir.to_path_buf()]).unwrap();
    let opts = ImportOptions { threads: 2, ..ImportOptions::new(source) };
    import(store, &inputs, &manifests, &opts, &mut |_| {}).unwrap()
}

fn kinds(store: &Store, source: &str) -> BTreeMap<String, u64> {
    store.event_counts().unwrap().into_iter().filter(|(s, _, _)| s == source).map(|(_, k, n)| (k, n)).collect()
}

fn native_types(store: &Store, provider: &str) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for e in store.idp_events_all().unwrap().into_iter().filter(|e| e.provider.as_str() == provider) {
        *out.entry(e.native_type).or_default() += 1;
    }
    out
}

fn check_idp(store: &mut Store, dir: &Path, source: Source, truth: &IdpTruth) {
    let report = import_dir(store, &dir.join(source.as_str()), source);
    let name = source.as_str();
    assert_eq!(report.counts.quarantined, 0, "{name}: quarantined {:?}", report.quarantine_examples);
    assert!(report.failed_inputs.is_empty(), "{name}: {:?}", report.failed_inputs);
    assert_eq!(report.counts.stored, truth.relevant, "{name}: stored");
    assert_eq!(report.counts.skipped, truth.irrelevant, "{name}: skipped");
    assert_eq!(report.counts.duplicates, 0, "{name}: duplicates");
    assert_eq!(report.counts.read, truth.records, "{name}: read");
    assert_eq!(kinds(store, name), truth.by_kind, "{name}: events per kind");
    // Native types of the kept events.
    let stored_types = native_types(store, name);
    let expected: BTreeMap<String, u64> = match source {
        Source::Adfs => truth.by_native_type.clone(),
        Source::Entra => {
            BTreeMap::from([("signIn".to_string(), truth.by_native_type.get("signIn").copied().unwrap_or(0))])
        }
        _ => truth
            .by_native_type
            .iter()
            .filter(|(t, _)| stored_types.contains_key(*t))
            .map(|(t, n)| (t.clone(), *n))
            .collect(),
    };
    assert_eq!(stored_types, expected, "{name}: events per native type");
    // Coverage from the manifest, exactly.
    let cov: Vec<(String, i64, i64)> = store
        .coverage()
        .unwrap()
        .into_iter()
        .filter(|c| c.source == source)
        .map(|c| (c.scope, c.start_ms, c.end_ms))
        .collect();
    let want: Vec<(String, i64, i64)> = truth
        .coverage
        .iter()
        .map(|e| (e.scope.clone(), parse_time(&e.start).unwrap(), parse_time(&e.end).unwrap()))
        .collect();
    assert_eq!(cov, want, "{name}: coverage");
    assert!(report.coverage.iter().all(|c| c.basis == CoverageBasis::Manifest), "{name}: {:?}", report.coverage);
}

#[test]
fn simulated_org_imports_and_matches_truth() {
    let (dir, summary) =
        run(&SimOptions { users: 80, days: 2, noise_ratio: 0.95, duplicate_ratio: 0.03, ..SimOptions::default() });
    assert!(summary.mismatches.is_empty());
    let dir = dir.path();
    let truth = truth(dir);
    let mut store = Store::open_in_memory().unwrap();

    let ct = import_dir(&mut store, &dir.join("AWSLogs"), Source::Cloudtrail);
    assert_eq!(ct.counts.quarantined, 0, "cloudtrail: quarantined {:?}", ct.quarantine_examples);
    assert!(ct.failed_inputs.is_empty(), "{:?}", ct.failed_inputs);
    assert_eq!(ct.counts.read, truth.cloudtrail.records_written);
    assert_eq!(ct.counts.stored, truth.cloudtrail.relevant, "cloudtrail: stored");
    assert_eq!(ct.counts.duplicates, truth.cloudtrail.relevant_duplicate_copies, "cloudtrail: duplicates");
    assert!(truth.cloudtrail.relevant_duplicate_copies > 0);
    assert_eq!(
        ct.counts.skipped,
        truth.cloudtrail.noise + truth.cloudtrail.noise_duplicate_copies,
        "cloudtrail: skipped"
    );
    assert_eq!(kinds(&store, "cloudtrail"), truth.cloudtrail.relevant_by_kind, "cloudtrail: events per kind");

    for id in truth.console_logins.successful.iter().chain(&truth.console_logins.failed) {
        let n: i64 = store
            .conn()
            .query_row("SELECT COUNT(*) FROM aws_events WHERE event_id = ?1 AND kind = 'ConsoleLogin'", [id], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(n, 1, "ConsoleLogin {id} stored once");
    }
    let outcome = |id: &str| -> String {
        store.conn().query_row("SELECT outcome FROM aws_events WHERE event_id = ?1", [id], |r| r.get(0)).unwrap()
    };
    assert!(truth.console_logins.successful.iter().all(|id| outcome(id) == "success"));
    assert!(truth.console_logins.failed.iter().all(|id| outcome(id) == "failure"));

    check_idp(&mut store, dir, Source::Okta, &truth.okta);
    check_idp(&mut store, dir, Source::Entra, &truth.entra);
    check_idp(&mut store, dir, Source::Google, &truth.google);
    check_idp(&mut store, dir, Source::Adfs, &truth.adfs);

    // Every label's evidence is in the store under the id the label gives.
    for l in labels(dir) {
        for e in &l.evidence {
            let n: i64 = match e.source {
                Source::Cloudtrail => {
                    store.conn().query_row("SELECT COUNT(*) FROM aws_events WHERE event_id = ?1", [&e.id], |r| r.get(0))
                }
                p => {
                    let provider = trailproof_model::Idp::parse(p.as_str()).unwrap();
                    Ok(i64::from(store.idp_event(provider, &e.id).unwrap().is_some()))
                }
            }
            .unwrap();
            assert_eq!(
                n, 1,
                "{}: evidence {:?} {} ({}) not in the store",
                l.console_login_event_id, e.source, e.id, e.role
            );
        }
    }
}
