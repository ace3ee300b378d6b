//! Verdict records for the tests: a plain one and one full of attacker-controlled text.

use trailproof_model::Source;
use trailproof_model::verdict::{
    Evidence, Identity, IdentitySource, MatchedBy, MfaInfo, Risk, SessionPath, Severity, Signal, Verdict, VerdictRecord,
};

pub fn record(id: &str, verdict: Verdict) -> VerdictRecord {
    VerdictRecord {
        console_login_event_id: id.into(),
        account_id: Some("111122223333".into()),
        arn: Some(format!("arn:aws:sts::111122223333:assumed-role/Admin/alice-{id}@example.com")),
        session_name: Some(format!("alice-{id}@example.com")),
        time: "2026-11-02T10:15:32Z".into(),
        source_ip: Some("198.51.100.7".into()),
        user_agent: Some("Mozilla/5.0 Firefox/131.0".into()),
        path: SessionPath::Saml,
        verdict,
        reason: None,
        identity: Some(Identity {
            idp: IdentitySource::Okta,
            user: "alice@example.com".into(),
            matched_by: MatchedBy::Email,
        }),
        mfa: (verdict == Verdict::Enforced).then(|| MfaInfo {
            factors: vec!["okta_verify_push".into()],
            at: Some("2026-11-02T10:14:58Z".into()),
            carried_from_earlier_signin: false,
        }),
        evidence: vec![
            Evidence { source: Source::Cloudtrail, id: id.into(), role: "console_login".into() },
            Evidence { source: Source::Okta, id: format!("okta-sso-{id}"), role: "idp_sso".into() },
        ],
        risk: Risk { score: 0, severity: Severity::Low, signals: vec![] },
        explanation: format!("Console sign-in {id}: MFA was enforced."),
        version: 1,
    }
}

/// A not_enforced session whose log-derived strings carry markup, terminal escapes, formulas and
/// Markdown table breakers.
pub fn hostile(id: &str) -> VerdictRecord {
    VerdictRecord {
        session_name: Some("=HYPERLINK(\"http://evil\")|<b>x</b>\x1b[2J`rm`".into()),
        user_agent: Some("<script>alert(1)</script>".into()),
        arn: Some("arn:aws:sts::111122223333:assumed-role/Admin/<img src=x onerror=alert(2)>".into()),
        verdict: Verdict::NotEnforced,
        mfa: None,
        risk: Risk { score: 60, severity: Severity::High, signals: vec![Signal::NoMfa, Signal::NewIp] },
        explanation: "Console sign-in </script><script>alert(3)</script>: MFA was not enforced.".into(),
        ..record(id, Verdict::NotEnforced)
    }
}

/// What an OCSF event lacks of what its class requires, one line per problem (empty: none).
/// The requirements, from ocsf/ocsf-schema (OCSF 1.x):
/// - every event (`events/base_event.json` and its traits): `activity_id`, `category_uid`,
///   `class_uid`, `metadata` (`version`, `product`), `severity_id` (0–6, 99), `time`, `type_uid`
///   = `class_uid` × 100 + `activity_id`;
/// - Detection Finding 2004 (`events/findings/detection_finding.json`, extends
///   `events/findings/finding.json`): category 2, `finding_info` required with its `uid`
///   (`objects/finding_info.json`); `activity_id` 0–3 or 99; `status_id` 0–6 or 99;
/// - Authentication 3002 (`events/iam/authentication.json`): category 3, `user` required (with
///   at least one of `account`, `name`, `uid`: `objects/user.json`), at least one of `service`
///   and `dst_endpoint`; `activity_id` 0–5 or 99; `status_id` 0–2 or 99.
pub fn ocsf_problems(v: &serde_json::Value) -> Vec<String> {
    let mut p = Vec::new();
    let int = |k: &str| v.get(k).and_then(serde_json::Value::as_u64);
    for k in ["activity_id", "category_uid", "class_uid", "severity_id", "time", "type_uid"] {
        if int(k).is_none() {
            p.push(format!("{k} missing or not an integer"));
        }
    }
    let (class, activity) = (int("class_uid").unwrap_or(0), int("activity_id").unwrap_or(0));
    if int("type_uid") != Some(class * 100 + activity) {
        p.push(format!("type_uid {:?} is not class_uid*100+activity_id", v.get("type_uid")));
    }
    if !matches!(int("severity_id"), Some(0..=6 | 99)) {
        p.push("severity_id outside its enum".into());
    }
    let meta = &v["metadata"];
    if !meta["version"].as_str().is_some_and(|s| s.starts_with("1.")) {
        p.push("metadata.version is not a 1.x version".into());
    }
    if !meta["product"].is_object() || !meta["product"]["vendor_name"].is_string() {
        p.push("metadata.product (with vendor_name) missing".into());
    }
    let status = int("status_id");
    let nonempty = |x: &serde_json::Value| x.as_object().is_some_and(|o| !o.is_empty());
    match class {
        2004 => {
            if int("category_uid") != Some(2) {
                p.push("Detection Finding outside category 2".into());
            }
            if !matches!(activity, 0..=3 | 99) {
                p.push(format!("activity_id {activity} not a finding activity"));
            }
            if status.is_some_and(|s| !matches!(s, 0..=6 | 99)) {
                p.push("status_id outside the finding enum".into());
            }
            if v["finding_info"]["uid"].as_str().is_none_or(str::is_empty) {
                p.push("finding_info.uid missing".into());
            }
            for (i, r) in v["finding_info"]["related_events"].as_array().into_iter().flatten().enumerate() {
                if !r["uid"].is_string() {
                    p.push(format!("finding_info.related_events[{i}].uid missing"));
                }
            }
            for (i, e) in v["evidences"].as_array().into_iter().flatten().enumerate() {
                if !nonempty(e) {
                    p.push(format!("evidences[{i}] holds no attribute"));
                }
            }
        }
        3002 => {
            if int("category_uid") != Some(3) {
                p.push("Authentication outside category 3".into());
            }
            if !matches!(activity, 0..=5 | 99) {
                p.push(format!("activity_id {activity} not an authentication activity"));
            }
            if status.is_some_and(|s| !matches!(s, 0..=2 | 99)) {
                p.push("status_id outside the event status enum".into());
            }
            let user = &v["user"];
            if !["account", "name", "uid"].iter().any(|k| !user[*k].is_null()) {
                p.push("user (with one of account, name, uid) missing".into());
            }
            if !nonempty(&v["service"]) && !nonempty(&v["dst_endpoint"]) {
                p.push("neither service nor dst_endpoint".into());
            }
            if !v["is_mfa"].is_null() && !v["is_mfa"].is_boolean() {
                p.push("is_mfa not a boolean".into());
            }
        }
        other => p.push(format!("class_uid {other} is neither 2004 nor 3002")),
    }
    p
}
