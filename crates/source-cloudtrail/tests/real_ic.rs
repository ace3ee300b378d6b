//! The Identity Center sign-in records of the real-record corpus (`fixtures/real/cloudtrail/ic-*`,
//! see fixtures/real/README.md): every record of each data file is parsed and compared, field by
//! field, with its meta file's `expect` entry. The same records check the prefilter and the
//! time/scope peek against the full parse. (`crates/ingest/tests/real.rs` runs the whole corpus
//! through the import path; this test pins the parser on these files without the store.)

use trailproof_corpus::{CorpusFile, assert_parses, file, files, split};
use trailproof_model::AwsEvent;
use trailproof_source_cloudtrail::{Format, Parsed, parse_record, peek_time_scope, prefilter, scope_of};

mod common;

use common::WRAPPERS;

fn records(f: &CorpusFile) -> Vec<String> {
    split(&std::fs::read(&f.data).unwrap(), WRAPPERS)
}

#[test]
fn every_identity_center_real_record_matches_its_meta_file() {
    let (ic, problems) = files(|n| n.starts_with("cloudtrail/ic-"));
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(ic.len() >= 5, "ic-* files missing: {ic:?}");
    let mut total = 0;
    for f in &ic {
        assert_eq!(f.meta["import"], "cloudtrail", "{}: these files are imported as cloudtrail", f.name);
        assert!(f.meta["provenance"]["changed"].is_string(), "{}: provenance.changed", f.name);
        assert_parses(f, WRAPPERS, |r| parse_record(r, Format::Auto));
        // The same records check the prefilter and the time/scope peek against the full parse.
        for (i, rec) in records(f).iter().enumerate() {
            total += 1;
            if let Ok(Parsed::Relevant { events, .. }) = parse_record(rec.as_bytes(), Format::Auto) {
                assert!(prefilter(rec.as_bytes()), "{}[{i}]: prefilter dropped a kept event", f.name);
                assert_eq!(
                    peek_time_scope(rec.as_bytes()),
                    (Some(events[0].time_ms), scope_of(&events[0])),
                    "{}[{i}]: peek disagrees with the parse",
                    f.name
                );
            }
        }
    }
    assert!(total >= 17, "only {total} records");
}

fn one(stem: &str) -> AwsEvent {
    let rec = &records(&file(&format!("cloudtrail/{stem}")))[0];
    match parse_record(rec.as_bytes(), Format::Auto).unwrap() {
        Parsed::Relevant { mut events, .. } => events.remove(0),
        other => panic!("{stem}: {other:?}"),
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
