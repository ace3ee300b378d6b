//! Elastic Common Schema documents of the Elastic `okta` integration's `system` data stream
//! (`logs-okta.system-*`), as stored (a search hit's `_source`), usually **without**
//! `event.original`: the ingest pipeline ends with `remove event.original` unless the
//! `preserve_original_event` tag is set (elastic/integrations
//! `packages/okta/data_stream/system/elasticsearch/ingest_pipeline/default.yml`).
//!
//! When `event.original` is kept and holds a LogEvent, that LogEvent is read (it is the source's
//! own text). Otherwise the document's fields are mapped back to the LogEvent the pipeline
//! renamed them from, and read by the same rules:
//!
//! | LogEvent | Elastic field |
//! |---|---|
//! | `uuid` | `okta.uuid`, else `event.id` |
//! | `published` | `@timestamp` (the pipeline's date of `published`) |
//! | `eventType` | `okta.event_type`, else `event.action` |
//! | `actor.{id,type,alternateId,displayName}` | `okta.actor.{id,type,alternate_id,display_name}` |
//! | `client.ipAddress` | `okta.client.ip`, else `client.ip` |
//! | `client.userAgent.rawUserAgent` | `okta.client.user_agent.raw_user_agent`, else `user_agent.original` |
//! | `client.geographicalContext.country` | `client.geo.country_name` (`source.geo` is Elastic's own GeoIP: not read) |
//! | `outcome.{result,reason}` | `okta.outcome.{result,reason}` |
//! | `target[]` | `okta.target[]` with `id`, `type`, `alternate_id`, `display_name` (camelCase kept by older pipelines) and, where kept, `detailEntry.methodTypeUsed` (the current pipeline removes `detailEntry`) |
//! | `authenticationContext.{credentialType,externalSessionId}` | `okta.authentication_context.{credential_type,external_session_id}` |
//! | `securityContext.{asNumber,asOrg}` | `okta.security_context.as.number`, `okta.security_context.as.organization.name` |
//! | `debugContext.debugData.factor` | `okta.debug_context.debug_data.factor`, else `…debug_data.flattened.factor` |
//! | `request.ipChain[]` | `okta.request.ip_chain[]` with `ip`, `geographical_context.country` |
//!
//! Each key is looked up both as nested objects and as dotted keys (`"okta.uuid"`), or any mix.

use crate::raw::{
    Asn, AuthContext, Client, DebugContext, DebugData, DetailEntry, Entity, Geo, IpHop, LogEvent, Loose, OutcomeRaw,
    Request, SecurityContext, Text, UserAgent, parse_asn,
};
use serde_json::Value;
use std::borrow::Cow;
use trailproof_model::{IdpEvent, ParseError, Parsed};

pub(crate) use trailproof_model::ecs::lookup;

/// A scalar as [`Text`]: strings borrowed, numbers and booleans rendered; anything else absent.
fn text<'v>(v: &'v Value, path: &str) -> Text<'v> {
    Text(match lookup(v, path) {
        Some(Value::String(s)) => Some(Cow::Borrowed(s.as_str())),
        Some(Value::Number(n)) => Some(Cow::Owned(n.to_string())),
        Some(Value::Bool(b)) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        _ => None,
    })
}

/// The first of several paths that holds a value.
fn first<'v>(v: &'v Value, paths: &[&str]) -> Text<'v> {
    paths.iter().map(|p| text(v, p)).find(|t| t.get().is_some()).unwrap_or_default()
}

/// Whether a document without `eventType` is an Elastic one.
pub(crate) fn looks_ecs(doc: &Value) -> bool {
    doc.as_object().is_some_and(|o| {
        o.keys().any(|k| {
            k == "okta" || k == "event" || k == "@timestamp" || k.starts_with("okta.") || k.starts_with("event.")
        })
    })
}

/// An actor or target: its fields under `prefix` (`okta.actor.`, or `` for an array element).
fn entity<'v>(v: &'v Value, prefix: &str) -> Entity<'v> {
    let at = |names: &[&str]| -> Text<'v> {
        let paths: Vec<String> = names.iter().map(|n| format!("{prefix}{n}")).collect();
        paths.iter().map(|p| text(v, p)).find(|t| t.get().is_some()).unwrap_or_default()
    };
    let detail = ["detailEntry", "detail_entry"]
        .iter()
        .find_map(|k| lookup(v, &format!("{prefix}{k}")))
        .filter(|d| d.is_object());
    Entity {
        id: at(&["id"]),
        kind: at(&["type"]),
        alternate_id: at(&["alternate_id", "alternateId"]),
        display_name: at(&["display_name", "displayName"]),
        detail_entry: Loose(
            detail.map(|d| DetailEntry { method_type_used: first(d, &["methodTypeUsed", "method_type_used"]) }),
        ),
    }
}

fn objects<'v>(v: &'v Value, path: &str) -> Option<Vec<&'v Value>> {
    match lookup(v, path)? {
        Value::Array(items) => Some(items.iter().filter(|i| i.is_object()).collect()),
        o @ Value::Object(_) => Some(vec![o]),
        _ => None,
    }
}

/// The LogEvent an Elastic document was made from, as far as the document carries it.
fn log_event(doc: &Value) -> LogEvent<'_> {
    let asn = match lookup(doc, "okta.security_context.as.number") {
        Some(Value::Number(n)) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Some(Value::String(s)) => parse_asn(s),
        _ => None,
    };
    LogEvent {
        uuid: first(doc, &["okta.uuid", "event.id"]),
        published: text(doc, "@timestamp"),
        event_type: first(doc, &["okta.event_type", "event.action"]),
        actor: Some(entity(doc, "okta.actor."))
            .filter(|a| [&a.id, &a.kind, &a.alternate_id, &a.display_name].iter().any(|t| t.get().is_some())),
        client: Some(Client {
            ip_address: first(doc, &["okta.client.ip", "client.ip"]),
            user_agent: Some(UserAgent {
                raw_user_agent: first(doc, &["okta.client.user_agent.raw_user_agent", "user_agent.original"]),
            }),
            geographical_context: Some(Geo { country: text(doc, "client.geo.country_name") }),
        }),
        outcome: Some(OutcomeRaw {
            result: text(doc, "okta.outcome.result"),
            reason: text(doc, "okta.outcome.reason"),
        }),
        target: objects(doc, "okta.target").map(|t| t.into_iter().map(|e| Some(entity(e, ""))).collect()),
        authentication_context: Some(AuthContext {
            credential_type: text(doc, "okta.authentication_context.credential_type"),
            external_session_id: text(doc, "okta.authentication_context.external_session_id"),
        }),
        security_context: Some(SecurityContext {
            as_number: Asn(asn),
            as_org: text(doc, "okta.security_context.as.organization.name"),
        }),
        debug_context: Some(DebugContext {
            debug_data: Loose(Some(DebugData {
                factor: first(
                    doc,
                    &["okta.debug_context.debug_data.factor", "okta.debug_context.debug_data.flattened.factor"],
                ),
            })),
        }),
        request: objects(doc, "okta.request.ip_chain").map(|hops| Request {
            ip_chain: Some(
                hops.into_iter()
                    .map(|h| {
                        Some(IpHop {
                            ip: text(h, "ip"),
                            geographical_context: Some(Geo {
                                country: first(h, &["geographical_context.country", "geographicalContext.country"]),
                            }),
                        })
                    })
                    .collect(),
            ),
        }),
    }
}

/// One Elastic `okta.system` document.
pub(crate) fn parse(doc: &Value) -> Result<Parsed<IdpEvent>, ParseError> {
    if let Some(Value::String(original)) = lookup(doc, "event.original")
        && let Ok(parsed) = crate::parse_record(original.as_bytes())
    {
        return Ok(parsed);
    }
    let ev = log_event(doc);
    crate::read(
        &ev,
        &crate::FieldNames {
            event_type: "okta.event_type` or `event.action",
            uuid: "okta.uuid",
            published: "@timestamp",
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lookup_reads_nested_dotted_and_mixed_keys() {
        let v = json!({"okta": {"uuid": "u", "actor.id": "a"}, "event.action": "x"});
        assert_eq!(lookup(&v, "okta.uuid"), Some(&json!("u")));
        assert_eq!(lookup(&v, "okta.actor.id"), Some(&json!("a")));
        assert_eq!(lookup(&v, "event.action"), Some(&json!("x")));
        assert_eq!(lookup(&v, "okta.target"), None);
    }
}
