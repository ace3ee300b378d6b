//! Every public CloudTrail sample record in /work/shared/samples that is a kept sign-in event must
//! parse as `Relevant` with its key fields; every other record must parse without error. The
//! records that deliberately do not are listed below with the reason.

use serde_json::Value;
use std::path::{Path, PathBuf};
use trailproof_source_cloudtrail::{AwsEventKind, Format, Parsed, parse_record};

fn samples_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples"))
}

/// Folders holding CloudTrail records (other folders hold other sources).
const FOLDERS: &[&str] = &[
    "awsdocs-cloudtrail-user-guide",
    "awsdocs-iam-user-guide",
    "awsdocs-iam-identity-center-user-guide",
    "stratus-red-team",
    "panther-analysis/aws_cloudtrail_auth.ndjson",
    "elastic-integrations/aws_cloudtrail",
];

/// Sample records deliberately not parsed as a complete kept event: (file, record index, reason).
/// For these the test asserts the parse fails (or lacks the user key), so the list stays honest.
const UNSUPPORTED: &[(&str, usize, &str)] = &[
    ("panther-analysis/aws_cloudtrail_auth.ndjson", 1, "hand-written rule test without eventID/eventTime"),
    ("panther-analysis/aws_cloudtrail_auth.ndjson", 2, "hand-written rule test without eventID/eventTime"),
    ("panther-analysis/aws_cloudtrail_auth.ndjson", 3, "hand-written rule test without eventID/eventTime"),
    ("panther-analysis/aws_cloudtrail_auth.ndjson", 8, "hand-written GetSigninToken test without eventID"),
    ("panther-analysis/aws_cloudtrail_auth.ndjson", 9, "hand-written GetSigninToken test without eventID"),
    ("panther-analysis/aws_cloudtrail_auth.ndjson", 10, "hand-written rule test without eventID"),
    ("panther-analysis/aws_cloudtrail_auth.ndjson", 17, "hand-written rule test without eventID/eventTime"),
    (
        "panther-analysis/aws_cloudtrail_auth.ndjson",
        20,
        "userIdentity without arn, principalId or userName: no user key",
    ),
    ("panther-analysis/aws_cloudtrail_auth.ndjson", 27, "Authenticate record without userIdentity: no user key"),
    (
        "panther-analysis/aws_cloudtrail_auth.ndjson",
        34,
        "ConsoleLogin without eventSource (an error, not silently irrelevant)",
    ),
    ("panther-analysis/aws_cloudtrail_auth.ndjson", 39, "hand-written rule test without eventID"),
    ("panther-analysis/aws_cloudtrail_auth.ndjson", 40, "hand-written rule test without eventID"),
    ("panther-analysis/aws_cloudtrail_auth.ndjson", 41, "hand-written rule test without eventID"),
    (
        "awsdocs-cloudtrail-user-guide/cloudtrail-event-reference-user-identity_05.json",
        0,
        "a userIdentity fragment, not a record",
    ),
    (
        "awsdocs-iam-user-guide/id_credentials_temp_control-access_monitor_13.json",
        0,
        "a userIdentity fragment, not a record",
    ),
];

/// Files skipped as a whole.
fn skipped_file(rel: &str) -> Option<&'static str> {
    if rel.ends_with(".invalid_json.txt") {
        Some("invalid JSON as published (a fixed copy sits beside the one that matters)")
    } else if rel.ends_with(".meta.ndjson") {
        Some("provenance sidecar, not records")
    } else if rel.ends_with(".md") {
        Some("documentation")
    } else {
        None
    }
}

/// Splits a sample file into records: a single object, an array, a `{"Records":[..]}` wrapper or
/// NDJSON (any sequence of values).
fn records(bytes: &[u8]) -> Vec<Value> {
    let mut out = Vec::new();
    for v in serde_json::Deserializer::from_slice(bytes).into_iter::<Value>() {
        match v.expect("sample is valid JSON") {
            Value::Array(items) => out.extend(items),
            Value::Object(mut m) if matches!(m.get("Records"), Some(Value::Array(_))) => {
                if let Some(Value::Array(items)) = m.remove("Records") {
                    out.extend(items);
                }
            }
            other => out.push(other),
        }
    }
    out
}

fn files_under(root: &Path, rel: &str) -> Vec<String> {
    let path = root.join(rel);
    if path.is_file() {
        return vec![rel.to_owned()];
    }
    let mut names: Vec<String> = std::fs::read_dir(&path)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| format!("{rel}/{}", e.file_name().to_string_lossy())).collect())
        .unwrap_or_default();
    names.sort();
    names
}

fn kept_kind(v: &Value) -> Option<AwsEventKind> {
    let s = v.get("eventSource")?.as_str()?;
    let n = v.get("eventName")?.as_str()?;
    AwsEventKind::classify(s, n)
}

#[test]
fn public_samples_parse() {
    let root = samples_dir();
    if !root.is_dir() {
        eprintln!("note: {} is absent; skipping the public samples check", root.display());
        return;
    }
    let mut relevant = 0;
    let mut seen_unsupported = Vec::new();
    let mut failures = Vec::new();
    for folder in FOLDERS {
        for rel in files_under(&root, folder) {
            if skipped_file(&rel).is_some() {
                continue;
            }
            let bytes = std::fs::read(root.join(&rel)).unwrap();
            for (i, rec) in records(&bytes).into_iter().enumerate() {
                let raw = serde_json::to_vec(&rec).unwrap();
                let parsed = parse_record(&raw, Format::Auto);
                let listed = UNSUPPORTED.iter().find(|(f, n, _)| *f == rel && *n == i);
                let ok = match (&parsed, kept_kind(&rec)) {
                    (Ok(Parsed::Relevant { native_id, events }), Some(kind)) => {
                        let e = &events[0];
                        let user_key = e.arn.is_some()
                            || e.principal_id.is_some()
                            || e.user_name.is_some()
                            || e.session_name.is_some();
                        e.kind == Some(kind) && !native_id.is_empty() && e.event_id == *native_id && user_key
                    }
                    (Ok(Parsed::Irrelevant { .. }), None) => true,
                    _ => false,
                };
                match (ok, listed) {
                    (true, None) => {
                        relevant += usize::from(kept_kind(&rec).is_some());
                    }
                    (false, Some(entry)) => seen_unsupported.push(*entry),
                    (true, Some((_, _, why))) => failures
                        .push(format!("{rel}[{i}] is listed as unsupported ({why}) but parses: update the list")),
                    (false, None) => failures.push(format!("{rel}[{i}]: {parsed:?}")),
                }
            }
        }
    }
    assert!(failures.is_empty(), "sample records failing:\n{}", failures.join("\n"));
    assert_eq!(seen_unsupported.len(), UNSUPPORTED.len(), "some listed records were not found");
    assert!(relevant >= 40, "only {relevant} kept sample events parsed");
}
