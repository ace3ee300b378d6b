//! Data-driven tests over the hand-written Reports API pages in `fixtures/google/`.
//!
//! Each `<name>.json` is an `activities.list` page; `<name>.expected.json` beside it holds, per
//! element of `items`, either `{"native_id": .., "events": [IdpEvent..]}` or
//! `{"irrelevant": {"time_ms": .., "scope": ..}}`. Every activity is handed to `parse_record` as
//! its exact bytes, the way the splitter does.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::path::{Path, PathBuf};
use trailproof_model::{IdpEventKind, MfaClaim, Outcome};
use trailproof_source_google::{IdpEvent, Parsed, parse_record};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/google")
}

#[derive(Deserialize)]
struct Page<'a> {
    #[serde(borrow)]
    items: Vec<&'a RawValue>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Expected {
    native_id: Option<String>,
    events: Option<Vec<IdpEvent>>,
    irrelevant: Option<Irrelevant>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Irrelevant {
    time_ms: Option<i64>,
    scope: Option<String>,
}

impl Expected {
    fn to_parsed(&self) -> Parsed<IdpEvent> {
        match (&self.native_id, &self.events, &self.irrelevant) {
            (Some(id), Some(ev), None) => Parsed::Relevant { native_id: id.clone(), events: ev.clone() },
            (None, None, Some(i)) => Parsed::Irrelevant { time_ms: i.time_ms, scope: i.scope.clone() },
            other => panic!("malformed expectation {other:?}"),
        }
    }
}

/// Parses every activity of a fixture page.
fn parse_page(name: &str) -> Vec<Parsed<IdpEvent>> {
    let text = std::fs::read_to_string(dir().join(name)).unwrap();
    let page: Page = serde_json::from_str(&text).unwrap();
    page.items
        .iter()
        .map(|r| parse_record(r.get().as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}\n{}", r.get())))
        .collect()
}

#[test]
fn every_fixture_page_matches_its_expected_file() {
    let mut pages = 0;
    for entry in std::fs::read_dir(dir()).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !file.ends_with(".json") || file.ends_with(".expected.json") {
            continue;
        }
        pages += 1;
        let expected_path = path.with_extension("expected.json");
        let expected: Vec<Expected> = serde_json::from_str(
            &std::fs::read_to_string(&expected_path)
                .unwrap_or_else(|e| panic!("{file}: no expected file {}: {e}", expected_path.display())),
        )
        .unwrap_or_else(|e| panic!("{}: {e}", expected_path.display()));
        let got = parse_page(&file);
        assert_eq!(got.len(), expected.len(), "{file}: number of activities");
        for (i, (g, e)) in got.iter().zip(&expected).enumerate() {
            assert_eq!(g, &e.to_parsed(), "{file}: item {i}");
        }
    }
    assert_eq!(pages, 3, "fixture pages found");
}

fn events(p: &Parsed<IdpEvent>) -> &[IdpEvent] {
    match p {
        Parsed::Relevant { events, .. } => events,
        Parsed::Irrelevant { .. } => panic!("expected a relevant record"),
    }
}

#[test]
fn login_page_claims() {
    let got = parse_page("login_page.json");
    let claims: Vec<Option<(&str, MfaClaim)>> = got
        .iter()
        .map(|p| match p {
            Parsed::Relevant { events, .. } => Some((events[0].native_type.as_str(), events[0].mfa)),
            Parsed::Irrelevant { .. } => None,
        })
        .collect();
    assert_eq!(
        claims,
        vec![
            Some(("login/logout", MfaClaim::Silent)),
            Some(("login/login_success", MfaClaim::Upstream)), // login_type saml
            Some(("login/login_success", MfaClaim::SingleFactor)), // value: "password"
            Some(("login/login_success", MfaClaim::Verified)), // multiValue [password, security_key]
            Some(("login/login_verification", MfaClaim::Verified)), // is_second_factor, passed
            Some(("login/login_failure", MfaClaim::Silent)),   // wrong password
            None,                                              // account_warning/suspicious_login
            None,                                              // 2sv_change/2sv_enroll
        ]
    );
}

#[test]
fn two_step_login_fields() {
    let got = parse_page("login_page.json");
    let e = &events(&got[3])[0];
    assert_eq!(e.event_id, "login/2026-03-02T08:15:04.219Z/-2199023255552017");
    assert_eq!(e.time_ms, 1_772_439_304_219);
    assert_eq!(e.kind, IdpEventKind::Login);
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(e.user.login.as_deref(), Some("alice@example.com"));
    assert_eq!(e.user.user_id.as_deref(), Some("104582346578943210"));
    assert_eq!(e.tenant.as_deref(), Some("C03az79cb"));
    assert_eq!(e.source_ip.as_deref(), Some("203.0.113.24"));
    assert_eq!(e.asn, Some(64496));
    assert_eq!(e.country.as_deref(), Some("US"));
    assert_eq!(e.factors, vec!["password", "security_key"]);
    assert_eq!(e.mfa, MfaClaim::Verified);
}

#[test]
fn saml_page_to_aws() {
    let got = parse_page("saml_page.json");
    let fail = &events(&got[0])[0];
    assert_eq!(fail.kind, IdpEventKind::AppSso);
    assert_eq!(fail.outcome, Outcome::Failure);
    assert_eq!(fail.app_name.as_deref(), Some("Amazon Web Services"));
    assert!(fail.outcome_reason.as_deref().unwrap().starts_with("failure_app_not_enabled_for_user; initiated_by=sp"));
    let ok = &events(&got[1])[0];
    assert_eq!(ok.native_type, "saml/login_success");
    assert_eq!(ok.outcome, Outcome::Success);
    assert_eq!(ok.user.email.as_deref(), Some("alice@example.com"));
    assert_eq!(ok.mfa, MfaClaim::Silent);
    assert_eq!(ok.time_ms, 1_772_439_400_950);
}

#[test]
fn token_activity_is_irrelevant() {
    assert_eq!(
        parse_page("token_page.json"),
        vec![Parsed::Irrelevant { time_ms: Some(1_772_446_272_000), scope: Some("C03az79cb".into()) }]
    );
}

#[test]
fn a_fixture_page_itself_is_rejected_as_a_page() {
    let text = std::fs::read(dir().join("saml_page.json")).unwrap();
    let err = parse_record(&text).unwrap_err().to_string();
    assert!(err.contains("activities.list page"), "{err}");
}
