//! Elastic Common Schema documents of the Elastic `google_workspace` integration's `login` and
//! `saml` data streams, as stored (a search hit's `_source`), usually **without**
//! `event.original`: the ingest pipelines end with `remove event.original` unless the
//! `preserve_original_event` tag is set (elastic/integrations
//! `packages/google_workspace/data_stream/{login,saml}/elasticsearch/ingest_pipeline/default.yml`).
//!
//! When `event.original` is kept and holds a Reports API activity, that activity is read (it is
//! the source's own text). Otherwise the document's fields are mapped back to the activity's
//! facts, as the pipelines map them:
//!
//! | activity | Elastic field |
//! |---|---|
//! | `id.time` | `@timestamp` (the pipeline's date of `id.time`, written with milliseconds) |
//! | `id.uniqueQualifier` | `event.id` |
//! | `id.applicationName` | `event.provider`, else the data stream (`data_stream.dataset` / `event.dataset` `google_workspace.login` / `.saml`) |
//! | `id.customerId` | `organization.id` |
//! | `actor.email`, `actor.profileId` | `source.user.email` (else `user.email`), `source.user.id` (else `user.id`) |
//! | `ipAddress` | `source.ip` |
//! | `events.type`, `events.name` | `google_workspace.event.type`, `event.action` |
//! | `login` parameters | `google_workspace.login.*`, the `login_` prefix stripped: `challenge_method`, `challenge_status`, `type`, `failure_type`; `is_second_factor` when present |
//! | `saml` parameters | `google_workspace.saml.*`, the `saml_` prefix stripped: `application_name`, `failure_type`, `initiated_by`, `status_code`, `second_level_status_code` |
//!
//! Not in the document: `networkInfo` (the `source.as` / `source.geo` Elastic adds are its own
//! GeoIP lookups, not Google's), and the pipelines copy only `value`, `intValue` and `multiValue`
//! parameters, so `is_second_factor` (a `boolValue`) is lost. Elastic's agent splits an
//! activity's `events` into one document each, so the event's index in a multi-event activity is
//! lost too: a document's id is the activity's, without `#<n>` (UNCONFIRMED that Google writes
//! multi-event `login` / `saml` activities at all).
//!
//! Each key is looked up both as nested objects and as dotted keys (`"event.action"`), or any
//! mix of the two.

use crate::params::{ParamValue, Parameter, Parameters};
use crate::{Activity, Ev, ParseError, Parsed, build};
use serde_json::Value;
use std::borrow::Cow;
use trailproof_model::IdpEvent;

pub(crate) use trailproof_model::ecs::lookup;

/// A scalar as text (strings as written, numbers in decimal); blank is absent.
fn text<'v>(v: &'v Value, path: &str) -> Option<Cow<'v, str>> {
    match lookup(v, path)? {
        Value::String(s) if !s.trim().is_empty() => Some(Cow::Borrowed(s.trim())),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

fn param(v: &Value) -> ParamValue<'_> {
    match v {
        Value::String(s) => ParamValue::Str(Cow::Borrowed(s)),
        Value::Bool(b) => ParamValue::Bool(*b),
        Value::Number(n) => n.as_i64().map_or_else(|| ParamValue::Str(Cow::Owned(n.to_string())), ParamValue::Int),
        Value::Array(items) => ParamValue::Multi(items.iter().filter_map(Value::as_str).map(Cow::Borrowed).collect()),
        Value::Null | Value::Object(_) => ParamValue::Absent,
    }
}

/// `(Elastic key under google_workspace.<app>, Reports API parameter name)`.
const LOGIN_PARAMS: &[(&str, &str)] = &[
    ("challenge_method", "login_challenge_method"),
    ("challenge_status", "login_challenge_status"),
    ("type", "login_type"),
    ("failure_type", "login_failure_type"),
    ("is_second_factor", "is_second_factor"),
];
const SAML_PARAMS: &[(&str, &str)] = &[
    ("application_name", "application_name"),
    ("failure_type", "failure_type"),
    ("initiated_by", "initiated_by"),
    ("status_code", "saml_status_code"),
    ("second_level_status_code", "saml_second_level_status_code"),
];

/// The application a document belongs to: `event.provider`, else its data stream.
fn application<'v>(doc: &'v Value) -> Option<Cow<'v, str>> {
    text(doc, "event.provider").or_else(|| {
        ["data_stream.dataset", "event.dataset"].iter().find_map(|p| {
            let d = text(doc, p)?;
            let app = d.strip_prefix("google_workspace.")?;
            (!app.is_empty()).then(|| Cow::Owned(app.to_owned()))
        })
    })
}

/// One Elastic `google_workspace.login` / `.saml` document.
pub(crate) fn parse(raw: &[u8]) -> Result<Parsed<IdpEvent>, ParseError> {
    let doc: Value = serde_json::from_slice(raw)?;
    if let Some(Value::String(original)) = lookup(&doc, "event.original")
        && let Ok(parsed) = crate::parse_record(original.as_bytes())
    {
        return Ok(parsed);
    }
    let app = application(&doc);
    let action = text(&doc, "event.action");
    if app.is_none() && action.is_none() {
        return Err(ParseError::WrongShape {
            expected: crate::EXPECTED,
            why: "an Elastic document without `event.provider` or `event.action`, and no Reports API `id` object"
                .into(),
        });
    }
    let table = match app.as_deref() {
        Some(a) if a.eq_ignore_ascii_case("saml") => SAML_PARAMS,
        _ => LOGIN_PARAMS,
    };
    let section = match app.as_deref() {
        Some(a) if a.eq_ignore_ascii_case("saml") => "google_workspace.saml",
        _ => "google_workspace.login",
    };
    let params = Parameters {
        list: table
            .iter()
            .filter_map(|(key, name)| {
                let v = lookup(&doc, &format!("{section}.{key}"))?;
                Some(Parameter { name: Cow::Borrowed(*name), value: param(v) })
            })
            .collect(),
    };
    let kind = text(&doc, "google_workspace.event.type");
    let time = text(&doc, "@timestamp");
    let uq = text(&doc, "event.id");
    let customer = text(&doc, "organization.id");
    let email = text(&doc, "source.user.email").or_else(|| text(&doc, "user.email"));
    let profile = text(&doc, "source.user.id").or_else(|| text(&doc, "user.id"));
    let ip = text(&doc, "source.ip");
    let events = vec![Ev { kind: kind.as_deref(), name: action.as_deref(), params: &params }];
    build(&Activity {
        time: time.as_deref(),
        time_field: "@timestamp",
        unique_qualifier: uq.as_deref(),
        unique_qualifier_field: "event.id",
        application: app.as_deref(),
        customer: customer.as_deref(),
        email: email.as_deref(),
        profile_id: profile.as_deref(),
        ip: ip.as_deref(),
        asn: None,
        country: None,
        events,
        from_ecs: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookup_reads_nested_dotted_and_mixed_keys() {
        let v = json!({"event": {"action": "a"}, "source.user.email": "e", "google_workspace": {"login.type": "t"}});
        assert_eq!(lookup(&v, "event.action"), Some(&json!("a")));
        assert_eq!(lookup(&v, "source.user.email"), Some(&json!("e")));
        assert_eq!(lookup(&v, "google_workspace.login.type"), Some(&json!("t")));
        assert_eq!(lookup(&v, "event.id"), None);
    }
}
