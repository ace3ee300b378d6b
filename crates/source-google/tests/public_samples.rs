//! Every Google Workspace record among the public samples in `/work/shared/samples` either
//! parses (sign-in events as `Relevant` with their key fields), or is listed below as
//! deliberately unsupported, with the reason — and then must fail to parse.

use serde_json::Value;
use std::path::{Path, PathBuf};
use trailproof_source_google::{Parsed, parse_record};

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples");

/// Files holding Google Workspace records, relative to the samples folder.
const FILES: &[&str] = &[
    "elastic-integrations/google_workspace_login/test-login.selected.ndjson",
    "panther-analysis/gsuite_login.ndjson",
    "panther-analysis/gsuite_saml.ndjson",
];

/// Deliberately unsupported records: (file, record index or `None` for all), reason.
const UNSUPPORTED: &[(&str, Option<usize>, &str)] = &[
    (
        "panther-analysis/gsuite_login.ndjson",
        None,
        "Panther's flattened GSuite schema (event `name`/`type`/`parameters` at the top level, parameters as \
         a name→value map, no `events`, no `id.uniqueQualifier`), not the Reports API Activity shape",
    ),
    (
        "panther-analysis/gsuite_saml.ndjson",
        None,
        "Panther's flattened GSuite schema (no `events`, no `id.uniqueQualifier`), not the Reports API shape",
    ),
];

/// Event names we keep, per application.
fn is_sign_in(app: &str, name: &str) -> bool {
    matches!(
        (app, name),
        ("login", "login_success" | "login_failure" | "login_verification" | "login_challenge" | "logout")
            | ("saml", "login_success" | "login_failure")
    )
}

fn records(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut out = Vec::new();
    for v in serde_json::Deserializer::from_str(&text).into_iter::<Value>() {
        let v = v.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        match v {
            Value::Array(a) => out.extend(a),
            Value::Object(ref m) if m.get("items").is_some_and(Value::is_array) => {
                out.extend(m["items"].as_array().unwrap().iter().cloned())
            }
            other => out.push(other),
        }
    }
    out
}

fn unsupported(file: &str, idx: usize) -> Option<&'static str> {
    UNSUPPORTED.iter().find(|(f, i, _)| *f == file && i.is_none_or(|i| i == idx)).map(|(_, _, why)| *why)
}

#[test]
fn public_samples_parse() {
    let root = PathBuf::from(SAMPLES);
    if !root.is_dir() {
        eprintln!("note: {SAMPLES} is absent; skipping the public sample check");
        return;
    }
    let mut relevant = 0;
    let mut checked = 0;
    for file in FILES {
        let path = root.join(file);
        assert!(path.is_file(), "{} listed but missing", path.display());
        for (i, rec) in records(&path).iter().enumerate() {
            checked += 1;
            let bytes = serde_json::to_vec(rec).unwrap();
            let result = parse_record(&bytes);
            if let Some(why) = unsupported(file, i) {
                assert!(result.is_err(), "{file}[{i}] is listed as unsupported ({why}) but parsed: {result:?}");
                continue;
            }
            let parsed = result.unwrap_or_else(|e| panic!("{file}[{i}]: {e}\n{rec}"));
            // What the record is, read independently of the parser.
            let app = rec["id"]["applicationName"].as_str().unwrap_or("");
            let evs: Vec<&Value> = match &rec["events"] {
                Value::Array(a) => a.iter().collect(),
                o @ Value::Object(_) => vec![o],
                _ => vec![],
            };
            let sign_in = evs.iter().filter(|e| is_sign_in(app, e["name"].as_str().unwrap_or(""))).count();
            match parsed {
                Parsed::Relevant { native_id, events } => {
                    assert!(sign_in > 0, "{file}[{i}] parsed as relevant but holds no sign-in event");
                    assert_eq!(events.len(), sign_in, "{file}[{i}]");
                    assert!(native_id.contains('/'), "{file}[{i}] native id {native_id}");
                    for e in events {
                        assert!(!e.event_id.is_empty());
                        assert!(e.time_ms > 1_500_000_000_000, "{file}[{i}] time {}", e.time_ms);
                        assert!(e.user.login.is_some() || e.user.user_id.is_some(), "{file}[{i}] has no user key");
                    }
                    relevant += 1;
                }
                Parsed::Irrelevant { time_ms, .. } => {
                    assert_eq!(sign_in, 0, "{file}[{i}] holds a sign-in event but parsed as irrelevant");
                    assert!(time_ms.is_some(), "{file}[{i}] irrelevant without time");
                }
            }
        }
    }
    assert!(checked >= 30, "only {checked} sample records found");
    assert!(relevant >= 7, "only {relevant} relevant sample records");
}

/// What the parser makes of each of Elastic's Reports API test records (the real shapes).
#[test]
fn elastic_login_samples_claims() {
    use trailproof_model::{MfaClaim, Outcome};
    let path = PathBuf::from(SAMPLES).join(FILES[0]);
    if !path.is_file() {
        eprintln!("note: {} is absent; skipping", path.display());
        return;
    }
    let got: Vec<Option<(String, String, Outcome, MfaClaim)>> = records(&path)
        .iter()
        .map(|r| match parse_record(&serde_json::to_vec(r).unwrap()).unwrap() {
            Parsed::Relevant { events, .. } => {
                let e = &events[0];
                Some((e.event_id.clone(), e.native_type.clone(), e.outcome, e.mfa))
            }
            Parsed::Irrelevant { .. } => None,
        })
        .collect();
    let old = "login/2020-10-02T15:00:00Z/1".to_owned();
    let s = |x: &str| x.to_owned();
    assert_eq!(
        got,
        vec![
            // login_failure, backup_code: a second factor was attempted
            Some((old.clone(), s("login/login_failure"), Outcome::Failure, MfaClaim::Failed)),
            // login_challenge, backup_code, "Challenge Passed."
            Some((old.clone(), s("login/login_challenge"), Outcome::Success, MfaClaim::Verified)),
            // login_verification with is_second_factor false
            Some((old.clone(), s("login/login_verification"), Outcome::Success, MfaClaim::Silent)),
            Some((old.clone(), s("login/logout"), Outcome::Unknown, MfaClaim::Silent)),
            Some((old.clone(), s("login/login_success"), Outcome::Success, MfaClaim::Verified)),
            Some((old.clone(), s("login/login_success"), Outcome::Success, MfaClaim::SingleFactor)),
            None, // risky_sensitive_action_allowed
            // events as an object; multiValue security_key; is_second_factor true
            Some((
                s("login/2025-02-27T05:59:58.481Z/123"),
                s("login/login_verification"),
                Outcome::Success,
                MfaClaim::Verified
            )),
        ]
    );
}
