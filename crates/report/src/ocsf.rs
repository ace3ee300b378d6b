//! The verdicts in the Open Cybersecurity Schema Framework (OCSF 1.x, schema version
//! [`OCSF_VERSION`]): `report --format ocsf`.
//!
//! Each verdict is one **Detection Finding** (class_uid 2004, category 2 Findings): activity
//! Create (1) for a verdict's first version, Update (2) for a later one (OCSF
//! `events/findings/finding.json`: "Use 1 (Create) when a finding is first generated, 2 (Update)
//! when an existing finding is modified"). Before it come the sign-in events the verdict cites, as
//! **Authentication** events (class_uid 3002, category 3 Identity & Access Management, activity
//! Logon), each once per output, when the caller hands them over ([`RelatedEvents`]; the store
//! holds them): the ConsoleLogin and the IdP sign-ins, session starts and factor steps. The
//! finding's `finding_info.related_events[]` names every evidence record by its `uid` (the
//! CloudTrail `eventID` or the IdP event id, which is also the Authentication event's
//! `metadata.uid`, as Security Lake keys CloudTrail events), and `evidences[]` carries each with its
//! role.
//!
//! Attributes follow ocsf/ocsf-schema: `events/findings/detection_finding.json`,
//! `events/findings/finding.json` (`finding_info` required), `objects/finding_info.json` (`uid`
//! required), `events/iam/authentication.json` (`user` required; at least one of `service`,
//! `dst_endpoint`), `objects/user.json` (at least one of `account`, `name`, `uid`), and the base
//! event's required `activity_id`, `category_uid`, `class_uid`, `metadata` (`version`, `product`),
//! `severity_id`, `time`, `type_uid` (= class_uid × 100 + activity_id). The Authentication
//! mapping of a ConsoleLogin follows ocsf/examples
//! `mappings/markdown/AWS/v1.1.0/CloudTrail/Authentication` (Security Lake's). Text from logs is
//! made inert as in every report.

use crate::ecs::{self, prune};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use trailproof_model::text::inert_json;
use trailproof_model::verdict::{Severity, Verdict, VerdictRecord};
use trailproof_model::{AwsEvent, AwsEventKind, IdpEvent, IdpEventKind, MfaClaim, Outcome, Source, parse_time};

/// The OCSF schema version the events declare in `metadata.version`.
pub const OCSF_VERSION: &str = "1.4.0";

pub const DETECTION_FINDING: u32 = 2004;
pub const AUTHENTICATION: u32 = 3002;

/// A stored record a verdict cites, for its Authentication event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelatedEvent {
    Aws(Box<AwsEvent>),
    Idp(Box<IdpEvent>),
}

/// The records the verdicts cite, by evidence source and id (filled by the caller from the
/// store; what is missing is still named in `related_events`, without an Authentication event).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RelatedEvents(pub BTreeMap<(Source, String), RelatedEvent>);

impl RelatedEvents {
    pub fn insert(&mut self, source: Source, id: &str, ev: RelatedEvent) {
        self.0.insert((source, id.to_string()), ev);
    }
    pub fn get(&self, source: Source, id: &str) -> Option<&RelatedEvent> {
        self.0.get(&(source, id.to_string()))
    }
}

fn product(name: &str, vendor: &str) -> Value {
    json!({"name": name, "vendor_name": vendor})
}

fn trailproof_product() -> Value {
    json!({"name": "trailproof", "vendor_name": "trailproof", "version": env!("CARGO_PKG_VERSION")})
}

/// OCSF `severity_id`: 1 Informational, 2 Low, 3 Medium, 4 High, 5 Critical.
fn severity_id(rec: &VerdictRecord) -> (u8, &'static str) {
    if rec.verdict == Verdict::Enforced {
        return (1, "Informational");
    }
    match rec.risk.severity {
        Severity::Low => (2, "Low"),
        Severity::Medium => (3, "Medium"),
        Severity::High => (4, "High"),
        Severity::Critical => (5, "Critical"),
    }
}

/// Whether a CloudTrail event kind is a sign-in (an Authentication event); the others (STS
/// calls, role switches) are API activity and only named in `related_events`.
fn aws_is_sign_in(k: Option<AwsEventKind>) -> bool {
    matches!(
        k,
        Some(
            AwsEventKind::ConsoleLogin
                | AwsEventKind::UserAuthentication
                | AwsEventKind::CredentialVerification
                | AwsEventKind::SsoAuthenticate
        )
    )
}

fn idp_is_sign_in(k: IdpEventKind) -> bool {
    !matches!(k, IdpEventKind::PolicyEvaluated | IdpEventKind::SessionEnd)
}

fn status(o: Outcome) -> (u8, &'static str) {
    match o {
        Outcome::Success => (1, "Success"),
        Outcome::Failure => (2, "Failure"),
        Outcome::Unknown => (0, "Unknown"),
    }
}

fn auth_event(time_ms: i64, uid: &str, prod: Value, status_of: Outcome) -> Value {
    let (status_id, status) = status(status_of);
    json!({
        "class_uid": AUTHENTICATION,
        "class_name": "Authentication",
        "category_uid": 3,
        "category_name": "Identity & Access Management",
        "activity_id": 1,
        "activity_name": "Logon",
        "type_uid": AUTHENTICATION * 100 + 1,
        "type_name": "Authentication: Logon",
        "severity_id": 1,
        "severity": "Informational",
        "time": time_ms,
        "status_id": status_id,
        "status": status,
        "metadata": {"version": OCSF_VERSION, "uid": uid, "product": prod},
    })
}

/// The Authentication event of a CloudTrail sign-in (ConsoleLogin, Identity Center sign-ins).
pub fn aws_authentication(e: &AwsEvent) -> Value {
    let mut v = auth_event(e.time_ms, &e.event_id, product("CloudTrail", "AWS"), e.outcome);
    let name = e.session_name.clone().or_else(|| e.user_name.clone());
    let user = json!({
        "uid": e.arn,
        "uid_alt": e.principal_id,
        "name": name,
        "type": e.principal_type,
        "account": {"uid": e.account_id},
    });
    let extra = json!({
        "user": user,
        "actor": {"user": user},
        "is_mfa": if e.kind == Some(AwsEventKind::ConsoleLogin) { e.mfa_used.map(Value::Bool) } else { None },
        "service": {"name": e.kind.map(|k| k.event_source())},
        "dst_endpoint": {"svc_name": e.login_to},
        "src_endpoint": {"ip": e.source_ip},
        "http_request": {"user_agent": e.user_agent},
        "cloud": {"provider": "AWS", "region": e.region},
        "unmapped": {
            "eventName": e.kind.map(|k| k.event_name()),
            "additionalEventData.SamlProviderArn": e.saml_provider_arn,
            "additionalEventData.CredentialType": e.credential_type,
        },
    });
    merge(&mut v, extra);
    // Required: at least one of service / dst_endpoint, and a user naming someone.
    ensure(&mut v, "service", json!({"name": "signin.amazonaws.com"}));
    ensure(&mut v, "user", json!({"name": "unknown"}));
    v
}

fn idp_vendor(e: &IdpEvent) -> (&'static str, &'static str) {
    match e.provider {
        trailproof_model::Idp::Okta => ("Okta System Log", "Okta"),
        trailproof_model::Idp::Entra => ("Microsoft Entra ID sign-in logs", "Microsoft"),
        trailproof_model::Idp::Adfs => ("AD FS sign-in logs (ADFSSignInLogs)", "Microsoft"),
        trailproof_model::Idp::Google => ("Google Workspace Reports", "Google"),
    }
}

/// The Authentication event of an IdP sign-in, session start or factor step.
pub fn idp_authentication(e: &IdpEvent) -> Value {
    let (name, vendor) = idp_vendor(e);
    let mut v = auth_event(e.time_ms, &e.event_id, product(name, vendor), e.outcome);
    let is_mfa = match e.mfa {
        MfaClaim::Verified | MfaClaim::Carried => Some(true),
        MfaClaim::SingleFactor => Some(false),
        _ => None,
    };
    let extra = json!({
        "user": {
            "name": e.user.login.as_deref().or(e.user.email.as_deref()).or(e.user.app_username.as_deref()),
            "uid": e.user.user_id,
            "email_addr": e.user.email,
            "full_name": e.user.display_name,
        },
        "is_mfa": is_mfa,
        "service": {"name": e.app_name, "uid": e.app_id},
        "session": {"uid": e.session_id},
        "src_endpoint": {"ip": e.source_ip},
        "http_request": {"user_agent": e.user_agent},
        "status_detail": e.outcome_reason,
        "unmapped": {
            "native_type": e.native_type,
            "kind": e.kind.as_str(),
            "mfa_claim": e.mfa.as_str(),
            "factors": e.factors,
            "tenant": e.tenant,
            "auth_requirement": e.auth_requirement,
        },
    });
    merge(&mut v, extra);
    ensure(&mut v, "service", json!({"name": name}));
    ensure(&mut v, "user", json!({"name": "unknown"}));
    v
}

fn merge(into: &mut Value, extra: Value) {
    let (Some(o), Value::Object(e)) = (into.as_object_mut(), extra) else { return };
    for (k, mut v) in e {
        prune(&mut v);
        let empty = v.is_null() || v.as_object().is_some_and(|m| m.is_empty());
        if !empty {
            o.insert(k, v);
        }
    }
}

fn ensure(v: &mut Value, key: &str, default: Value) {
    if let Some(o) = v.as_object_mut() {
        o.entry(key).or_insert(default);
    }
}

/// The Detection Finding of one verdict.
pub fn detection_finding(rec: &VerdictRecord) -> Value {
    let time = parse_time(&rec.time).unwrap_or(0);
    let (sev_id, sev) = severity_id(rec);
    let activity = if rec.version <= 1 { (1, "Create") } else { (2, "Update") };
    let related: Vec<Value> = rec
        .evidence
        .iter()
        .map(|e| {
            json!({
                "uid": e.id,
                "product_uid": e.source.as_str(),
                "type": e.role,
            })
        })
        .collect();
    let evidences: Vec<Value> = rec
        .evidence
        .iter()
        .map(|e| {
            let mut ev = json!({"data": {"source": e.source.as_str(), "id": e.id, "role": e.role}});
            if e.source == Source::Cloudtrail && e.id == rec.console_login_event_id {
                merge(
                    &mut ev,
                    json!({
                        "actor": {"user": {"uid": rec.arn, "name": rec.session_name, "account": {"uid": rec.account_id}}},
                        "src_endpoint": {"ip": rec.source_ip},
                    }),
                );
            }
            ev
        })
        .collect();
    let mut v = json!({
        "class_uid": DETECTION_FINDING,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": activity.0,
        "activity_name": activity.1,
        "type_uid": DETECTION_FINDING * 100 + activity.0,
        "type_name": format!("Detection Finding: {}", activity.1),
        "severity_id": sev_id,
        "severity": sev,
        "time": time,
        "message": ecs::title(rec),
        "status_id": 1,
        "status": "New",
        "is_alert": rec.verdict != Verdict::Enforced,
        "risk_score": rec.risk.score,
        "metadata": {
            "version": OCSF_VERSION,
            "uid": ecs::document_id(rec),
            "product": trailproof_product(),
        },
        "finding_info": {
            "uid": ecs::session_key(rec),
            "title": ecs::title(rec),
            "desc": rec.explanation,
            "types": [format!("trailproof/{}", rec.verdict.as_str())],
            "analytic": {"uid": ecs::RULE_ID, "name": "trailproof: MFA enforced for AWS console sessions", "type_id": 1, "type": "Rule"},
            "related_events": related,
        },
        "evidences": evidences,
        "cloud": {"provider": "AWS", "account": {"uid": rec.account_id}},
        "unmapped": {
            "trailproof": ecs::document(rec).get("trailproof").cloned(),
        },
    });
    prune(&mut v);
    v
}

/// Every OCSF event of `records`, in order: for each verdict, the Authentication events of the
/// sign-ins it cites that `related` holds and that were not given before, then its Detection
/// Finding. Every string from logs is inert.
pub fn events(records: &[VerdictRecord], related: &RelatedEvents) -> Vec<Value> {
    let mut seen: HashSet<(Source, &str)> = HashSet::new();
    let mut out = Vec::new();
    for rec in records {
        for e in &rec.evidence {
            if !seen.insert((e.source, e.id.as_str())) {
                continue;
            }
            match related.get(e.source, &e.id) {
                Some(RelatedEvent::Aws(a)) if aws_is_sign_in(a.kind) => out.push(aws_authentication(a)),
                Some(RelatedEvent::Idp(i)) if idp_is_sign_in(i.kind) => out.push(idp_authentication(i)),
                _ => {}
            }
        }
        out.push(detection_finding(rec));
    }
    for v in &mut out {
        inert_json(v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::record;

    #[test]
    fn a_finding_per_verdict_and_each_cited_sign_in_once() {
        let a = record("e1", Verdict::NotEnforced);
        let mut b = record("e2", Verdict::Enforced);
        b.version = 2;
        // Both cite the same Okta SSO.
        b.evidence[1].id = a.evidence[1].id.clone();
        let mut rel = RelatedEvents::default();
        rel.insert(
            Source::Cloudtrail,
            "e1",
            RelatedEvent::Aws(Box::new(AwsEvent {
                event_id: "e1".into(),
                kind: Some(AwsEventKind::ConsoleLogin),
                mfa_used: Some(false),
                ..Default::default()
            })),
        );
        let okta = IdpEvent {
            provider: trailproof_model::Idp::Okta,
            tenant: None,
            event_id: a.evidence[1].id.clone(),
            time_ms: 1,
            kind: IdpEventKind::AppSso,
            native_type: "user.authentication.sso".into(),
            outcome: Outcome::Success,
            outcome_reason: None,
            user: Default::default(),
            app_id: None,
            app_name: None,
            session_id: None,
            source_ip: None,
            user_agent: None,
            asn: None,
            as_org: None,
            country: None,
            mfa: MfaClaim::Silent,
            factors: vec![],
            auth_requirement: None,
        };
        rel.insert(Source::Okta, &okta.event_id.clone(), RelatedEvent::Idp(Box::new(okta)));
        let evs = events(&[a, b], &rel);
        let classes: Vec<u64> = evs.iter().map(|v| v["class_uid"].as_u64().unwrap()).collect();
        assert_eq!(classes, [3002, 3002, 2004, 2004]);
        assert_eq!(evs[2]["activity_id"], 1);
        assert_eq!(evs[3]["activity_id"], 2, "a later version updates the finding");
        assert_eq!(evs[3]["type_uid"], 200402);
        assert_eq!(evs[0]["is_mfa"], false);
        assert_eq!(evs[1]["user"]["name"], "unknown", "a user is required even when the record names none");
        assert_eq!(evs[2]["finding_info"]["related_events"][0]["uid"], "e1");
    }
}
