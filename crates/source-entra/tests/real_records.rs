//! Issue 15 points 1 and 5 on real published records of the corpus (fixtures/real/, provenance
//! in each `.meta.json`): a Graph beta sign-in with an empty `status` (D1) and AD FS's own
//! sign-ins from Entra's diagnostic logs, as Azure Monitor writes them and as Elastic stores them
//! without `event.original` (D4).

mod common;

use std::path::PathBuf;
use trailproof_model::{Idp, IdpEvent, IdpEventKind, MfaClaim, Outcome};
use trailproof_source_entra::{Format, Parsed, parse_record};

fn real(rel: &str) -> Vec<String> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/real")).join(rel);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    common::split(&bytes)
}

fn event(rec: &str) -> IdpEvent {
    match parse_record(rec.as_bytes(), Format::Auto) {
        Ok(Parsed::Relevant { native_id, mut events }) => {
            assert_eq!(events.len(), 1);
            let e = events.remove(0);
            assert_eq!(e.event_id, native_id);
            e
        }
        other => panic!("relevant expected, got {other:?}"),
    }
}

/// Graph beta `signIn` list, example 2: `"status": {}` and `singleFactorAuthentication` with a
/// password step. Before D1 it was `silent`, so an unknown-outcome sign-in that states a single
/// factor could never count against MFA.
#[test]
fn graph_beta_example_2_empty_status_is_unknown_and_single_factor() {
    let recs = real("entra/graph-docs-beta-signin-list-example2-empty-status.json");
    assert_eq!(recs.len(), 1);
    let e = event(&recs[0]);
    assert_eq!(e.provider, Idp::Entra);
    assert_eq!(e.event_id, "b01b1726-0147-425e-a7f7-21f252050400");
    assert_eq!(e.outcome, Outcome::Unknown);
    assert_eq!(e.outcome_reason, None);
    assert_eq!(e.mfa, MfaClaim::SingleFactor);
    assert_eq!(e.factors, ["Password"]);
    assert_eq!(e.auth_requirement.as_deref(), Some("singleFactorAuthentication"));
    assert_eq!(e.user.login.as_deref(), Some("jdoe@contoso.com"));
    assert_eq!(e.app_name.as_deref(), Some("Azure Portal"));
    assert_eq!(e.source_ip.as_deref(), Some("207.254.19.10"));
}

fn check_adfs(e: &IdpEvent, tenant: &str) {
    assert_eq!((e.provider, e.kind), (Idp::Adfs, IdpEventKind::AppSso));
    assert_eq!(e.event_id, "58f8ce73-9fc8-4f02-8ea8-1908964f842e");
    assert_eq!(e.native_type, "ADFSSignInLogs");
    assert_eq!(e.tenant.as_deref(), Some(tenant));
    // `createdDateTime` 2025-12-12T14:56:31+00:00, not the envelope's "12/12/2025 3:03:58 PM".
    assert_eq!(e.time_ms, 1_765_551_391_000);
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(e.user.login.as_deref(), Some("april.oniel@turtles.com"));
    assert_eq!(e.user.user_id.as_deref(), Some("494303c7-a485-446d-81ad-78d2a0502368"));
    assert_eq!(e.app_id.as_deref(), Some("60e924dc-9ed6-4ef8-91a4-e15f434d8bef"));
    assert_eq!(e.app_name.as_deref(), Some("Shield Autho - Native application"));
    assert_eq!(e.source_ip.as_deref(), Some("10.205.19.37"));
    // The AD FS sign-in the row is a step of (its correlation id).
    assert_eq!(e.session_id.as_deref(), Some("59928765-deec-4dca-fe00-008002040075"));
    // Forms Authentication with a password, nothing else: not enforced.
    assert_eq!(e.mfa, MfaClaim::SingleFactor);
    assert_eq!(e.factors, ["Forms Authentication"]);
}

/// The Elastic integration's AD FS test record (Azure Monitor shape). Before: irrelevant.
#[test]
fn adfs_azure_monitor_record_is_an_adfs_single_factor_sign_in() {
    let recs = real("adfs/elastic-test-adfs-signin.log");
    assert_eq!(recs.len(), 1);
    check_adfs(&event(&recs[0]), "043q12e-2cf7-4ca6-8d10-9a639dbeab71");
}

/// The same sign-in as Elastic stores it, `event.original` removed.
#[test]
fn adfs_elastic_document_without_event_original_reads_the_same() {
    let recs = real("adfs/elastic-adfs-ecs-without-event-original.ndjson");
    assert_eq!(recs.len(), 1);
    check_adfs(&event(&recs[0]), "050e16e5-2cf7-4ca6-8d10-9a639dbeab71");
}

/// With `event.original` kept, the raw Azure Monitor record inside is read (D6): the same event
/// as the record itself.
#[test]
fn adfs_elastic_document_with_event_original_reads_the_original() {
    let recs = real("adfs/elastic-adfs-ecs-with-event-original.ndjson");
    assert_eq!(recs.len(), 1);
    let doc: serde_json::Value = serde_json::from_str(&recs[0]).unwrap();
    let original = doc["event"]["original"].as_str().expect("event.original");
    let e = event(&recs[0]);
    assert_eq!(e, event(original));
    check_adfs(&e, "050e16e5-2cf7-4ca6-8d10-9a639dbeab71");
}
