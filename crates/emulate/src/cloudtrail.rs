//! CloudTrail `LookupEvents` over the AWS JSON 1.1 protocol: `POST /` with
//! `X-Amz-Target: CloudTrail_20131101.LookupEvents`.

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use trailproof_model::time::Millis;

use crate::data::CtRec;
use crate::faults::Endpoint;
use crate::net::Conn;
use crate::server::{
    Dialect, St, aws_error, decode_cursor, encode_cursor, error_id, json_body, param_hash, set_header, throttled,
};

const TARGETS: &[&str] =
    &["CloudTrail_20131101.LookupEvents", "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents"];
const KEYS: &[&str] =
    &["EventId", "EventName", "ReadOnly", "Username", "EventSource", "ResourceType", "ResourceName", "AccessKeyId"];

#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    p: usize,
    a: Millis,
    h: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    #[serde(default)]
    lookup_attributes: Option<Vec<Attr>>,
    #[serde(default)]
    start_time: Option<Value>,
    #[serde(default)]
    end_time: Option<Value>,
    #[serde(default)]
    event_category: Option<String>,
    #[serde(default)]
    max_results: Option<i64>,
    #[serde(default)]
    next_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Attr {
    attribute_key: String,
    attribute_value: String,
}

/// The region (and access key id) of a SigV4 `Authorization` header's credential scope:
/// `AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/cloudtrail/aws4_request, ...`.
pub(crate) fn sigv4_scope(auth: &str) -> Option<(String, String)> {
    let rest = auth.trim().strip_prefix("AWS4-HMAC-SHA256")?;
    let cred = rest.split(',').map(str::trim).find_map(|p| p.strip_prefix("Credential="))?;
    let parts: Vec<&str> = cred.split('/').collect();
    match parts.as_slice() {
        [akid, _date, region, _service, "aws4_request"] if !akid.is_empty() && !region.is_empty() => {
            Some((akid.to_string(), region.to_string()))
        }
        _ => None,
    }
}

pub(crate) async fn dispatch(
    State(st): State<St>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok()).unwrap_or("");
    if !TARGETS.contains(&target) {
        let msg = if target.is_empty() {
            "Missing X-Amz-Target header".to_string()
        } else {
            format!("Operation {target} is not supported by this emulator")
        };
        return aws_error(StatusCode::BAD_REQUEST, "UnknownOperationException", &msg);
    }
    st.with_faults(&conn, Endpoint::CloudTrail, Dialect::Aws, || async { lookup(&st, &headers, &body) }).await
}

fn epoch_ms(v: &Value) -> Option<Millis> {
    match v {
        Value::Number(n) => n.as_f64().map(|f| (f * 1000.0).round() as Millis),
        Value::String(s) => s
            .parse::<f64>()
            .ok()
            .map(|f| (f * 1000.0).round() as Millis)
            .or_else(|| trailproof_model::time::parse_time(s).ok()),
        _ => None,
    }
}

fn matches(r: &CtRec, attr: Option<&Attr>) -> bool {
    let Some(a) = attr else { return true };
    let v = a.attribute_value.as_str();
    let eq = |f: &Option<String>| f.as_deref() == Some(v);
    match a.attribute_key.as_str() {
        "EventId" => r.event_id == v,
        "EventName" => eq(&r.event_name),
        "ReadOnly" => r.read_only.as_deref() == Some(v.to_ascii_lowercase().as_str()),
        "Username" => eq(&r.username),
        "EventSource" => eq(&r.event_source),
        "AccessKeyId" => eq(&r.access_key_id),
        "ResourceType" => r.resources.iter().any(|(t, _)| eq(t)),
        "ResourceName" => r.resources.iter().any(|(_, n)| eq(n)),
        _ => false,
    }
}

fn event_json(r: &CtRec) -> Value {
    let time = if r.time_ms % 1000 == 0 { json!(r.time_ms / 1000) } else { json!(r.time_ms as f64 / 1000.0) };
    let mut e = json!({
        "EventId": r.event_id,
        "EventTime": time,
        "Resources": r.resources.iter().map(|(t, n)| {
            let mut o = serde_json::Map::new();
            if let Some(t) = t { o.insert("ResourceType".into(), json!(t)); }
            if let Some(n) = n { o.insert("ResourceName".into(), json!(n)); }
            Value::Object(o)
        }).collect::<Vec<_>>(),
        "CloudTrailEvent": &*r.raw,
    });
    for (k, v) in [
        ("EventName", &r.event_name),
        ("ReadOnly", &r.read_only),
        ("AccessKeyId", &r.access_key_id),
        ("EventSource", &r.event_source),
        ("Username", &r.username),
    ] {
        if let (Some(v), Value::Object(m)) = (v, &mut e) {
            m.insert(k.into(), json!(v));
        }
    }
    e
}

fn lookup(st: &St, headers: &HeaderMap, body: &[u8]) -> Response {
    let Some(auth) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return aws_error(StatusCode::FORBIDDEN, "MissingAuthenticationTokenException", "Missing Authentication Token");
    };
    let Some((akid, region)) = sigv4_scope(auth) else {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "IncompleteSignatureException",
            "Authorization header requires 'Credential' parameter of the form AKID/date/region/service/aws4_request.",
        );
    };
    if st.cfg.aws_access_key_id.as_deref().is_some_and(|want| want != akid) {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        );
    }
    let hit = st.limits.cloudtrail.hit(&region);
    if st.cfg.rate_limits && hit.over {
        return throttled(Dialect::Aws, hit.retry_after_s);
    }
    let req: Request = match serde_json::from_slice(if body.is_empty() { b"{}" } else { body }) {
        Ok(r) => r,
        Err(e) => {
            return aws_error(StatusCode::BAD_REQUEST, "SerializationException", &format!("Invalid request body: {e}"));
        }
    };
    let attrs = req.lookup_attributes.unwrap_or_default();
    if attrs.len() > 1 {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "InvalidLookupAttributesException",
            "You can specify at most one lookup attribute.",
        );
    }
    let attr = attrs.first();
    if let Some(a) = attr
        && !KEYS.contains(&a.attribute_key.as_str())
    {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "InvalidLookupAttributesException",
            &format!("'{}' is not a valid lookup attribute key.", a.attribute_key),
        );
    }
    let max = req.max_results.unwrap_or(50);
    if !(1..=50).contains(&max) {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "InvalidMaxResultsException",
            "MaxResults must be between 1 and 50.",
        );
    }
    let start = match req.start_time.as_ref().map(epoch_ms) {
        None => None,
        Some(Some(t)) => Some(t),
        Some(None) => {
            return aws_error(StatusCode::BAD_REQUEST, "SerializationException", "StartTime is not a timestamp.");
        }
    };
    let end = match req.end_time.as_ref().map(epoch_ms) {
        None => None,
        Some(Some(t)) => Some(t),
        Some(None) => {
            return aws_error(StatusCode::BAD_REQUEST, "SerializationException", "EndTime is not a timestamp.");
        }
    };
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return aws_error(
            StatusCode::BAD_REQUEST,
            "InvalidTimeRangeException",
            "Start time must be earlier than end time.",
        );
    }
    let insights = match req.event_category.as_deref() {
        None => false,
        Some("insight") => true,
        Some(other) => {
            return aws_error(
                StatusCode::BAD_REQUEST,
                "InvalidEventCategoryException",
                &format!("'{other}' is not a valid event category."),
            );
        }
    };
    let hash = param_hash(&[
        attr.map_or("", |a| a.attribute_key.as_str()),
        attr.map_or("", |a| a.attribute_value.as_str()),
        &format!("{start:?}"),
        &format!("{end:?}"),
        req.event_category.as_deref().unwrap_or(""),
        &region,
    ]);
    let cursor = match req.next_token.as_deref() {
        Some(t) => match decode_cursor::<Cursor>(t) {
            Some(c) if c.h == hash => c,
            _ => {
                return aws_error(
                    StatusCode::BAD_REQUEST,
                    "InvalidNextTokenException",
                    "Invalid NextToken: it must be used with the parameters of the request that returned it.",
                );
            }
        },
        None => Cursor { p: 0, a: st.clock.now_ms(), h: hash },
    };
    let empty = Vec::new();
    let recs = if insights { &empty } else { st.data.cloudtrail.get(&region).unwrap_or(&empty) };
    let ok = |r: &CtRec| {
        start.is_none_or(|s| r.time_ms >= s)
            && end.is_none_or(|e| r.time_ms <= e)
            && st.visible(r.visible_at, cursor.a)
            && matches(r, attr)
    };
    let mut events = Vec::new();
    let mut pos = cursor.p;
    while let Some(r) = recs.get(pos) {
        if events.len() as i64 >= max {
            break;
        }
        pos += 1;
        if ok(r) {
            events.push(event_json(r));
        }
    }
    let more = recs.get(pos..).unwrap_or(&[]).iter().any(ok);
    let mut out = json!({"Events": events});
    if more && let Value::Object(m) = &mut out {
        m.insert("NextToken".into(), json!(encode_cursor(&Cursor { p: pos, ..cursor })));
    }
    let mut r = json_body(StatusCode::OK, out.to_string());
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.1"));
    set_header(&mut r, "x-amzn-requestid", error_id(pos as u64));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_from_credential_scope() {
        let h = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/eu-west-2/cloudtrail/aws4_request, SignedHeaders=host;x-amz-date, Signature=abc";
        assert_eq!(sigv4_scope(h), Some(("AKIDEXAMPLE".into(), "eu-west-2".into())));
        assert_eq!(sigv4_scope("Bearer x"), None);
        assert_eq!(sigv4_scope("AWS4-HMAC-SHA256 Credential=AKID/20260101/cloudtrail/aws4_request"), None);
    }

    #[test]
    fn epoch_seconds_with_fractions() {
        assert_eq!(epoch_ms(&json!(1700000000.5)), Some(1_700_000_000_500));
        assert_eq!(epoch_ms(&json!(1700000000)), Some(1_700_000_000_000));
        assert_eq!(epoch_ms(&json!("2023-11-14T22:13:20Z")), Some(1_700_000_000_000));
        assert_eq!(epoch_ms(&json!(true)), None);
    }
}
