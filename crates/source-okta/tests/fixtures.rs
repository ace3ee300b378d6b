//! Data-driven tests over `fixtures/okta/`: every `X.json` is a System Log page (a JSON array of
//! LogEvents) and `X.expected.json` beside it holds, record by record, either
//! `{"relevant": <IdpEvent>}` (fields left out are `None`) or `{"irrelevant": {"time_ms": ...}}`.
//! Each event is compared field by field.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::path::{Path, PathBuf};
use trailproof_model::{IdpEvent, MfaClaim, Millis};
use trailproof_source_okta::{Parsed, parse_record};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Expected {
    Relevant(Box<IdpEvent>),
    Irrelevant { time_ms: Option<Millis> },
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/okta")
}

fn pages() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .expect("fixtures/okta exists")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_string_lossy();
            n.ends_with(".json") && !n.ends_with(".expected.json")
        })
        .collect();
    v.sort();
    v
}

/// Compares two events field by field through their JSON form, naming every field that differs.
fn diff(actual: &IdpEvent, expected: &IdpEvent) -> Vec<String> {
    let a = serde_json::to_value(actual).unwrap();
    let e = serde_json::to_value(expected).unwrap();
    let (a, e) = (a.as_object().unwrap(), e.as_object().unwrap());
    let mut out = Vec::new();
    for (k, ev) in e {
        let av = &a[k];
        if let (Some(ao), Some(eo)) = (av.as_object(), ev.as_object()) {
            for (sk, sev) in eo {
                if &ao[sk] != sev {
                    out.push(format!("{k}.{sk}: got {}, expected {sev}", ao[sk]));
                }
            }
        } else if av != ev {
            out.push(format!("{k}: got {av}, expected {ev}"));
        }
    }
    out
}

#[test]
fn every_fixture_page_parses_as_expected() {
    let pages = pages();
    assert!(pages.len() >= 6, "expected the six fixture pages, found {pages:?}");
    let mut checked = 0;
    for page in pages {
        let name = page.file_name().unwrap().to_string_lossy().into_owned();
        let raw = std::fs::read(&page).unwrap();
        let records: Vec<&RawValue> = serde_json::from_slice(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
        let exp_path = page.with_extension("expected.json");
        let expected: Vec<Expected> = serde_json::from_slice(&std::fs::read(&exp_path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e}", exp_path.display()));
        assert_eq!(records.len(), expected.len(), "{name}: records vs expected entries");
        for (i, (rec, exp)) in records.iter().zip(expected).enumerate() {
            let got = parse_record(rec.get().as_bytes()).unwrap_or_else(|e| panic!("{name}[{i}]: {e}"));
            match (got, exp) {
                (Parsed::Relevant { native_id, events }, Expected::Relevant(want)) => {
                    assert_eq!(events.len(), 1, "{name}[{i}]");
                    assert_eq!(native_id, want.event_id, "{name}[{i}] native_id");
                    let d = diff(&events[0], &want);
                    assert!(d.is_empty(), "{name}[{i}] differs:\n  {}", d.join("\n  "));
                    assert_eq!(events[0], *want, "{name}[{i}]");
                }
                (Parsed::Irrelevant { time_ms, scope }, Expected::Irrelevant { time_ms: want }) => {
                    assert_eq!(time_ms, want, "{name}[{i}] time");
                    assert_eq!(scope, None, "{name}[{i}] scope");
                }
                (got, exp) => panic!("{name}[{i}]: got {got:?}, expected {exp:?}"),
            }
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} records checked");
}

/// The whole-session fixture: every event of Alice's session shares the externalSessionId, and
/// exactly one of them is MFA evidence (the Okta Verify push), placed before the AWS SSO.
#[test]
fn push_session_links_mfa_to_the_aws_sso_through_the_session_id() {
    let raw = std::fs::read(fixtures_dir().join("session_push_mfa_aws.json")).unwrap();
    let records: Vec<&RawValue> = serde_json::from_slice(&raw).unwrap();
    let events: Vec<IdpEvent> = records
        .iter()
        .filter_map(|r| match parse_record(r.get().as_bytes()).unwrap() {
            Parsed::Relevant { events, .. } => Some(events),
            Parsed::Irrelevant { .. } => None,
        })
        .flatten()
        .collect();
    assert_eq!(events.len(), 5);
    assert!(events.iter().all(|e| e.session_id.as_deref() == Some("idxT7qYcRn1xVb4Kp9ZsWm2Lg")));
    let verified: Vec<&IdpEvent> = events.iter().filter(|e| e.mfa == MfaClaim::Verified).collect();
    assert_eq!(verified.len(), 1);
    let sso = events.iter().find(|e| e.app_name.as_deref() == Some("AWS Account Federation")).unwrap();
    assert!(verified[0].time_ms < sso.time_ms);
}

/// The password-only session has no MFA evidence at all: its verify step is the password.
#[test]
fn password_only_session_has_no_verified_factor() {
    let raw = std::fs::read(fixtures_dir().join("session_password_only_aws.json")).unwrap();
    let records: Vec<&RawValue> = serde_json::from_slice(&raw).unwrap();
    let mut single = 0;
    for r in records {
        if let Parsed::Relevant { events, .. } = parse_record(r.get().as_bytes()).unwrap() {
            assert_ne!(events[0].mfa, MfaClaim::Verified, "{}", events[0].native_type);
            single += usize::from(events[0].mfa == MfaClaim::SingleFactor);
        }
    }
    assert_eq!(single, 1);
}
