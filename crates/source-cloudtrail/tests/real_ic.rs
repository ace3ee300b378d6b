//! The Identity Center sign-in records of the real-record corpus (`fixtures/real/cloudtrail/ic-*`,
//! see fixtures/real/README.md): every record of each data file is parsed and compared, field by
//! field, with its meta file's `expect` entry. The same records check the prefilter and the
//! time/scope peek against the full parse. (`crates/ingest/tests/real.rs` runs the whole corpus
//! through the import path; this test pins the parser on these files without the store.)

mod common;

use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use trailproof_model::{AwsEvent, format_ms};
use trailproof_source_cloudtrail::{Format, Parsed, parse_record, peek_time_scope, prefilter, scope_of};

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/real/cloudtrail")
}

/// The `ic-*` meta files and their data files (`<name>.<ext>` beside `<name>.meta.json`).
fn corpus() -> Vec<(String, PathBuf)> {
    let names: Vec<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    let mut out: Vec<(String, PathBuf)> = names
        .iter()
        .filter(|n| n.starts_with("ic-") && n.ends_with(".meta.json"))
        .map(|meta| {
            let stem = meta.trim_end_matches(".meta.json");
            let data: Vec<&String> = names
                .iter()
                .filter(|n| n.strip_prefix(stem).is_some_and(|rest| rest.starts_with('.') && !rest.contains('/')))
                .filter(|n| *n != meta)
                .collect();
            assert_eq!(data.len(), 1, "{stem}: exactly one data file beside the meta file, found {data:?}");
            (stem.to_owned(), dir().join(data[0]))
        })
        .collect();
    out.sort();
    out
}

fn actual(raw: &str) -> Value {
    match parse_record(raw.as_bytes(), Format::Auto) {
        Ok(Parsed::Relevant { native_id, events }) => json!({
            "source": "cloudtrail",
            "native_id": native_id,
            "events": events.iter().map(|e| serde_json::to_value(e).unwrap()).collect::<Vec<_>>(),
        }),
        Ok(Parsed::Irrelevant { .. }) => json!({"irrelevant": true}),
        Err(e) => json!({"quarantined": e.to_string()}),
    }
}

/// An expected kept record with its events completed: unlisted fields are null, `_time` is
/// checked against `time_ms` and removed.
fn normalize(name: &str, i: usize, want: &Value) -> Value {
    let Some(events) = want.get("events") else { return want.clone() };
    let events: Vec<Value> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|ev| {
            let mut ev: Map<String, Value> = ev.as_object().unwrap().clone();
            if let Some(t) = ev.remove("_time") {
                let ms = ev["time_ms"].as_i64().unwrap();
                assert_eq!(format_ms(ms), t.as_str().unwrap(), "{name}[{i}]: _time and time_ms disagree");
            }
            let full: AwsEvent =
                serde_json::from_value(Value::Object(ev)).unwrap_or_else(|e| panic!("{name}[{i}]: {e}"));
            serde_json::to_value(full).unwrap()
        })
        .collect();
    json!({"source": want["source"], "native_id": want["native_id"], "events": events})
}

fn check(name: &str, data: &Path) -> usize {
    let meta: Value = serde_json::from_slice(&std::fs::read(dir().join(format!("{name}.meta.json"))).unwrap()).unwrap();
    assert_eq!(meta["import"], "cloudtrail", "{name}: these files are imported as cloudtrail");
    assert!(meta["provenance"]["changed"].is_string(), "{name}: provenance.changed");
    let expect = meta["expect"].as_array().unwrap();
    let records = common::split(&std::fs::read(data).unwrap());
    assert_eq!(records.len(), expect.len(), "{name}: record count");
    for (i, (rec, want)) in records.iter().zip(expect).enumerate() {
        let want = normalize(name, i, want);
        let got = actual(rec);
        if let (Some(g), Some(w)) = (got["events"].as_array(), want["events"].as_array()) {
            for (ge, we) in g.iter().zip(w) {
                for (k, wv) in we.as_object().unwrap() {
                    assert_eq!(ge.get(k), Some(wv), "{name}[{i}] field `{k}`");
                }
            }
        }
        assert_eq!(got, want, "{name}[{i}]");
        if let Ok(Parsed::Relevant { events, .. }) = parse_record(rec.as_bytes(), Format::Auto) {
            assert!(prefilter(rec.as_bytes()), "{name}[{i}]: prefilter dropped a kept event");
            assert_eq!(
                peek_time_scope(rec.as_bytes()),
                (Some(events[0].time_ms), scope_of(&events[0])),
                "{name}[{i}]: peek disagrees with the parse"
            );
        }
    }
    records.len()
}

#[test]
fn every_identity_center_real_record_matches_its_meta_file() {
    let files = corpus();
    assert!(files.len() >= 5, "ic-* files missing: {files:?}");
    let total: usize = files.iter().map(|(name, data)| check(name, data)).sum();
    assert!(total >= 17, "only {total} records");
}

fn one(name: &str) -> AwsEvent {
    let (_, data) = corpus().into_iter().find(|(n, _)| n == name).unwrap();
    let rec = &common::split(&std::fs::read(data).unwrap())[0];
    match parse_record(rec.as_bytes(), Format::Auto).unwrap() {
        Parsed::Relevant { mut events, .. } => events.remove(0),
        other => panic!("{name}: {other:?}"),
    }
}

/// Issue 15 point 2: the 2025 shape (`userIdentity.type: IdentityCenterUser`, no `userName` in
/// `userIdentity`) names its user only in `additionalEventData.UserName`. Before, the portal
/// sign-in was stored with no user name and anchored no Identity Center window.
#[test]
fn the_2025_user_authentication_names_its_user() {
    let e = one("ic-elastic-user-authentication-2025");
    assert_eq!(e.principal_type.as_deref(), Some("IdentityCenterUser"));
    assert_eq!(e.user_name.as_deref(), Some("redacted@example.com"));
    assert_eq!(e.identity_store_user_id.as_deref(), Some("redacted"));
    assert_eq!(e.credential_id.as_deref(), Some("redacted"));
    assert_eq!(e.auth_workflow_id.as_deref(), Some("redacted"));
    assert_eq!(e.credential_type.as_deref(), Some("EXTERNAL_IDP"));
}

/// The same record as Elastic stores it: parsed from `event.original` when kept, else from the
/// ECS fields (where `user.name` carries the `UserName`).
#[test]
fn the_2025_user_authentication_in_ecs_names_its_user() {
    let with = one("ic-elastic-user-authentication-2025-ecs");
    assert_eq!(with, one("ic-elastic-user-authentication-2025"));
    let without = one("ic-elastic-user-authentication-2025-ecs-no-original");
    assert_eq!(without.user_name.as_deref(), Some("redacted@example.com"));
    assert_eq!(without.auth_workflow_id.as_deref(), Some("redacted"));
    assert_eq!(without.identity_store_user_id, None);
}
