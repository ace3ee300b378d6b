//! Data-driven tests over /work/main/fixtures/entra: every `<name>.json` is split into records
//! and each record's parse is compared, field by field, with `<name>.expected.json`.

mod common;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use trailproof_model::{IdpEvent, MfaClaim, Outcome};
use trailproof_source_entra::{Format, Parsed, parse_record};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/entra")
}

fn actual(raw: &str, format: Format) -> Value {
    match parse_record(raw.as_bytes(), format) {
        Ok(Parsed::Relevant { native_id, events }) => {
            assert_eq!(events.len(), 1, "one event per sign-in");
            json!({"native_id": native_id, "event": serde_json::to_value(&events[0]).unwrap()})
        }
        Ok(Parsed::Irrelevant { time_ms, scope }) => json!({"irrelevant": {"time_ms": time_ms, "scope": scope}}),
        Err(e) => json!({"error": e.to_string()}),
    }
}

fn check(name: &str, format: Format) -> Vec<Value> {
    let raw = std::fs::read(dir().join(format!("{name}.json"))).unwrap();
    let expected: Vec<Value> =
        serde_json::from_slice(&std::fs::read(dir().join(format!("{name}.expected.json"))).unwrap()).unwrap();
    let records = common::split(&raw);
    assert_eq!(records.len(), expected.len(), "{name}: record count");
    for (i, (rec, want)) in records.iter().zip(&expected).enumerate() {
        // The expected events must themselves be valid IdpEvents (catches typos in the files).
        if let Some(ev) = want.get("event") {
            let _: IdpEvent = serde_json::from_value(ev.clone()).unwrap_or_else(|e| panic!("{name}[{i}]: {e}"));
        }
        let got = actual(rec, format);
        if let (Some(g), Some(w)) = (got.get("event"), want.get("event")) {
            for (k, wv) in w.as_object().unwrap() {
                assert_eq!(g.get(k), Some(wv), "{name}[{i}] ({format:?}) field `{k}`");
            }
        }
        assert_eq!(&got, want, "{name}[{i}] ({format:?})");
    }
    expected
}

fn files() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json") && !n.ends_with(".expected.json"))
        .map(|n| n.trim_end_matches(".json").to_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn every_fixture_has_an_expected_file_and_matches_it() {
    let names = files();
    assert!(names.len() >= 5, "{names:?}");
    for n in &names {
        check(n, Format::Auto);
    }
}

#[test]
fn graph_beta_page_value_wrapper_splits_into_four_sign_ins() {
    let exp = check("graph_beta_page", Format::Graph);
    let mfa: Vec<&str> = exp.iter().map(|e| e["event"]["mfa"].as_str().unwrap()).collect();
    assert_eq!(mfa, ["verified", "carried", "single_factor", "failed"]);
}

#[test]
fn graph_beta_page_key_facts() {
    let raw = std::fs::read(dir().join("graph_beta_page.json")).unwrap();
    let recs = common::split(&raw);
    let ev = |i: usize| match parse_record(recs[i].as_bytes(), Format::Auto).unwrap() {
        Parsed::Relevant { mut events, .. } => events.remove(0),
        p => panic!("{p:?}"),
    };
    let fresh = ev(0);
    assert_eq!(fresh.mfa, MfaClaim::Verified);
    assert_eq!(fresh.factors, ["Password", "Mobile app notification"]);
    assert_eq!(fresh.time_ms % 1000, 619, "7-digit fraction truncated to ms");
    assert_eq!(ev(1).mfa, MfaClaim::Carried);
    assert_eq!(ev(2).mfa, MfaClaim::SingleFactor);
    assert_eq!(ev(2).asn, Some(64501), "ASN sent as a string");
    assert_eq!(ev(2).session_id, None, "empty sessionId is absent");
    let failed = ev(3);
    assert_eq!(failed.outcome, Outcome::Failure);
    assert_eq!(failed.mfa, MfaClaim::Failed);
    assert_eq!(
        failed.outcome_reason.as_deref(),
        Some("500121: Authentication failed during strong authentication request.")
    );
}

#[test]
fn azure_monitor_records_wrapper_with_service_principal() {
    let exp = check("azure_monitor_records", Format::AzureMonitor);
    assert_eq!(exp.len(), 3);
    assert!(exp[2].get("irrelevant").is_some());
}

#[test]
fn log_analytics_rows_as_log_analytics() {
    check("log_analytics_row", Format::LogAnalytics);
    check("log_analytics_rows", Format::LogAnalytics);
}

#[test]
fn graph_v1_record_as_graph() {
    check("graph_v1_record", Format::Graph);
}
