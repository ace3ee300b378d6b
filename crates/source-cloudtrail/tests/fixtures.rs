//! Data-driven tests over /work/main/fixtures/cloudtrail: every `<name>.json` is split into
//! records and each record's parse is compared, field by field, with `<name>.expected.json`.
//! The same records also check the prefilter and the time/scope peek against the full parse.

mod common;

use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use trailproof_model::{AwsEvent, format_ms};
use trailproof_source_cloudtrail::{Format, Parsed, parse_record, peek_time_scope, prefilter, scope_of};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cloudtrail")
}

fn actual(raw: &str, format: Format) -> Value {
    match parse_record(raw.as_bytes(), format) {
        Ok(Parsed::Relevant { native_id, events }) => {
            assert_eq!(events.len(), 1, "one event per CloudTrail record");
            json!({"native_id": native_id, "event": serde_json::to_value(&events[0]).unwrap()})
        }
        Ok(Parsed::Irrelevant { time_ms, scope }) => json!({"irrelevant": {"time_ms": time_ms, "scope": scope}}),
        Err(e) => json!({"error": e.to_string()}),
    }
}

/// The expected value with the event completed: unlisted fields are null, `_time` is checked
/// against `time_ms` and removed.
fn normalize_expected(name: &str, i: usize, want: &Value) -> Value {
    let Some(ev) = want.get("event") else { return want.clone() };
    let mut ev: Map<String, Value> = ev.as_object().unwrap().clone();
    if let Some(t) = ev.remove("_time") {
        let ms = ev["time_ms"].as_i64().unwrap();
        assert_eq!(format_ms(ms), t.as_str().unwrap(), "{name}[{i}]: _time and time_ms disagree");
    }
    let full: AwsEvent = serde_json::from_value(Value::Object(ev)).unwrap_or_else(|e| panic!("{name}[{i}]: {e}"));
    json!({"native_id": want["native_id"], "event": serde_json::to_value(full).unwrap()})
}

fn format_for(name: &str) -> Format {
    if name.starts_with("ecs_") {
        Format::Ecs
    } else if name.starts_with("lookup_events") {
        Format::LookupEvents
    } else {
        Format::Native
    }
}

fn check(name: &str) -> usize {
    let raw = std::fs::read(dir().join(format!("{name}.json"))).unwrap();
    let expected: Vec<Value> =
        serde_json::from_slice(&std::fs::read(dir().join(format!("{name}.expected.json"))).unwrap()).unwrap();
    let records = common::split(&raw);
    assert_eq!(records.len(), expected.len(), "{name}: record count");
    for (i, (rec, want)) in records.iter().zip(&expected).enumerate() {
        let want = normalize_expected(name, i, want);
        for format in [Format::Auto, format_for(name)] {
            let got = actual(rec, format);
            if let (Some(g), Some(w)) = (got.get("event"), want.get("event")) {
                for (k, wv) in w.as_object().unwrap() {
                    assert_eq!(g.get(k), Some(wv), "{name}[{i}] ({format:?}) field `{k}`");
                }
            }
            assert_eq!(got, want, "{name}[{i}] ({format:?})");
        }
        // The prefilter keeps every kept event and, for these fixtures, drops the others.
        let parsed = parse_record(rec.as_bytes(), Format::Auto).unwrap();
        let (time, scope) = match &parsed {
            Parsed::Relevant { events, .. } => {
                assert!(prefilter(rec.as_bytes()), "{name}[{i}]: prefilter dropped a kept event");
                (Some(events[0].time_ms), scope_of(&events[0]))
            }
            Parsed::Irrelevant { time_ms, scope } => {
                assert!(!prefilter(rec.as_bytes()), "{name}[{i}]: prefilter kept an irrelevant record");
                (*time_ms, scope.clone())
            }
        };
        assert_eq!(peek_time_scope(rec.as_bytes()), (time, scope), "{name}[{i}]: peek disagrees with the parse");
    }
    records.len()
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
fn every_fixture_matches_its_expected_file() {
    let names = files();
    assert!(names.len() >= 23, "fixtures missing: {names:?}");
    let mut total = 0;
    for name in &names {
        assert!(dir().join(format!("{name}.expected.json")).exists(), "{name}: no expected file");
        total += check(name);
    }
    assert!(total >= 25);
}

/// One test per fixture as well, so a failure names the quirk.
macro_rules! fixture_tests {
    ($($test:ident => $file:literal),* $(,)?) => {
        $( #[test] fn $test() { check($file); } )*
    };
}

fixture_tests! {
    saml_console_login_without_session_context_takes_names_from_arn => "saml_console_login_no_session_context",
    saml_console_login_with_session_context_and_source_identity => "saml_console_login_with_session_context",
    identity_center_console_login_keeps_reserved_sso_role => "identity_center_console_login",
    federated_user_console_login_session_is_federated_name => "federated_user_console_login",
    get_federation_token_issuer_is_the_broker => "get_federation_token",
    get_signin_token_with_federated_credentials => "get_signin_token_federated_user",
    get_signin_token_with_role_credentials_and_api_call_event_type => "get_signin_token_assumed_role",
    assume_role_with_saml_reads_subject_and_source_identity => "assume_role_with_saml_source_identity",
    iam_user_mfaused_yes_is_true => "iam_user_console_login_mfa_yes",
    iam_user_mfaused_no_is_false => "iam_user_console_login_no_mfa",
    mfaused_upper_case_yes_is_true => "root_console_login_mfa_upper_yes",
    hidden_user_name_is_kept_and_login_failed => "console_login_failed_hidden_user",
    identity_center_password_totp_credential_type => "identity_center_user_authentication_password_totp",
    identity_center_external_idp_credential_type => "identity_center_user_authentication_external_idp",
    identity_center_2025_sequence_user_name_only_on_the_password_challenge => "identity_center_sign_in_2025_password_webauthn",
    identity_center_transition_shape_prefers_user_identity_user_name => "identity_center_credential_challenge_transition_unknown",
    identity_center_unauthenticated_failure_keeps_hidden_user_name => "identity_center_credential_verification_failed_unauthenticated",
    govcloud_partition_arn_is_split => "govcloud_console_login",
    seven_fraction_digits_and_offset_time => "fractional_seven_digits_offset",
    lookup_events_page_embedded_records_and_epoch_event_time => "lookup_events_page",
    ecs_nested_user_name_is_not_the_session_name => "ecs_console_login_nested",
    ecs_search_hit_is_unwrapped => "ecs_console_login_search_hit",
    ecs_dotted_keys_read_like_nested => "ecs_dotted_keys",
    ecs_event_original_wins => "ecs_search_hit_with_event_original",
    ecs_assume_role_with_saml_from_flattened_fields => "ecs_assume_role_with_saml",
    noise_record_is_irrelevant_and_prefiltered => "noise_ec2_describe_instances",
}
