//! The verdict as an Elastic Common Schema document: what `report --format ecs` prints and what
//! the Elasticsearch sink (`trailproof-notify`, `kind = "elasticsearch"`) writes into the verdict
//! data stream. Built here, in one place, for both.
//!
//! One document per verdict version. ECS fields where ECS has them (`@timestamp`, `event.*`,
//! `user.name`, `source.ip`, `user_agent.original`, `cloud.*`, `related.*`, `rule.*`, `tags`,
//! `message`), trailproof's own under `trailproof.*`. The schema of the document is
//! `docs/ecs-verdict.schema.json`; `docs/formats-ecs-ocsf.md` explains each field.
//!
//! - `event.id` is the CloudTrail `eventID` of the ConsoleLogin: the key Elastic's own CloudTrail
//!   documents carry, and which a query rule's alerts copy from their source event.
//! - `event.kind` is `enrichment` (ECS: "collected to provide additional context, often to other
//!   events", elastic.co/docs/reference/ecs/ecs-allowed-values-event-kind); [`alert_document`] is
//!   the same document with `event.kind: alert`, for the prebuilt "External Alerts" rule
//!   (elastic/detection-rules `rules/promotions/external_alerts.toml`: `event.kind:alert` on
//!   `logs-*`, severity from `event.severity` 21/47/73/99, risk from `event.risk_score`, name from
//!   `message`).
//! - [`document_id`] is deterministic from the session and the version, so a document written
//!   twice (a retry, a re-run, a crash between the write and its bookkeeping) is refused by
//!   Elasticsearch as a `version_conflict` on `create` instead of stored twice.
//! - Every string from logs is made inert (`trailproof_model::text::inert`, as the JSON reports).

use serde_json::{Map, Value, json};
use trailproof_model::text::inert_json;
use trailproof_model::verdict::{Severity, Verdict, VerdictRecord};

/// The ECS version the documents follow (every ECS field used is defined in ECS 8.x).
pub const ECS_VERSION: &str = "8.17.0";
/// `event.dataset` and the dataset part of the default data stream.
pub const DATASET: &str = "trailproof.verdict";
/// The default data stream of the verdict documents.
pub const DEFAULT_DATA_STREAM: &str = "logs-trailproof.verdict-default";
/// `rule.id` of every verdict document.
pub const RULE_ID: &str = "trailproof-console-mfa";

/// ECS `event.severity` for a risk severity: the numbers the prebuilt "External Alerts" rule maps
/// to low / medium / high / critical (its `severity_mapping`: 21, 47, 73, 99).
pub fn severity_number(s: Severity) -> u8 {
    match s {
        Severity::Low => 21,
        Severity::Medium => 47,
        Severity::High => 73,
        Severity::Critical => 99,
    }
}

/// The session's key: `ACCOUNT:CONSOLELOGIN_EVENT_ID` (the ticket sinks' dedup key).
pub fn session_key(rec: &VerdictRecord) -> String {
    format!("{}:{}", rec.account_id.as_deref().unwrap_or("unknown-account"), rec.console_login_event_id)
}

/// The document's `_id`: a hash of the session key (event ids come from logs: any length, any
/// character) and the version, `<40 hex>-v<version>`. The same session and version give the same
/// id on every run and every host.
pub fn document_id(rec: &VerdictRecord) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(b"trailproof-verdict\0");
    h.update(session_key(rec).as_bytes());
    let digest = h.finalize();
    format!("{}-v{}", hex::encode(&digest[..20]), rec.version)
}

/// A short title: `message`, which the "External Alerts" rule uses as the alert's name.
pub fn title(rec: &VerdictRecord) -> String {
    let what = match rec.verdict {
        Verdict::Enforced => "MFA enforced",
        Verdict::NotEnforced => "MFA not enforced",
        Verdict::NoIdpLogin => "No IdP sign-in behind",
        Verdict::Unknown => "MFA not determined for",
    };
    let who = rec.session_name.as_deref().or(rec.arn.as_deref()).unwrap_or("an unnamed session");
    let acct = rec.account_id.as_deref().unwrap_or("unknown account");
    format!("trailproof: {what} AWS console session {who} ({acct}, {})", rec.path.as_str())
}

/// Removes `null` members (a field the verdict does not have is absent, not null) and empty
/// arrays and objects left behind.
pub(crate) fn prune(v: &mut Value) {
    match v {
        Value::Object(o) => {
            o.values_mut().for_each(prune);
            o.retain(|_, x| match x {
                Value::Null => false,
                Value::Array(a) => !a.is_empty(),
                Value::Object(m) => !m.is_empty(),
                _ => true,
            });
        }
        Value::Array(a) => a.iter_mut().for_each(prune),
        _ => {}
    }
}

fn name_of<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The verdict document (`event.kind: enrichment`). Pure: no clock (the writer adds
/// `event.ingested` and `data_stream.*` for its target).
pub fn document(rec: &VerdictRecord) -> Value {
    let mut related_users: Vec<&str> = Vec::new();
    for u in [rec.session_name.as_deref(), rec.identity.as_ref().map(|i| i.user.as_str())].into_iter().flatten() {
        if !u.is_empty() && !related_users.contains(&u) {
            related_users.push(u);
        }
    }
    // CloudTrail's `sourceIPAddress` is not always an address ("AWS Internal", a service's host
    // name): `source.ip` is typed `ip` in ECS (a value that is not one fails the whole document),
    // so only an address goes there; `source.address` keeps what the log wrote.
    let ip = rec.source_ip.as_deref().filter(|s| s.parse::<std::net::IpAddr>().is_ok());
    let evidence: Vec<Value> =
        rec.evidence.iter().map(|e| json!({"source": e.source.as_str(), "id": e.id, "role": e.role})).collect();
    let evidence_ids: Vec<String> = rec.evidence.iter().map(|e| format!("{}:{}", e.source.as_str(), e.id)).collect();
    let mut doc = json!({
        "@timestamp": rec.time,
        "ecs": {"version": ECS_VERSION},
        "message": title(rec),
        "tags": ["trailproof", format!("trailproof:{}", rec.verdict.as_str())],
        "event": {
            "kind": "enrichment",
            "category": ["authentication"],
            "type": ["info"],
            // Only successful ConsoleLogins are judged (docs/judging.md §0): the sign-in succeeded.
            "outcome": "success",
            "action": "console-session-mfa-verdict",
            "module": "trailproof",
            "dataset": DATASET,
            "provider": "trailproof",
            "id": rec.console_login_event_id,
            "severity": severity_number(rec.risk.severity),
            "risk_score": f64::from(rec.risk.score),
        },
        "rule": {
            "id": RULE_ID,
            "name": "trailproof: MFA enforced for AWS console sessions",
            "ruleset": "trailproof",
            "category": "Identity and access",
            "description": "Was MFA enforced at the identity provider for this AWS console session? The rules: docs/judging.md.",
        },
        "user": {"name": rec.session_name.as_deref().or(rec.identity.as_ref().map(|i| i.user.as_str()))},
        "source": {"address": rec.source_ip, "ip": ip},
        "user_agent": {"original": rec.user_agent},
        "cloud": {"provider": "aws", "account": {"id": rec.account_id}},
        "related": {"user": related_users, "ip": ip.into_iter().collect::<Vec<_>>()},
        "trailproof": {
            "verdict": rec.verdict.as_str(),
            "reason": rec.reason.map(|r| r.as_str()),
            "path": rec.path.as_str(),
            "version": rec.version,
            "key": session_key(rec),
            "console_login_event_id": rec.console_login_event_id,
            "session": {"arn": rec.arn, "name": rec.session_name},
            "identity": rec.identity.as_ref().map(|i| json!({
                "idp": name_of(&i.idp),
                "user": i.user,
                "matched_by": name_of(&i.matched_by),
            })),
            "mfa": rec.mfa.as_ref().map(|m| json!({
                "factors": m.factors,
                "at": m.at,
                "carried_from_earlier_signin": m.carried_from_earlier_signin,
            })),
            "risk": {
                "score": rec.risk.score,
                "severity": rec.risk.severity.as_str(),
                "signals": rec.risk.signals.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            },
            "evidence": evidence,
            "evidence_ids": evidence_ids,
            "explanation": rec.explanation,
        },
    });
    prune(&mut doc);
    // `prune` drops an empty `signals` or `factors` list too; the schema lets them be absent,
    // but a reader of `trailproof.risk.signals` is better served by an explicit empty list.
    if let Some(risk) = doc.pointer_mut("/trailproof/risk").and_then(Value::as_object_mut) {
        risk.entry("signals").or_insert_with(|| Value::Array(vec![]));
    }
    inert_json(&mut doc);
    doc
}

/// The same document as an external alert (`event.kind: alert`), for a `logs-*` data stream the
/// prebuilt "External Alerts" rule reads.
pub fn alert_document(rec: &VerdictRecord) -> Value {
    let mut doc = document(rec);
    if let Some(ev) = doc.get_mut("event").and_then(Value::as_object_mut) {
        ev.insert("kind".into(), "alert".into());
    }
    if let Some(tags) = doc.get_mut("tags").and_then(Value::as_array_mut) {
        tags.push("trailproof-alert".into());
    }
    doc
}

/// Sets `data_stream.{type,dataset,namespace}` from a data stream name `type-dataset-namespace`
/// (Elasticsearch's data stream naming scheme), as Elastic's managed `logs-*-*` template maps
/// them (constant keywords: a value that differs from the target's is refused). A name that does
/// not follow the scheme gets none.
pub fn set_data_stream(doc: &mut Value, data_stream: &str) {
    let mut parts = data_stream.splitn(2, '-');
    let (Some(ty), Some(rest)) = (parts.next(), parts.next()) else { return };
    let Some((dataset, namespace)) = rest.rsplit_once('-') else { return };
    if ty.is_empty() || dataset.is_empty() || namespace.is_empty() {
        return;
    }
    if let Some(o) = doc.as_object_mut() {
        let mut ds = Map::new();
        ds.insert("type".into(), ty.into());
        ds.insert("dataset".into(), dataset.into());
        ds.insert("namespace".into(), namespace.into());
        o.insert("data_stream".into(), Value::Object(ds));
        if let Some(ev) = o.get_mut("event").and_then(Value::as_object_mut) {
            ev.insert("dataset".into(), dataset.into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testdata::{hostile, record};

    #[test]
    fn the_id_depends_on_session_and_version_only() {
        let a = record("e1", Verdict::Enforced);
        let mut b = record("e1", Verdict::NotEnforced);
        b.explanation = "other".into();
        assert_eq!(document_id(&a), document_id(&b), "same session, same version: one document");
        b.version = 2;
        assert_ne!(document_id(&a), document_id(&b));
        assert!(document_id(&b).ends_with("-v2"));
        let mut c = record("e1", Verdict::Enforced);
        c.account_id = Some("444455556666".into());
        assert_ne!(document_id(&a), document_id(&c), "the account is part of the session");
        assert_eq!(document_id(&a).len(), 40 + 3);
    }

    #[test]
    fn the_document_carries_the_join_key_and_stays_inert() {
        let mut r = hostile("e\u{1b}9");
        r.version = 3;
        let d = document(&r);
        assert_eq!(d["event"]["id"], "e\u{FFFD}9");
        assert_eq!(d["event"]["kind"], "enrichment");
        assert_eq!(d["event"]["severity"], 73);
        assert_eq!(d["trailproof"]["verdict"], "not_enforced");
        assert_eq!(d["trailproof"]["version"], 3);
        let text = d.to_string();
        assert!(!text.contains("\\u001b"), "{text}");
        assert_eq!(alert_document(&r)["event"]["kind"], "alert");
        assert_eq!(d["source"]["ip"], "198.51.100.7");
        r.source_ip = Some("AWS Internal".into());
        let d = document(&r);
        assert_eq!(d["source"], json!({"address": "AWS Internal"}), "not an address: not in source.ip");
        assert!(d["related"].get("ip").is_none());
    }

    #[test]
    fn data_stream_fields_follow_the_target_name() {
        let mut d = document(&record("e1", Verdict::Enforced));
        set_data_stream(&mut d, "logs-trailproof.verdict-prod");
        assert_eq!(d["data_stream"], json!({"type": "logs", "dataset": "trailproof.verdict", "namespace": "prod"}));
        let mut d = document(&record("e1", Verdict::Enforced));
        set_data_stream(&mut d, "verdicts");
        assert!(d.get("data_stream").is_none());
    }
}
