//! Google: `POST /token` (service-account JWT-bearer grant) and the Admin SDK Reports API
//! `GET /admin/reports/v1/activity/users/{userKey}/applications/{applicationName}`.

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use trailproof_model::time::{Millis, parse_time};

use crate::data::GoogleRec;
use crate::faults::Endpoint;
use crate::jwt::{self, JwtFail};
use crate::net::Conn;
use crate::server::{
    AuthFail, Dialect, St, TokenKind, base_url, decode_cursor, encode_cursor, get, google_error, json_body, json_value,
    oauth_error, param_hash, query_pairs,
};

pub(crate) const REPORTS_SCOPE: &str = "https://www.googleapis.com/auth/admin.reports.audit.readonly";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const GOOGLE_AUDIENCES: &[&str] = &[
    "https://oauth2.googleapis.com/token",
    "https://accounts.google.com/o/oauth2/token",
    "https://www.googleapis.com/oauth2/v4/token",
];
const APPLICATIONS: &[&str] = &[
    "access_transparency",
    "admin",
    "calendar",
    "chat",
    "chrome",
    "context_aware_access",
    "data_studio",
    "drive",
    "gcp",
    "gplus",
    "groups",
    "groups_enterprise",
    "jamboard",
    "keep",
    "login",
    "meet",
    "mobile",
    "rules",
    "saml",
    "token",
    "user_accounts",
    "vault",
];

pub(crate) async fn token(
    State(st): State<St>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    st.with_faults(&conn, Endpoint::GoogleToken, Dialect::OAuth, || async { mint(&st, &headers, &body) }).await
}

fn mint(st: &St, headers: &HeaderMap, body: &[u8]) -> Response {
    let form = query_pairs(std::str::from_utf8(body).ok());
    let grant = get(&form, "grant_type").unwrap_or("");
    if grant != JWT_BEARER {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", &format!("Invalid grant_type: {grant}"));
    }
    let Some(assertion) = get(&form, "assertion") else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request", "Missing required parameter: assertion");
    };
    let grant_err = |d: &str| oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", d);
    let claims = match jwt::verify(assertion, st.cfg.google_public_key_pem.as_deref(), 3600) {
        Ok(c) => c,
        Err(JwtFail::Signature) => return grant_err("Invalid JWT Signature."),
        Err(JwtFail::Expired | JwtFail::Lifetime) => {
            return grant_err(
                "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.",
            );
        }
        Err(JwtFail::Malformed(e)) => return grant_err(&format!("Invalid JWT: {e}")),
    };
    let own = format!("{}/token", base_url(headers, st.cfg.listen));
    if !jwt::audiences(&claims).iter().any(|a| a == &own || GOOGLE_AUDIENCES.contains(&a.as_str())) {
        return grant_err("Invalid JWT: Failed audience check.");
    }
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or("");
    if iss.is_empty() || st.cfg.google_client_email.as_deref().is_some_and(|want| want != iss) {
        return grant_err("Invalid grant: account not found");
    }
    let sub = claims.get("sub").and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string);
    if let (Some(want), Some(sub)) = (&st.cfg.google_admin, &sub)
        && !want.eq_ignore_ascii_case(sub)
    {
        return grant_err("Invalid email or User ID");
    }
    let scope = claims.get("scope").and_then(Value::as_str).unwrap_or("");
    if scope.trim().is_empty() {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "Invalid OAuth scope or ID token audience provided.",
        );
    }
    if !scope.split_whitespace().any(|s| s == REPORTS_SCOPE) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "unauthorized_client",
            "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.",
        );
    }
    let (token, expires_in) = st.mint("ya29.emu-", TokenKind::Google { sub });
    json_value(StatusCode::OK, &json!({"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}))
}

#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    p: usize,
    a: Millis,
    h: u64,
}

fn invalid(msg: &str) -> Response {
    google_error(StatusCode::BAD_REQUEST, msg, "invalid", "global", "INVALID_ARGUMENT")
}

pub(crate) async fn activities(
    State(st): State<St>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    Path((user_key, app)): Path<(String, String)>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    st.with_faults(&conn, Endpoint::GoogleReports, Dialect::Google, || async {
        match st.bearer(&headers, |k| matches!(k, TokenKind::Google { .. })) {
            Ok(TokenKind::Google { sub: Some(_) }) => {}
            Ok(_) => {
                return google_error(
                    StatusCode::FORBIDDEN,
                    "Not Authorized to access this resource/api",
                    "forbidden",
                    "global",
                    "PERMISSION_DENIED",
                );
            }
            Err(AuthFail::Missing) => {
                return google_error(
                    StatusCode::UNAUTHORIZED,
                    "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
                    "required",
                    "global",
                    "UNAUTHENTICATED",
                );
            }
            Err(AuthFail::Invalid | AuthFail::Expired) => {
                return google_error(
                    StatusCode::UNAUTHORIZED,
                    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
                    "authError",
                    "global",
                    "UNAUTHENTICATED",
                );
            }
        }
        let hit = st.limits.google.hit("project");
        if st.cfg.rate_limits && hit.over {
            return crate::server::google_quota_503(hit.retry_after_s);
        }
        list(&st, &uri, &user_key, &app)
    })
    .await
}

/// `filters=name==value,name<>value,n>=3`: conditions on one event's parameters.
#[derive(Debug)]
struct Cond {
    name: String,
    op: &'static str,
    value: String,
}

fn parse_filters(s: &str) -> Result<Vec<Cond>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let ops = ["==", "<>", "<=", ">=", "<", ">"];
        let found =
            ops.iter().filter_map(|op| part.find(op).map(|i| (i, *op))).min_by_key(|(i, op)| (*i, 2 - op.len()));
        let Some((i, op)) = found else {
            return Err(format!("Invalid value '{part}' in filters: expected PARAM<op>VALUE"));
        };
        out.push(Cond {
            name: part.get(..i).unwrap_or("").to_string(),
            op,
            value: part.get(i + op.len()..).unwrap_or("").to_string(),
        });
    }
    Ok(out)
}

fn param_values(p: &Value) -> Vec<String> {
    let mut v = Vec::new();
    for k in ["value", "intValue", "boolValue"] {
        match p.get(k) {
            Some(Value::String(s)) => v.push(s.clone()),
            Some(Value::Bool(b)) => v.push(b.to_string()),
            Some(Value::Number(n)) => v.push(n.to_string()),
            _ => {}
        }
    }
    if let Some(Value::Array(m)) = p.get("multiValue") {
        v.extend(m.iter().filter_map(Value::as_str).map(str::to_string));
    }
    v
}

fn cond_holds(c: &Cond, vals: &[String]) -> bool {
    vals.iter().any(|v| match c.op {
        "==" => v.eq_ignore_ascii_case(&c.value),
        "<>" => !v.eq_ignore_ascii_case(&c.value),
        op => match (v.parse::<f64>(), c.value.parse::<f64>()) {
            (Ok(a), Ok(b)) => match op {
                "<" => a < b,
                "<=" => a <= b,
                ">" => a > b,
                _ => a >= b,
            },
            _ => false,
        },
    })
}

fn list(st: &St, uri: &Uri, user_key: &str, app: &str) -> Response {
    if !APPLICATIONS.contains(&app) {
        return invalid(&format!(
            "Invalid value '{app}'. Values must match the following regular expression: '({})'",
            APPLICATIONS.join(")|(")
        ));
    }
    let q = query_pairs(uri.query());
    let max = match get(&q, "maxResults") {
        None => 1000,
        Some(m) => match m.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => return invalid(&format!("Invalid value '{m}'. Values must be within the range: [1, 1000]")),
        },
    };
    let time_param = |k: &str| -> Result<Option<Millis>, String> {
        match get(&q, k) {
            None => Ok(None),
            Some(t) => parse_time(t).map(Some).map_err(|_| {
                format!(
                    "Invalid value '{t}'. Values must match the following regular expression: '(?:(?:19|20)[0-9]{{2}}-(?:0[1-9]|1[012])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]+)?(?:Z|[+-][01][0-9]:[0-5][0-9]))'"
                )
            }),
        }
    };
    let (start, end) = match (time_param("startTime"), time_param("endTime")) {
        (Ok(s), Ok(e)) => (s, e),
        (Err(m), _) | (_, Err(m)) => return invalid(&m),
    };
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return invalid("Start time must be less than or equal to the end time.");
    }
    let event_name = get(&q, "eventName").filter(|s| !s.is_empty());
    let filters_s = get(&q, "filters").unwrap_or("");
    let conds = match parse_filters(filters_s) {
        Ok(c) => c,
        Err(e) => return invalid(&e),
    };
    let ip = get(&q, "actorIpAddress").filter(|s| !s.is_empty());
    let hash = param_hash(&[
        user_key,
        app,
        get(&q, "startTime").unwrap_or(""),
        get(&q, "endTime").unwrap_or(""),
        event_name.unwrap_or(""),
        filters_s,
        ip.unwrap_or(""),
    ]);
    let cursor = match get(&q, "pageToken") {
        Some(t) => match decode_cursor::<Cursor>(t) {
            Some(c) if c.h == hash => c,
            _ => return invalid("Invalid value for pageToken."),
        },
        None => Cursor { p: 0, a: st.clock.now_ms(), h: hash },
    };
    let now = cursor.a;
    let ok = |r: &GoogleRec| -> bool {
        if r.app != app || !st.visible(r.visible_at, now) {
            return false;
        }
        if start.is_some_and(|s| r.time_ms < s) || end.is_some_and(|e| r.time_ms > e) {
            return false;
        }
        if user_key != "all"
            && !r.email.as_deref().is_some_and(|e| e.eq_ignore_ascii_case(user_key))
            && r.profile_id.as_deref() != Some(user_key)
        {
            return false;
        }
        if ip.is_some() && r.ip.as_deref() != ip {
            return false;
        }
        if let Some(n) = event_name
            && !r.event_names.iter().any(|e| e == n)
        {
            return false;
        }
        if conds.is_empty() {
            return true;
        }
        let Ok(doc) = serde_json::from_str::<Value>(&r.raw) else { return false };
        let events = doc.get("events").and_then(Value::as_array).cloned().unwrap_or_default();
        events.iter().any(|ev| {
            if event_name.is_some_and(|n| ev.get("name").and_then(Value::as_str) != Some(n)) {
                return false;
            }
            let params = ev.get("parameters").and_then(Value::as_array).cloned().unwrap_or_default();
            conds.iter().all(|c| {
                let vals: Vec<String> = params
                    .iter()
                    .filter(|p| p.get("name").and_then(Value::as_str) == Some(c.name.as_str()))
                    .flat_map(param_values)
                    .collect();
                cond_holds(c, &vals)
            })
        })
    };
    let recs = &st.data.google;
    let mut items: Vec<&str> = Vec::new();
    let mut pos = cursor.p;
    while let Some(r) = recs.get(pos) {
        if items.len() >= max {
            break;
        }
        pos += 1;
        if ok(r) {
            items.push(&r.raw);
        }
    }
    let more = recs.get(pos..).unwrap_or(&[]).iter().any(ok);
    let etag = format!("\"emu/{:x}\"", param_hash(&[&pos.to_string(), &hash.to_string()]));
    let mut body = format!("{{\"kind\":\"admin#reports#activities\",\"etag\":{}", Value::String(etag));
    // The Reports API leaves `items` out of an empty page.
    if !items.is_empty() {
        body.push_str(",\"items\":[");
        body.push_str(&items.join(","));
        body.push(']');
    }
    if more {
        body.push_str(",\"nextPageToken\":");
        body.push_str(&Value::String(encode_cursor(&Cursor { p: pos, ..cursor })).to_string());
    }
    body.push('}');
    json_body(StatusCode::OK, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_match() {
        let c = parse_filters("login_type==saml,count>=2,x<>y").unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!((c[0].name.as_str(), c[0].op, c[0].value.as_str()), ("login_type", "==", "saml"));
        assert_eq!((c[1].name.as_str(), c[1].op), ("count", ">="));
        assert!(cond_holds(&c[0], &["SAML".into()]));
        assert!(cond_holds(&c[1], &["3".into()]));
        assert!(!cond_holds(&c[1], &["1".into()]));
        assert!(cond_holds(&c[2], &["z".into()]));
        assert!(parse_filters("nonsense").is_err());
    }
}
