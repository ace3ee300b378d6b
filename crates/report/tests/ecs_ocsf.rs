//! `report --format ecs` and `--format ocsf`: every ECS document matches
//! `docs/ecs-verdict.schema.json` (which lists exactly the model's enum values), and every OCSF
//! event carries what its class requires (OCSF 1.x Detection Finding 2004, Authentication 3002).

use std::path::Path;
use trailproof_model::verdict::{
    IdentitySource, MatchedBy, SessionPath, Severity, Signal, UnknownReason, Verdict, VerdictRecord,
};
use trailproof_model::{AwsEvent, AwsEventKind, IdpEvent, IdpEventKind, MfaClaim, Outcome, Source};
use trailproof_report::ocsf::{RelatedEvent, RelatedEvents};
use trailproof_report::testdata::{hostile, ocsf_problems, record};
use trailproof_report::{Format, ReportOptions, ecs, render, render_with};

fn schema() -> serde_json::Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/ecs-verdict.schema.json");
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn records() -> Vec<VerdictRecord> {
    let mut out = vec![hostile("h1")];
    for (i, v) in Verdict::ALL.into_iter().enumerate() {
        for (j, p) in SessionPath::ALL.into_iter().enumerate() {
            let mut r = record(&format!("e{i}{j}"), v);
            r.path = p;
            r.version = 1 + j as u32;
            r.risk.severity = Severity::ALL[j % 4];
            r.risk.signals = if j == 0 { vec![] } else { Signal::ALL.to_vec() };
            if v == Verdict::Unknown {
                r.reason = Some(UnknownReason::IdpLogsNotCollected);
                r.identity = None;
            }
            out.push(r);
        }
    }
    out
}

fn rendered(f: Format, related: &RelatedEvents) -> Vec<serde_json::Value> {
    let mut buf = Vec::new();
    render_with(&records(), f, &ReportOptions::default(), related, &mut buf).unwrap();
    String::from_utf8(buf).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn every_ecs_document_validates_and_the_schema_rejects_what_it_should() {
    let validator = jsonschema::validator_for(&schema()).unwrap();
    let docs = rendered(Format::Ecs, &RelatedEvents::default());
    assert_eq!(docs.len(), records().len(), "one document per verdict, no summary line");
    for d in &docs {
        let errors: Vec<String> = validator.iter_errors(d).map(|e| format!("{e} at {}", e.instance_path)).collect();
        assert!(errors.is_empty(), "{d}: {errors:#?}");
    }
    // The hostile session's text is kept as data, inert.
    let h = &docs[0];
    assert!(h["user"]["name"].as_str().unwrap().contains("\u{FFFD}[2J"), "{h}");
    assert!(!h.to_string().contains("\\u001b"));
    // The join key and what a Kibana user filters on.
    let r = &records()[3];
    let d = &docs[3];
    assert_eq!(d["event"]["id"], r.console_login_event_id.as_str());
    assert_eq!(d["trailproof"]["verdict"], r.verdict.as_str());
    assert_eq!(d["trailproof"]["version"], r.version);
    assert_eq!(d["cloud"]["account"]["id"], "111122223333");
    assert_eq!(d["event"]["severity"], ecs::severity_number(r.risk.severity));
    // The schema refuses an unknown verdict, an unknown key, and a reason on a verdict that is
    // not unknown.
    let mut bad = docs[1].clone();
    bad["trailproof"]["verdict"] = "probably_fine".into();
    assert!(!validator.is_valid(&bad));
    let mut bad = docs[1].clone();
    bad["trailproof"]["extra"] = 1.into();
    assert!(!validator.is_valid(&bad));
    let mut bad = docs[1].clone();
    bad["trailproof"]["reason"] = "identity_unmapped".into();
    assert!(!validator.is_valid(&bad));
    let mut bad = docs[1].clone();
    bad["event"]["severity"] = 50.into();
    assert!(!validator.is_valid(&bad), "event.severity is one of the External Alerts rule's numbers");
}

#[test]
fn the_ecs_schema_lists_every_enum_value_of_the_model() {
    let s = schema();
    let tp = &s["properties"]["trailproof"]["properties"];
    let names = |v: &serde_json::Value| -> Vec<String> {
        let mut x: Vec<String> = v.as_array().unwrap().iter().map(|x| x.as_str().unwrap().to_string()).collect();
        x.sort();
        x
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let ser = |v: serde_json::Value| v.as_str().unwrap().to_string();
    assert_eq!(names(&tp["verdict"]["enum"]), sorted(Verdict::ALL.iter().map(|v| v.as_str().into()).collect()));
    assert_eq!(names(&tp["path"]["enum"]), sorted(SessionPath::ALL.iter().map(|v| v.as_str().into()).collect()));
    assert_eq!(
        names(&tp["risk"]["properties"]["signals"]["items"]["enum"]),
        sorted(Signal::ALL.iter().map(|v| v.as_str().into()).collect())
    );
    assert_eq!(
        names(&tp["risk"]["properties"]["severity"]["enum"]),
        sorted(Severity::ALL.iter().map(|v| v.as_str().into()).collect())
    );
    assert_eq!(
        names(&tp["evidence"]["items"]["properties"]["source"]["enum"]),
        sorted(Source::ALL.iter().map(|v| v.as_str().into()).collect())
    );
    let reasons = [
        UnknownReason::IdpLogsNotCollected,
        UnknownReason::IdentityUnmapped,
        UnknownReason::ConflictingCandidates,
        UnknownReason::IdpNotConfigured,
        UnknownReason::AwsMfaFieldMissing,
        UnknownReason::IdpOutcomeUnknown,
        UnknownReason::AwsAppUnknown,
    ];
    assert_eq!(names(&tp["reason"]["enum"]), sorted(reasons.iter().map(|v| v.as_str().into()).collect()));
    let idps = [
        IdentitySource::Okta,
        IdentitySource::Entra,
        IdentitySource::Google,
        IdentitySource::Adfs,
        IdentitySource::Aws,
        IdentitySource::IdentityCenter,
    ];
    assert_eq!(
        names(&tp["identity"]["properties"]["idp"]["enum"]),
        sorted(idps.iter().map(|v| ser(serde_json::to_value(v).unwrap())).collect())
    );
    let matched = [
        MatchedBy::SourceIdentity,
        MatchedBy::SamlSubject,
        MatchedBy::Email,
        MatchedBy::Username,
        MatchedBy::LocalPart,
        MatchedBy::Alias,
        MatchedBy::Rule,
        MatchedBy::Prefix,
        MatchedBy::AwsPrincipal,
    ];
    assert_eq!(
        names(&tp["identity"]["properties"]["matched_by"]["enum"]),
        sorted(matched.iter().map(|v| ser(serde_json::to_value(v).unwrap())).collect())
    );
}

fn related() -> RelatedEvents {
    let mut rel = RelatedEvents::default();
    for r in records() {
        rel.insert(
            Source::Cloudtrail,
            &r.console_login_event_id,
            RelatedEvent::Aws(Box::new(AwsEvent {
                event_id: r.console_login_event_id.clone(),
                time_ms: 1_793_000_000_000,
                kind: Some(AwsEventKind::ConsoleLogin),
                account_id: r.account_id.clone(),
                outcome: Outcome::Success,
                principal_type: Some("AssumedRole".into()),
                arn: r.arn.clone(),
                session_name: r.session_name.clone(),
                mfa_used: Some(false),
                source_ip: r.source_ip.clone(),
                user_agent: r.user_agent.clone(),
                ..Default::default()
            })),
        );
        let okta = &r.evidence[1];
        rel.insert(
            Source::Okta,
            &okta.id,
            RelatedEvent::Idp(Box::new(IdpEvent {
                provider: trailproof_model::Idp::Okta,
                tenant: None,
                event_id: okta.id.clone(),
                time_ms: 1_792_999_990_000,
                kind: IdpEventKind::AppSso,
                native_type: "user.authentication.sso".into(),
                outcome: Outcome::Success,
                outcome_reason: None,
                user: trailproof_model::UserKeys { login: Some("alice@example.com".into()), ..Default::default() },
                app_id: Some("0oa1".into()),
                app_name: Some("AWS".into()),
                session_id: Some("102abc".into()),
                source_ip: r.source_ip.clone(),
                user_agent: None,
                asn: None,
                as_org: None,
                country: None,
                mfa: if r.verdict == Verdict::Enforced { MfaClaim::Verified } else { MfaClaim::SingleFactor },
                factors: vec![],
                auth_requirement: None,
            })),
        );
    }
    rel
}

#[test]
fn every_ocsf_event_carries_what_its_class_requires() {
    let evs = rendered(Format::Ocsf, &related());
    let findings: Vec<&serde_json::Value> = evs.iter().filter(|e| e["class_uid"] == 2004).collect();
    let auths: Vec<&serde_json::Value> = evs.iter().filter(|e| e["class_uid"] == 3002).collect();
    assert_eq!(findings.len(), records().len(), "one Detection Finding per verdict");
    assert_eq!(auths.len(), 2 * records().len(), "each verdict's ConsoleLogin and Okta SSO, once each");
    for e in &evs {
        let p = ocsf_problems(e);
        assert!(p.is_empty(), "{e}: {p:#?}");
    }
    // Each finding names its evidence, and the Authentication events carry those uids.
    let auth_uids: Vec<&str> = auths.iter().map(|a| a["metadata"]["uid"].as_str().unwrap()).collect();
    for f in &findings {
        for r in f["finding_info"]["related_events"].as_array().unwrap() {
            assert!(auth_uids.contains(&r["uid"].as_str().unwrap()), "{r} has no Authentication event");
        }
    }
    let okta = auths.iter().find(|a| a["metadata"]["product"]["vendor_name"] == "Okta").unwrap();
    assert_eq!(okta["user"]["name"], "alice@example.com");
    assert_eq!(okta["session"]["uid"], "102abc");
    // The checker does catch a missing requirement.
    let mut bad = findings[0].clone();
    bad["finding_info"].as_object_mut().unwrap().remove("uid");
    assert!(!ocsf_problems(&bad).is_empty());
    let mut bad = auths[0].clone();
    bad.as_object_mut().unwrap().remove("user");
    assert!(!ocsf_problems(&bad).is_empty());
    let mut bad = auths[0].clone();
    bad["type_uid"] = 300299.into();
    assert!(!ocsf_problems(&bad).is_empty());
}

#[test]
fn without_the_stored_records_the_findings_still_name_their_evidence() {
    let mut buf = Vec::new();
    render(&records(), Format::Ocsf, &ReportOptions::default(), &mut buf).unwrap();
    let evs: Vec<serde_json::Value> =
        String::from_utf8(buf).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(evs.iter().all(|e| e["class_uid"] == 2004));
    assert_eq!(evs[1]["finding_info"]["related_events"].as_array().unwrap().len(), 2);
    assert!(evs.iter().all(|e| ocsf_problems(e).is_empty()));
    let hostile = evs[0].to_string();
    assert!(!hostile.contains("\\u001b") && hostile.contains("\u{FFFD}[2J"), "{hostile}");
}

/// The index template in config/elastic types every field a verdict document carries (a field
/// it lacks would be mapped by guess), and the sample rule reads fields the documents have.
#[test]
fn the_index_template_and_the_sample_rule_cover_the_documents() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config/elastic");
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("index-template.json")).unwrap()).unwrap();
    fn leaves(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(o) => {
                for (k, x) in o {
                    leaves(&if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, x, out)
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| leaves(prefix, x, out)),
            _ => out.push(prefix.to_string()),
        }
    }
    fn mapped(m: &serde_json::Value, path: &str) -> bool {
        let mut cur = m;
        for part in path.split('.') {
            match cur.get("properties").and_then(|p| p.get(part)) {
                Some(x) => cur = x,
                None => return false,
            }
        }
        cur.get("type").is_some()
    }
    let mappings = &t["template"]["mappings"];
    let mut fields = Vec::new();
    for r in records() {
        let mut d = ecs::alert_document(&r);
        ecs::set_data_stream(&mut d, "logs-trailproof.verdict-default");
        d["event"]["ingested"] = "2026-11-02T11:00:00Z".into();
        leaves("", &d, &mut fields);
    }
    fields.sort();
    fields.dedup();
    // `data_stream.*` and `ecs.version` come from Elastic's own component templates.
    let missing: Vec<&String> = fields
        .iter()
        .filter(|f| !f.starts_with("data_stream.") && *f != "ecs.version" && !mapped(mappings, f))
        .collect();
    assert!(missing.is_empty(), "not in config/elastic/index-template.json: {missing:?}");
    let rule_line = std::fs::read_to_string(root.join("detection-rule.ndjson")).unwrap();
    let rule: serde_json::Value = serde_json::from_str(rule_line.lines().next().unwrap()).unwrap();
    let q = rule["query"].as_str().unwrap();
    for f in ["trailproof.verdict", "trailproof.risk.severity", "not_enforced", "no_idp_login"] {
        assert!(q.contains(f), "{q}");
    }
    assert_eq!(rule["index"][0], "logs-trailproof.verdict-*");
    for f in rule["required_fields"].as_array().unwrap() {
        assert!(mapped(mappings, f["name"].as_str().unwrap()), "{f}");
    }
}
