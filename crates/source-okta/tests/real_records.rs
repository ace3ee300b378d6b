//! Issue 15 point 4 on real published records (fixtures/real/, provenance in each `.meta.json`):
//! Elastic `okta.system` documents without `event.original` (D5) read as the LogEvents they were
//! made from, and with it (D6).

use trailproof_corpus::{assert_parses, file, split};
use trailproof_model::Parsed;
use trailproof_source_okta::parse_record;

/// Okta's pages are plain arrays; Elastic search hits are opened by the import, not here.
const WRAPPERS: &[trailproof_jsonrec::WrapperPath] = &[];

fn check(name: &str) {
    assert_parses(&file(name), WRAPPERS, parse_record);
}

fn records(name: &str) -> Vec<String> {
    split(&std::fs::read(file(name).data).unwrap(), WRAPPERS)
}

/// D5: the Elastic test documents as Elastic stores them by default (before: quarantined, "no
/// `eventType` field"): a session start and end, an SSO whose `client` is empty (the address is
/// in `request.ipChain`), an auth_via_mfa with SIGNED_NONCE and an AuthenticatorEnrollment.
#[test]
fn elastic_documents_without_event_original() {
    check("okta/elastic-okta-ecs-without-event-original");
    check("okta/p-elastic-okta-ecs-2023-without-event-original");
}

/// D5: a real dev-org SSO to an AWS application, as Kibana's sample document holds it.
#[test]
fn kibana_sso_to_an_aws_app_without_event_original() {
    check("okta/p-kibana-okta-ecs-sso-aws-app-without-event-original");
}

/// D6: the same documents with `event.original` kept give the same events, and exactly what
/// the LogEvent inside gives.
#[test]
fn with_event_original_the_logevent_inside_is_read_and_matches_the_fields() {
    check("okta/p-elastic-okta-ecs-2023-with-event-original");
    let with = records("okta/p-elastic-okta-ecs-2023-with-event-original");
    let without = records("okta/p-elastic-okta-ecs-2023-without-event-original");
    for (w, wo) in with.iter().zip(&without) {
        let doc: serde_json::Value = serde_json::from_str(w).unwrap();
        let original = doc["event"]["original"].as_str().unwrap();
        let native = parse_record(original.as_bytes()).unwrap();
        assert!(matches!(native, Parsed::Relevant { .. }));
        assert_eq!(parse_record(w.as_bytes()).unwrap(), native);
        assert_eq!(parse_record(wo.as_bytes()).unwrap(), native, "the fields alone give the LogEvent's event");
    }
}

/// D6 on the corpus's own copy: the first two documents of the no-flattened test file.
#[test]
fn corpus_elastic_documents_with_event_original() {
    check("envelope/elastic-okta-ecs-with-event-original");
}
