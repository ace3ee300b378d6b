//! Reading what vendors put in headers and error bodies.

use reqwest::header::HeaderMap;
use serde_json::Value;

use crate::secret::redact;

/// A vendor's error, read from an error body: its code and a one-line summary.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VendorError {
    /// Okta `errorCode`, Graph `error.code`, Google `error.errors[0].reason` (else `error.status`),
    /// OAuth `error`.
    pub code: Option<String>,
    /// The code and the vendor's summary, e.g. `E0000011: Invalid token provided`.
    pub message: String,
}

const MAX_MESSAGE: usize = 400;

fn s(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::trim).filter(|t| !t.is_empty()).map(str::to_string)
}

/// Reads the error body of any of the vendors (Okta, OAuth token endpoints, Graph, Google). The
/// text is redacted, stripped of control characters and cut to a few hundred characters.
pub fn vendor_error(body: &[u8]) -> VendorError {
    let (code, summary) = match serde_json::from_slice::<Value>(body) {
        Ok(v) => read(&v),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let t = text.split_whitespace().collect::<Vec<_>>().join(" ");
            (None, if t.is_empty() { "(empty body)".to_string() } else { t })
        }
    };
    finish(code, summary)
}

/// The code and summary, redacted (before they are cut, so no secret is ever half shown), on
/// one line, cut to a few hundred characters.
fn finish(code: Option<String>, summary: String) -> VendorError {
    let message = match &code {
        Some(c) if !summary.starts_with(c.as_str()) => format!("{c}: {summary}"),
        _ => summary,
    };
    let mut message = redact(&message).replace('\n', " ");
    if message.chars().count() > MAX_MESSAGE {
        message = message.chars().take(MAX_MESSAGE).collect::<String>() + "…";
    }
    VendorError { code: code.map(|c| redact(&c).replace('\n', " ")), message }
}

/// Reads the error body of an authentication endpoint (an OAuth token endpoint). Its request
/// carried the credentials, so whatever echoes them (a proxy's or WAF's error page, a server
/// that quotes the request) must not reach a message: only the OAuth error fields are read
/// (`error`, `error_description`, RFC 6749 §5.2; Okta's `errorCode` / `errorSummary`), redacted;
/// any other body is described by its size only.
pub fn auth_error(body: &[u8]) -> VendorError {
    let v: Option<Value> = serde_json::from_slice(body).ok();
    let field = |k: &str| v.as_ref().and_then(|v| s(v.get(k)));
    let (code, summary) = match (field("error"), field("errorCode")) {
        (Some(code), _) => (Some(code), field("error_description").unwrap_or_default()),
        (None, Some(code)) => (Some(code), field("errorSummary").unwrap_or_default()),
        (None, None) => (
            None,
            format!(
                "a body of {} bytes that is not an OAuth error (not shown: an authentication endpoint's answer may echo the credentials)",
                body.len()
            ),
        ),
    };
    finish(code, summary)
}

fn read(v: &Value) -> (Option<String>, String) {
    // Okta: {"errorCode","errorSummary","errorCauses":[{"errorSummary"}]}
    if let Some(code) = s(v.get("errorCode")) {
        let mut m = s(v.get("errorSummary")).unwrap_or_default();
        let causes: Vec<String> = v
            .get("errorCauses")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(|c| s(c.get("errorSummary"))).collect())
            .unwrap_or_default();
        if !causes.is_empty() {
            m = format!("{m} ({})", causes.join("; "));
        }
        return (Some(code), m);
    }
    match v.get("error") {
        // OAuth: {"error":"invalid_client","error_description":"..."}
        Some(Value::String(code)) => {
            let d = s(v.get("error_description")).unwrap_or_default();
            (Some(code.clone()), d)
        }
        // Elasticsearch / OpenSearch: {"error":{"root_cause":[{"type","reason"}],"type","reason"},"status":404}
        // (elastic.co/docs/reference/elasticsearch/rest-apis/api-conventions, "Error responses"
        // UNCONFIRMED page name): the type is the code; a root cause of another type is named too.
        Some(e @ Value::Object(_)) if s(e.get("type")).is_some() => {
            let code = s(e.get("type"));
            let mut m = s(e.get("reason")).unwrap_or_default();
            let roots: Vec<String> = e
                .get("root_cause")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|c| {
                            let t = s(c.get("type"))?;
                            (Some(&t) != code.as_ref()).then(|| match s(c.get("reason")) {
                                Some(r) => format!("{t}: {r}"),
                                None => t,
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            if let Some(first) = roots.first() {
                m = format!("{m} (root cause {first})");
            }
            (code, m)
        }
        Some(e @ Value::Object(_)) => {
            // Google: {"error":{"code":403,"message","errors":[{"reason"}],"status"}}
            let reason =
                e.get("errors").and_then(Value::as_array).and_then(|a| a.first()).and_then(|x| s(x.get("reason")));
            let code = match e.get("code") {
                // Graph: {"error":{"code":"Authorization_RequestDenied","message"}}
                Some(Value::String(c)) => Some(c.clone()),
                _ => reason.or_else(|| s(e.get("status"))),
            };
            (code, s(e.get("message")).unwrap_or_default())
        }
        _ => (None, v.to_string()),
    }
}

/// The `rel="next"` target of the `Link` header(s): `<https://...>; rel="next"`.
pub fn link_next(headers: &HeaderMap) -> Option<String> {
    for value in headers.get_all("link") {
        let Ok(text) = value.to_str() else { continue };
        // Links are comma separated; a URL in <...> may itself contain commas, so split on '<'.
        for part in text.split('<').skip(1) {
            let Some((target, params)) = part.split_once('>') else { continue };
            let is_next = params.split(';').any(|p| {
                let p = p.trim().trim_end_matches(',').trim();
                let Some((k, v)) = p.split_once('=') else { return false };
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim().trim_matches('"').split_whitespace().any(|r| r.eq_ignore_ascii_case("next"))
            });
            if is_next {
                return Some(target.trim().to_string());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn okta_error_body() {
        let e = vendor_error(
            br#"{"errorCode":"E0000031","errorSummary":"Invalid search criteria.","errorCauses":[{"errorSummary":"filter: bad"}]}"#,
        );
        assert_eq!(e.code.as_deref(), Some("E0000031"));
        assert_eq!(e.message, "E0000031: Invalid search criteria. (filter: bad)");
    }

    #[test]
    fn oauth_graph_google_bodies() {
        let e = vendor_error(
            br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#,
        );
        assert_eq!(e.code.as_deref(), Some("invalid_client"));
        assert_eq!(e.message, "invalid_client: AADSTS7000215: Invalid client secret provided.");
        let e =
            vendor_error(br#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges"}}"#);
        assert_eq!(e.code.as_deref(), Some("Authorization_RequestDenied"));
        assert_eq!(e.message, "Authorization_RequestDenied: Insufficient privileges");
        let e = vendor_error(
            br#"{"error":{"code":403,"message":"Not Authorized to access this resource/api","errors":[{"reason":"forbidden"}],"status":"PERMISSION_DENIED"}}"#,
        );
        assert_eq!(e.code.as_deref(), Some("forbidden"));
        assert_eq!(e.message, "forbidden: Not Authorized to access this resource/api");
    }

    #[test]
    fn elasticsearch_error_body() {
        let e = vendor_error(
            br#"{"error":{"root_cause":[{"type":"search_context_missing_exception","reason":"No search context found for id [7]"}],"type":"search_phase_execution_exception","reason":"all shards failed"},"status":404}"#,
        );
        assert_eq!(e.code.as_deref(), Some("search_phase_execution_exception"));
        assert_eq!(
            e.message,
            "search_phase_execution_exception: all shards failed (root cause search_context_missing_exception: No search context found for id [7])"
        );
        let e = vendor_error(
            br#"{"error":{"root_cause":[{"type":"es_rejected_execution_exception","reason":"rejected"}],"type":"es_rejected_execution_exception","reason":"rejected"},"status":429}"#,
        );
        assert_eq!(e.message, "es_rejected_execution_exception: rejected");
    }

    #[test]
    fn non_json_bodies_are_summarised() {
        let e = vendor_error(b"<html>\n<body>Bad Gateway</body></html>");
        assert_eq!(e.code, None);
        assert_eq!(e.message, "<html> <body>Bad Gateway</body></html>");
        assert_eq!(vendor_error(b"").message, "(empty body)");
        let long = vec![b'x'; 1000];
        assert!(vendor_error(&long).message.chars().count() <= MAX_MESSAGE + 1);
    }

    #[test]
    fn an_authentication_endpoint_body_is_never_echoed() {
        let e =
            auth_error(br#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret."}"#);
        assert_eq!(e.message, "invalid_client: AADSTS7000215: Invalid client secret.");
        let page = b"<html><body>Request rejected: POST /token client_secret=hunter2%7Exyz&grant_type=client_credentials</body></html>";
        let e = auth_error(page);
        assert_eq!(e.code, None);
        assert!(!e.message.contains("hunter2") && !e.message.contains("client_secret"), "{}", e.message);
        assert!(e.message.contains(&format!("a body of {} bytes", page.len())), "{}", e.message);
        // A JSON body without the OAuth fields is not echoed either.
        assert!(!auth_error(br#"{"echo":"assertion=eyJ..."}"#).message.contains("eyJ"));
    }

    #[test]
    fn a_secret_across_the_cut_is_redacted_whole() {
        let secret = crate::Secret::new("S3cr3t-near-the-cut-0123456789");
        let body = format!("{} {}", "x".repeat(MAX_MESSAGE - 10), secret.expose());
        let e = vendor_error(body.as_bytes());
        assert!(!e.message.contains("S3cr3t"), "{}", e.message);
    }

    #[test]
    fn link_header_next() {
        let mut h = HeaderMap::new();
        h.append(
            "link",
            HeaderValue::from_static(
                r#"<https://x.okta.com/api/v1/logs?limit=2&filter=a,b>; rel="self", <https://x.okta.com/api/v1/logs?after=123&limit=2>; rel="next""#,
            ),
        );
        assert_eq!(link_next(&h).as_deref(), Some("https://x.okta.com/api/v1/logs?after=123&limit=2"));
        let mut h = HeaderMap::new();
        h.append("link", HeaderValue::from_static(r#"<https://x/self>; rel="self""#));
        assert_eq!(link_next(&h), None);
        h.append("link", HeaderValue::from_static(r#"<https://x/n>; rel=next"#));
        assert_eq!(link_next(&h).as_deref(), Some("https://x/n"));
    }
}
