//! Walks the public Okta sample records in `shared/samples` and checks that every sign-in event
//! parses as `Relevant` with its key fields, and that every other record parses too, except the
//! records listed in [`NOT_SUPPORTED`] with the reason. A fresh clone without `shared/` skips.

use serde_json::Value;
use std::path::{Path, PathBuf};
use trailproof_model::MfaClaim;
use trailproof_source_okta::{KEPT_EVENT_TYPES, Parsed, parse_record};

const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples");

/// Okta sample files (relative to `shared/samples`).
const FILES: &[&str] = &[
    "okta-management-openapi-spec/ListLogs_0.json",
    "okta-management-openapi-spec/ListLogsWithAdditionalSecurityContext_0.json",
    ELASTIC,
    PANTHER,
];

/// Sample records deliberately not supported: (file, record index, reason). Each must still fail
/// to parse; if one starts parsing, remove it from this list.
const PANTHER: &str = "panther-analysis/okta_systemlog.ndjson";

const NOT_SUPPORTED: &[(&str, usize, &str)] = &[
    (PANTHER, 1, "Panther rule test record without `uuid` (hand-written; Okta always sends one)"),
    (PANTHER, 3, "Panther rule test record without `uuid` (hand-written; Okta always sends one)"),
    (PANTHER, 16, "`published` is the string \"redacted\" (anonymised Panther test record)"),
    (PANTHER, 17, "`published` is the string \"redacted\" (anonymised Panther test record)"),
    (PANTHER, 18, "`published` is the string \"redacted\" (anonymised Panther test record)"),
    (PANTHER, 19, "`published` is the string \"redacted\" (anonymised Panther test record)"),
    (PANTHER, 20, "Panther test record without `published` (and without `actor`)"),
    (PANTHER, 21, "Panther test record without `published` (and without `actor`)"),
    (PANTHER, 24, "Panther test stub: only actor/client/outcome, no `uuid` and no `published`"),
    (PANTHER, 25, "Panther test stub: only actor/client/outcome, no `uuid` and no `published`"),
    (PANTHER, 26, "Panther test stub: only actor/client/outcome, no `uuid` and no `published`"),
    (PANTHER, 27, "Panther test stub: only actor/client/outcome, no `uuid` and no `published`"),
    (PANTHER, 28, "Panther test stub `{\"eventType\":\"logout\"}`: no `uuid`, no `published`"),
    (PANTHER, 36, "Panther test record without `published`"),
];

/// Real shapes whose MFA reading is pinned: (file, record index, claim, factors).
const PINNED: &[(&str, usize, MfaClaim, &[&str])] = &[
    // Elastic: auth_via_mfa SUCCESS with debugData.factor OKTA_VERIFY_PUSH, only a User target.
    (ELASTIC, 5, MfaClaim::Verified, &["OKTA_VERIFY_PUSH"]),
    // Elastic: auth_via_mfa SUCCESS with debugData.factor FIDO_WEBAUTHN.
    (ELASTIC, 6, MfaClaim::Verified, &["FIDO_WEBAUTHN"]),
    // Elastic: user.authentication.verify SUCCESS, target null, no factor named: cannot tell.
    (ELASTIC, 3, MfaClaim::Silent, &[]),
    (ELASTIC, 4, MfaClaim::Silent, &[]),
    // Okta OpenAPI example: session.start (OIE) with an "Okta Verify" enrollment target.
    ("okta-management-openapi-spec/ListLogs_0.json", 0, MfaClaim::Silent, &[]),
    // Panther: session.start with a Password enrollment target.
    (PANTHER, 9, MfaClaim::Silent, &[]),
];

const ELASTIC: &str = "elastic-integrations/okta_system/test-okta-system-events.selected.ndjson";

fn split(v: Value, out: &mut Vec<Value>) {
    match v {
        Value::Array(a) => a.into_iter().for_each(|x| split(x, out)),
        Value::Object(mut o) => {
            for key in ["Records", "Events", "value", "records", "items"] {
                if o.get(key).is_some_and(Value::is_array)
                    && let Some(inner) = o.remove(key)
                {
                    return split(inner, out);
                }
            }
            if let Some(Value::Array(hits)) = o.get_mut("hits").and_then(|h| h.get_mut("hits")).map(Value::take) {
                for mut h in hits {
                    out.push(h.get_mut("_source").map(Value::take).unwrap_or(h));
                }
                return;
            }
            out.push(Value::Object(o));
        }
        other => out.push(other),
    }
}

fn records(path: &Path) -> Vec<Value> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for v in serde_json::Deserializer::from_slice(&bytes).into_iter::<Value>() {
        split(v.unwrap_or_else(|e| panic!("{}: {e}", path.display())), &mut out);
    }
    out
}

fn is_sign_in(v: &Value) -> bool {
    v.get("eventType")
        .and_then(Value::as_str)
        .is_some_and(|t| KEPT_EVENT_TYPES.iter().any(|k| k.eq_ignore_ascii_case(t)))
}

#[test]
fn public_samples_parse() {
    let root = PathBuf::from(SAMPLES);
    if !root.is_dir() {
        eprintln!("note: {} is absent; skipping the public sample check", root.display());
        return;
    }
    let mut failures = Vec::new();
    let (mut relevant, mut irrelevant, mut excluded) = (0, 0, 0);
    for file in FILES {
        let path = root.join(file);
        if !path.is_file() {
            failures.push(format!("{file}: sample file missing"));
            continue;
        }
        for (i, rec) in records(&path).into_iter().enumerate() {
            let listed = NOT_SUPPORTED.iter().find(|(f, n, _)| f == file && *n == i);
            let result = parse_record(rec.to_string().as_bytes());
            if let Some((_, _, claim, factors)) = PINNED.iter().find(|(f, n, _, _)| f == file && *n == i) {
                match &result {
                    Ok(Parsed::Relevant { events, .. }) if events[0].mfa == *claim && events[0].factors == *factors => {
                    }
                    other => failures.push(format!("{file}[{i}]: expected {claim:?} {factors:?}, got {other:?}")),
                }
            }
            let problem = match (&result, is_sign_in(&rec)) {
                (Ok(Parsed::Relevant { native_id, events }), true) => {
                    let e = &events[0];
                    let has_user = e.user.login.is_some() || e.user.user_id.is_some() || e.user.app_username.is_some();
                    if native_id.is_empty() || e.event_id != *native_id || e.time_ms <= 0 || !has_user {
                        Some(format!("key field missing: {e:?}"))
                    } else {
                        None
                    }
                }
                (Ok(Parsed::Irrelevant { .. }), false) => None,
                (Ok(other), _) => Some(format!("wrong classification: {other:?}")),
                (Err(e), _) => Some(format!("error: {e}")),
            };
            match (problem, listed) {
                (None, None) => {
                    if matches!(result, Ok(Parsed::Relevant { .. })) {
                        relevant += 1;
                    } else {
                        irrelevant += 1;
                    }
                }
                (Some(_), Some(_)) => excluded += 1,
                (None, Some((_, _, why))) => {
                    failures.push(format!("{file}[{i}] parses now; remove it from NOT_SUPPORTED ({why})"))
                }
                (Some(p), None) => {
                    let ty = rec.get("eventType").cloned().unwrap_or(Value::Null);
                    failures.push(format!("{file}[{i}] ({ty}): {p}"))
                }
            }
        }
    }
    eprintln!("public Okta samples: {relevant} relevant, {irrelevant} irrelevant, {excluded} listed as not supported");
    assert!(failures.is_empty(), "{} sample records failed:\n{}", failures.len(), failures.join("\n"));
    assert!(relevant >= 10, "only {relevant} relevant sample records parsed");
    assert_eq!(excluded, NOT_SUPPORTED.len(), "every NOT_SUPPORTED entry must name a real record");
}
