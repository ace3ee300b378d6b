//! Okta: `GET /api/v1/logs` (System Log) and `POST /oauth2/v1/token` (client_credentials with
//! a private_key_jwt client assertion).

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use trailproof_model::time::{Millis, parse_time};

use crate::data::OktaRec;
use crate::faults::Endpoint;
use crate::jwt::{self, JwtFail};
use crate::net::Conn;
use crate::scim::{self, Filter};
use crate::server::{
    AuthFail, Dialect, St, TokenKind, auth_value, base_url, decode_cursor, encode_cursor, get, json_body, json_value,
    oauth_error, okta_error, param_hash, query_pairs, set_header, throttled,
};

const LOGS_SCOPE: &str = "okta.logs.read";
const SEVEN_DAYS_MS: Millis = 7 * 24 * 3600 * 1000;

#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    /// 0 = polling (persistence order), 1 = bounded ascending, 2 = bounded descending.
    m: u8,
    /// Polling / ascending: next position; descending: exclusive upper position.
    p: usize,
    s: Millis,
    u: Millis,
    /// Snapshot time of a bounded query.
    a: Millis,
    h: u64,
}

pub(crate) async fn logs(
    State(st): State<St>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let hit = st.limits.okta.hit("org");
    let mut resp = st
        .with_faults(&conn, Endpoint::OktaLogs, Dialect::Okta, || async {
            if let Some(r) = authorize(&st, &headers) {
                return r;
            }
            if st.cfg.rate_limits && hit.over {
                return throttled(Dialect::Okta, hit.retry_after_s);
            }
            list(&st, &headers, &uri)
        })
        .await;
    let remaining = if resp.status() == StatusCode::TOO_MANY_REQUESTS { 0 } else { hit.remaining };
    set_header(&mut resp, "x-rate-limit-limit", hit.limit);
    set_header(&mut resp, "x-rate-limit-remaining", remaining);
    set_header(&mut resp, "x-rate-limit-reset", hit.reset_epoch_s);
    resp
}

/// `None` when the request is authorized, else the 401 to send.
fn authorize(st: &St, headers: &HeaderMap) -> Option<Response> {
    if let Some(t) = auth_value(headers, "SSWS") {
        if t == st.cfg.okta_token {
            return None;
        }
        return Some(okta_error(StatusCode::UNAUTHORIZED, "E0000011", "Invalid token provided"));
    }
    if let Some(t) = auth_value(headers, "Bearer") {
        if t == st.cfg.okta_token {
            return None;
        }
        let why = match st.check_token(&t, |k| *k == TokenKind::Okta) {
            Ok(_) => return None,
            Err(AuthFail::Expired) => "The token has expired.",
            Err(_) => "The access token is invalid.",
        };
        let mut r = okta_error(StatusCode::UNAUTHORIZED, "E0000011", "Invalid token provided");
        set_header(
            &mut r,
            "www-authenticate",
            format!(
                "Bearer authorization_uri=\"{}/oauth2/v1/authorize\", realm=\"IdpError\", error=\"invalid_token\", error_description=\"{why}\", resource=\"/api/v1/logs\"",
                base_url(headers, st.cfg.listen)
            ),
        );
        return Some(r);
    }
    Some(okta_error(StatusCode::UNAUTHORIZED, "E0000011", "Invalid token provided"))
}

fn bad_filter(cause: &str) -> Response {
    json_value(
        StatusCode::BAD_REQUEST,
        &json!({"errorCode": "E0000031", "errorSummary": "Invalid search criteria.", "errorLink": "E0000031",
                "errorId": crate::server::error_id(31), "errorCauses": [{"errorSummary": cause}]}),
    )
}

fn validation_error(summary: &str, cause: &str) -> Response {
    json_value(
        StatusCode::BAD_REQUEST,
        &json!({"errorCode": "E0000001", "errorSummary": format!("Api validation failed: {summary}"),
                "errorLink": "E0000001", "errorId": crate::server::error_id(1),
                "errorCauses": [{"errorSummary": cause}]}),
    )
}

struct Matcher {
    filter: Option<Filter>,
    keywords: Vec<String>,
}

impl Matcher {
    fn matches(&self, r: &OktaRec) -> bool {
        if !self.keywords.is_empty() {
            let text = r.raw.to_lowercase();
            if !self.keywords.iter().all(|k| text.contains(k.as_str())) {
                return false;
            }
        }
        let Some(f) = &self.filter else { return true };
        if f.only_event_type() {
            let et: Vec<Value> = r.event_type.iter().map(|s| Value::String(s.clone())).collect();
            return f.eval(&|_| et.clone());
        }
        let Ok(doc) = serde_json::from_str::<Value>(&r.raw) else { return false };
        f.eval(&|p| scim::values_at(&doc, p))
    }
}

fn list(st: &St, headers: &HeaderMap, uri: &Uri) -> Response {
    let q = query_pairs(uri.query());
    let limit = match get(&q, "limit") {
        None => 100,
        Some(l) => match l.parse::<usize>() {
            Ok(n) if n <= 1000 => n,
            _ => return validation_error("limit", "limit: The limit must be a number between 0 and 1000."),
        },
    };
    let sort = get(&q, "sortOrder").unwrap_or("ASCENDING");
    let descending = match sort {
        "ASCENDING" => false,
        "DESCENDING" => true,
        _ => return validation_error("sortOrder", "sortOrder: must be ASCENDING or DESCENDING."),
    };
    let filter_s = get(&q, "filter").unwrap_or("");
    let q_s = get(&q, "q").unwrap_or("");
    let filter = if filter_s.trim().is_empty() {
        None
    } else {
        match scim::parse(filter_s) {
            Ok(f) => Some(f),
            Err(e) => return bad_filter(&format!("filter: {e}")),
        }
    };
    let keywords: Vec<String> = q_s.split_whitespace().map(str::to_lowercase).collect();
    if keywords.len() > 10 || keywords.iter().any(|k| k.chars().count() > 40) {
        return bad_filter("q: at most 10 keywords of at most 40 characters each.");
    }
    let matcher = Matcher { filter, keywords };
    let hash = param_hash(&[filter_s, q_s, sort]);
    let now = st.clock.now_ms();
    let okta = &st.data.okta;

    let cursor = match get(&q, "after") {
        Some(after) => {
            if get(&q, "since").is_some() {
                return validation_error("after", "after: since and after cannot be used together.");
            }
            match decode_cursor::<Cursor>(after) {
                Some(c) if c.h == hash => c,
                _ => return validation_error("after", "after: invalid cursor for this query."),
            }
        }
        None => {
            let until = match get(&q, "until").map(parse_time) {
                None => None,
                Some(Ok(t)) => Some(t),
                Some(Err(e)) => return validation_error("until", &format!("until: {e}")),
            };
            let since = match get(&q, "since").map(parse_time) {
                None => until.unwrap_or(now) - SEVEN_DAYS_MS,
                Some(Ok(t)) => t,
                Some(Err(e)) => return validation_error("since", &format!("since: {e}")),
            };
            if until.is_some_and(|u| since > u) {
                return validation_error("since", "since: must be before until.");
            }
            match (until, descending) {
                (None, false) => {
                    let hides = st.hides_future();
                    let persisted = |i: &usize| {
                        okta.get(*i).map_or(Millis::MAX, |r| if hides { r.visible_at } else { r.published })
                    };
                    let p = st.data.okta_poll.partition_point(|i| persisted(i) < since);
                    Cursor { m: 0, p, s: since, u: 0, a: now, h: hash }
                }
                (until, desc) => {
                    let u = until.unwrap_or(now + 1);
                    let p = if desc {
                        okta.partition_point(|r| r.published < u)
                    } else {
                        okta.partition_point(|r| r.published < since)
                    };
                    Cursor { m: if desc { 2 } else { 1 }, p, s: since, u, a: now, h: hash }
                }
            }
        }
    };

    let mut items: Vec<&str> = Vec::new();
    let (next, more) = match cursor.m {
        0 => {
            let hides = st.hides_future();
            let order = &st.data.okta_poll;
            let mut i = cursor.p;
            while let Some(r) = order.get(i).and_then(|&k| okta.get(k)) {
                if items.len() >= limit || (hides && r.visible_at > now) {
                    break;
                }
                i += 1;
                if matcher.matches(r) {
                    items.push(&r.raw);
                }
            }
            (Cursor { p: i, ..cursor }, true)
        }
        1 => {
            let ok = |r: &OktaRec| r.published < cursor.u && st.visible(r.visible_at, cursor.a) && matcher.matches(r);
            let mut i = cursor.p;
            while let Some(r) = okta.get(i) {
                if r.published >= cursor.u || items.len() >= limit {
                    break;
                }
                i += 1;
                if ok(r) {
                    items.push(&r.raw);
                }
            }
            let more = okta.get(i..).unwrap_or(&[]).iter().take_while(|r| r.published < cursor.u).any(ok);
            (Cursor { p: i, ..cursor }, more)
        }
        _ => {
            let ok = |r: &OktaRec| r.published >= cursor.s && st.visible(r.visible_at, cursor.a) && matcher.matches(r);
            let mut hi = cursor.p.min(okta.len());
            while hi > 0 && items.len() < limit {
                let Some(r) = okta.get(hi - 1) else { break };
                if r.published < cursor.s {
                    hi = 0;
                    break;
                }
                hi -= 1;
                if ok(r) {
                    items.push(&r.raw);
                }
            }
            let more = okta.get(..hi).unwrap_or(&[]).iter().rev().take_while(|r| r.published >= cursor.s).any(ok);
            (Cursor { p: hi, ..cursor }, more)
        }
    };

    let base = base_url(headers, st.cfg.listen);
    let self_url = format!("{base}{}", uri.path_and_query().map_or("/api/v1/logs", |p| p.as_str()));
    let mut link = format!("<{self_url}>; rel=\"self\"");
    if more {
        let mut u = url::form_urlencoded::Serializer::new(String::new());
        u.append_pair("limit", &limit.to_string());
        if !filter_s.is_empty() {
            u.append_pair("filter", filter_s);
        }
        if !q_s.is_empty() {
            u.append_pair("q", q_s);
        }
        if get(&q, "sortOrder").is_some() {
            u.append_pair("sortOrder", sort);
        }
        u.append_pair("after", &encode_cursor(&next));
        link.push_str(&format!(", <{base}/api/v1/logs?{}>; rel=\"next\"", u.finish()));
    }
    let mut body = String::with_capacity(items.iter().map(|s| s.len() + 1).sum::<usize>() + 2);
    body.push('[');
    body.push_str(&items.join(","));
    body.push(']');
    let mut r = json_body(StatusCode::OK, body);
    set_header(&mut r, "link", link);
    r
}

/// `POST /oauth2/v1/token`: client_credentials with a private_key_jwt client assertion.
pub(crate) async fn token(State(st): State<St>, ConnectInfo(conn): ConnectInfo<Conn>, body: Bytes) -> Response {
    st.with_faults(&conn, Endpoint::OktaToken, Dialect::OAuth, || async { mint(&st, &body) }).await
}

fn mint(st: &St, body: &[u8]) -> Response {
    let form = query_pairs(std::str::from_utf8(body).ok());
    let grant = get(&form, "grant_type").unwrap_or("");
    if grant != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!(
                "The authorization grant type is not supported by the authorization server. Configured grant types: [client_credentials]. Got: {grant:?}."
            ),
        );
    }
    let invalid_client = |d: &str| oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", d);
    if get(&form, "client_assertion_type") != Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer") {
        return invalid_client(
            "Client authentication failed. Either the client or the client credentials are invalid.",
        );
    }
    let Some(assertion) = get(&form, "client_assertion") else {
        return invalid_client(
            "Client authentication failed. Either the client or the client credentials are invalid.",
        );
    };
    let claims = match jwt::verify(assertion, st.cfg.okta_client_public_key_pem.as_deref(), 3600) {
        Ok(c) => c,
        Err(JwtFail::Signature) => return invalid_client("The client_assertion signature is invalid."),
        Err(JwtFail::Expired) => return invalid_client("The client_assertion token is expired."),
        Err(JwtFail::Lifetime) => {
            return invalid_client("The client_assertion token has an expiration too far into the future.");
        }
        Err(JwtFail::Malformed(e)) => return invalid_client(&format!("The client_assertion is not a valid JWT: {e}")),
    };
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or("");
    if iss.is_empty() || iss != sub {
        return invalid_client("The client_assertion token must have the same 'iss' and 'sub' claims (the client id).");
    }
    if let Some(want) = &st.cfg.okta_client_id
        && iss != want
    {
        return invalid_client("The client_assertion 'iss' is not a known client id.");
    }
    if let Some(cid) = get(&form, "client_id")
        && cid != iss
    {
        return invalid_client("The client_id does not match the client_assertion issuer.");
    }
    if !jwt::audiences(&claims).iter().any(|a| a.ends_with("/oauth2/v1/token")) {
        return invalid_client("The audience claim for client_assertion must be the endpoint invoked for the request.");
    }
    let scopes: Vec<&str> = get(&form, "scope").unwrap_or("").split_whitespace().collect();
    if scopes.is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "The authorization server resource does not have any configured default scopes, 'scope' must be provided.",
        );
    }
    let unknown: Vec<&str> = scopes.iter().copied().filter(|s| !s.starts_with("okta.")).collect();
    if !unknown.is_empty() || !scopes.contains(&LOGS_SCOPE) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            &format!("The following scopes are not allowed: [{}]", scopes.join(", ")),
        );
    }
    let (token, expires_in) = st.mint("okta-at-", TokenKind::Okta);
    json_value(
        StatusCode::OK,
        &json!({"token_type": "Bearer", "expires_in": expires_in, "access_token": token, "scope": scopes.join(" ")}),
    )
}
