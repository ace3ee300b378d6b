//! Issue 15 points 4 and 6 on real published records of the corpus (fixtures/real/, provenance
//! in each `.meta.json`): Elastic `google_workspace` documents without `event.original` (D5),
//! with it (D6), and a `login` and a `saml` activity that share `id.time` and `uniqueQualifier`
//! (D3).

use trailproof_corpus::{assert_parses, file, split};
use trailproof_source_google::parse_record;

/// Reports API pages (`{"items":[...]}`), as the import splits them.
const WRAPPERS: &[trailproof_jsonrec::WrapperPath] = &[&["items"]];

fn check(name: &str) {
    assert_parses(&file(name), WRAPPERS, parse_record);
}

/// D5: the login data stream's sign-in documents as Elastic stores them by default. Before:
/// quarantined ("no `id` object").
#[test]
fn elastic_login_documents_without_event_original() {
    check("google/p-elastic-login-ecs-without-event-original");
}

/// D5: the saml data stream's documents without `event.original`.
#[test]
fn elastic_saml_documents_without_event_original() {
    check("google/elastic-saml-ecs-without-event-original");
}

/// D6: with `event.original` kept, the activity inside is read, with its own id.time text.
#[test]
fn elastic_saml_documents_with_event_original() {
    check("envelope/elastic-google-saml-ecs-with-event-original");
}

/// D3: a login and a saml activity with the same id.time and uniqueQualifier are two records.
/// Before: both had the native id `2020-10-02T15:00:00Z/1` and the second was dropped as
/// already present.
#[test]
fn login_and_saml_with_the_same_id_are_two_records() {
    check("mixed/google-login-and-saml-same-id");
    let ids: Vec<String> = split(&std::fs::read(file("mixed/google-login-and-saml-same-id").data).unwrap(), WRAPPERS)
        .iter()
        .map(|r| match parse_record(r.as_bytes()) {
            Ok(trailproof_model::Parsed::Relevant { native_id, .. }) => native_id,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(ids, ["login/2020-10-02T15:00:00Z/1", "saml/2020-10-02T15:00:00Z/1"]);
}

/// The Reports API records of the Elastic login test, with D3's ids.
#[test]
fn elastic_login_test_records() {
    check("google/elastic-test-login");
}

/// The engine tells Google sign-in events apart by `trailproof_model::GoogleLogin`: each of the
/// real login-application events (Elastic's test records: a success, a failure, a challenge and
/// verifications) is recognised as the event its Reports API name says, and nothing else is.
#[test]
fn real_login_events_are_the_google_logins_the_engine_reads() {
    use trailproof_model::{GoogleLogin, IdpEventKind, Parsed};
    let mut seen = std::collections::BTreeSet::new();
    for name in ["google/elastic-test-login", "google/p-elastic-login-ecs-without-event-original"] {
        let bytes = std::fs::read(file(name).data).unwrap();
        for r in split(&bytes, WRAPPERS) {
            let Ok(Parsed::Relevant { events, .. }) = parse_record(r.as_bytes()) else { continue };
            for e in events {
                let event_name = e.native_type.strip_prefix("login/");
                match GoogleLogin::of(&e) {
                    Some(g) => {
                        assert_eq!(event_name, Some(g.event_name()), "{name}: {}", e.native_type);
                        seen.insert(g.event_name());
                    }
                    None => assert!(
                        e.kind != IdpEventKind::Login || event_name.and_then(GoogleLogin::from_event_name).is_none(),
                        "{name}: {} not recognised",
                        e.native_type
                    ),
                }
            }
        }
    }
    let want: std::collections::BTreeSet<&str> = GoogleLogin::ALL.iter().map(|g| g.event_name()).collect();
    assert_eq!(seen, want, "every login event the engine reads has a real record");
}
