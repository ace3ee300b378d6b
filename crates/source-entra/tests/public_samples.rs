//! Walks the public sample records in /work/shared/samples that are Entra sign-ins and checks
//! that each one of a supported shape parses, with its key fields present. Records we
//! deliberately do not support are listed with the reason; the test fails when one of them
//! starts parsing (the list must stay honest) or when any other record fails.

mod common;

use serde_json::Value;
use std::path::{Path, PathBuf};
use trailproof_source_entra::{Format, ParseError, Parsed, parse_record};

fn samples() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples"));
    p.is_dir().then_some(p)
}

/// (file relative to samples/, record index in the file, reason).
const UNSUPPORTED: &[(&str, usize, &str)] = {
    const R: &str = "Panther hand-written test record without `properties.id`, the sign-in id that is \
                     Entra's dedupe key (real Azure Monitor records always carry it)";
    &[
        ("panther-analysis/azure_signin.ndjson", 0, R),
        ("panther-analysis/azure_signin.ndjson", 1, R),
        ("panther-analysis/azure_signin.ndjson", 2, R),
        ("panther-analysis/azure_signin.ndjson", 3, R),
        ("panther-analysis/azure_signin.ndjson", 4, R),
        ("panther-analysis/azure_signin.ndjson", 7, R),
        ("panther-analysis/azure_signin.ndjson", 8, R),
        ("panther-analysis/azure_signin.ndjson", 9, R),
        ("panther-analysis/azure_signin.ndjson", 10, R),
        ("panther-analysis/azure_signin.ndjson", 11, R),
        ("panther-analysis/azure_signin.ndjson", 15, R),
        ("panther-analysis/azure_signin.ndjson", 16, R),
        ("panther-analysis/azure_signin.ndjson", 22, R),
        ("panther-analysis/azure_signin.ndjson", 23, R),
        ("panther-analysis/azure_signin.ndjson", 24, R),
        ("panther-analysis/azure_signin.ndjson", 25, R),
    ]
};

const FILES: &[&str] = &[
    "microsoft-graph-docs/beta_signin-list_example1_response.json",
    "elastic-integrations/azure_signinlogs/test-signinlogs-sample.log",
    "panther-analysis/azure_signin.ndjson",
];

#[derive(Default, Debug, PartialEq)]
struct Tally {
    relevant: usize,
    irrelevant: usize,
    unsupported: usize,
}

fn category(rec: &str) -> Option<String> {
    let v: Value = serde_json::from_str(rec).ok()?;
    v.get("category").and_then(Value::as_str).map(str::to_owned)
}

fn run(root: &Path, file: &str) -> Tally {
    let bytes = std::fs::read(root.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
    let mut t = Tally::default();
    for (i, rec) in common::split(&bytes).iter().enumerate() {
        let listed = UNSUPPORTED.iter().find(|(f, n, _)| *f == file && *n == i);
        let res = parse_record(rec.as_bytes(), Format::Auto);
        match (listed, res) {
            (Some((_, _, why)), Err(e)) => {
                assert_eq!(e, ParseError::Missing("properties.id"), "{file}[{i}] ({why})");
                t.unsupported += 1;
            }
            (Some(_), Ok(p)) => panic!("{file}[{i}] is listed as unsupported but parses: {p:?}"),
            (None, Err(e)) => panic!("{file}[{i}] failed: {e}"),
            (None, Ok(Parsed::Relevant { native_id, events })) => {
                assert_eq!(events.len(), 1, "{file}[{i}]");
                let e = &events[0];
                assert!(!native_id.is_empty(), "{file}[{i}] id");
                assert_eq!(e.event_id, native_id);
                assert!(e.time_ms > 1_500_000_000_000, "{file}[{i}] time {}", e.time_ms);
                assert!(e.user.login.is_some() || e.user.user_id.is_some(), "{file}[{i}] user key");
                t.relevant += 1;
            }
            (None, Ok(Parsed::Irrelevant { time_ms, scope })) => {
                let cat = category(rec).unwrap_or_default();
                assert!(
                    cat.eq_ignore_ascii_case("ServicePrincipalSignInLogs"),
                    "{file}[{i}] irrelevant but its category is {cat:?}"
                );
                assert!(time_ms.is_some() && scope.is_some(), "{file}[{i}] coverage facts");
                t.irrelevant += 1;
            }
        }
    }
    t
}

#[test]
fn public_samples_parse() {
    let Some(root) = samples() else {
        eprintln!("note: shared/samples not found next to the checkout; skipping public_samples_parse");
        return;
    };
    let tallies: Vec<Tally> = FILES.iter().map(|f| run(&root, f)).collect();
    assert_eq!(tallies[0], Tally { relevant: 1, irrelevant: 0, unsupported: 0 }, "graph docs");
    assert_eq!(tallies[1], Tally { relevant: 2, irrelevant: 0, unsupported: 0 }, "elastic");
    assert_eq!(tallies[2], Tally { relevant: 2, irrelevant: 9, unsupported: 16 }, "panther");
}

#[test]
fn graph_docs_sample_with_duplicate_keys_reads_as_published() {
    let Some(root) = samples() else { return };
    let bytes = std::fs::read(root.join(FILES[0])).unwrap();
    let recs = common::split(&bytes);
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].matches("\"homeTenantId\"").count(), 2, "the sample still has its duplicate keys");
    let Parsed::Relevant { events, .. } = parse_record(recs[0].as_bytes(), Format::Graph).unwrap() else {
        panic!("relevant expected")
    };
    let e = &events[0];
    assert_eq!(e.event_id, "1691d37b-8579-43a7-966a-0f35583c1300");
    assert_eq!(e.tenant.as_deref(), Some("99081087-73c4-48d1-a112-f60ff75114f7"));
    assert_eq!(e.user.login.as_deref(), Some("testaccount1@contoso.com"));
    assert_eq!(e.outcome, trailproof_model::Outcome::Failure);
    assert_eq!(
        e.outcome_reason.as_deref(),
        Some("50126: Error validating credentials due to invalid username or password.")
    );
    assert_eq!(e.mfa, trailproof_model::MfaClaim::Silent);
    assert_eq!(e.asn, Some(3598));
    assert_eq!(e.country.as_deref(), Some("US"));
    assert!(e.factors.is_empty(), "the only step failed");
}

#[test]
fn elastic_sample_first_factor_carry_is_single_factor() {
    let Some(root) = samples() else { return };
    let bytes = std::fs::read(root.join(FILES[1])).unwrap();
    for rec in common::split(&bytes) {
        let Parsed::Relevant { events, .. } = parse_record(rec.as_bytes(), Format::AzureMonitor).unwrap() else {
            panic!("relevant expected")
        };
        let e = &events[0];
        assert_eq!(e.mfa, trailproof_model::MfaClaim::SingleFactor);
        assert_eq!(e.factors, ["Previously satisfied"]);
        assert_eq!(e.tenant.as_deref(), Some("4bbb79f7-5724-4c9e-95f3-de075f6ec090"));
        assert_eq!(e.native_type, "SignInLogs");
        assert_eq!(e.asn, Some(55836));
    }
}

#[test]
fn panther_records_with_ids_read_lowercase_envelope() {
    let Some(root) = samples() else { return };
    let bytes = std::fs::read(root.join(FILES[2])).unwrap();
    let recs = common::split(&bytes);
    let Parsed::Relevant { events, .. } = parse_record(recs[13].as_bytes(), Format::Auto).unwrap() else {
        panic!("relevant expected")
    };
    let e = &events[0];
    assert_eq!(e.event_id, "d9ae0e20-c959-42a3-ba74-00f59ac9f6c6");
    assert_eq!(e.tenant.as_deref(), Some("c5fd010a-2972-4be2-9c67-986ceca2a042"), "lower-case `tenantid`");
    assert_eq!(e.mfa, trailproof_model::MfaClaim::SingleFactor);
    assert_eq!(e.user_agent.as_deref(), Some("BAV2ROPC"));
}
