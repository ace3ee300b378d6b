//! Microsoft: `POST /{tenant}/oauth2/v2.0/token` (client_credentials with a client secret) and
//! Graph `GET /beta/auditLogs/signIns` (also `/v1.0/...`, without the beta-only fields).

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use trailproof_model::time::{Millis, format_ms};

use crate::clock::wall_ms;
use crate::faults::Endpoint;
use crate::net::Conn;
use crate::odata::{self, Expr};
use crate::server::{
    AuthFail, Dialect, St, TokenKind, base_url, decode_cursor, encode_cursor, error_id, get, graph_error, json_body,
    json_value, param_hash, query_pairs, set_header, throttled,
};

pub(crate) const GRAPH_DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";
const GRAPH_APP_ID_SCOPE: &str = "00000003-0000-0000-c000-000000000000/.default";

/// Properties that the v1.0 signIn lacks (formats.md 3.1).
const BETA_ONLY: &[&str] = &[
    "authenticationDetails",
    "authenticationRequirement",
    "authenticationRequirementPolicies",
    "authenticationMethodsUsed",
    "authenticationProcessingDetails",
    "userAgent",
    "signInEventTypes",
    "autonomousSystemNumber",
    "sessionId",
    "uniqueTokenIdentifier",
    "authenticationProtocol",
    "isInteractive",
    "mfaDetail",
];

fn aad_error(status: StatusCode, error: &str, code: u32, text: &str) -> Response {
    let now = format_ms(wall_ms());
    let trace = error_id(u64::from(code));
    let corr = error_id(u64::from(code) + 1);
    json_value(
        status,
        &json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {corr} Timestamp: {now}"),
            "error_codes": [code],
            "timestamp": now,
            "trace_id": trace,
            "correlation_id": corr,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        }),
    )
}

pub(crate) async fn token(
    State(st): State<St>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    Path(tenant): Path<String>,
    body: Bytes,
) -> Response {
    st.with_faults(&conn, Endpoint::EntraToken, Dialect::OAuth, || async { mint(&st, &tenant, &body) }).await
}

fn mint(st: &St, tenant: &str, body: &[u8]) -> Response {
    let app = &st.cfg.entra;
    if !tenant.eq_ignore_ascii_case(&app.tenant) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            &format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        );
    }
    let form = query_pairs(std::str::from_utf8(body).ok());
    let grant = get(&form, "grant_type").unwrap_or("");
    if grant != "client_credentials" {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{grant}'."),
        );
    }
    let client_id = get(&form, "client_id").unwrap_or("");
    if !client_id.eq_ignore_ascii_case(&app.client_id) {
        return aad_error(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            700016,
            &format!(
                "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant."
            ),
        );
    }
    match get(&form, "client_secret") {
        None => {
            return aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
            );
        }
        Some(s) if s != app.client_secret => {
            return aad_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                7000215,
                &format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."
                ),
            );
        }
        Some(_) => {}
    }
    match get(&form, "scope") {
        None | Some("") => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: 'scope'.",
            );
        }
        Some(s) if s != GRAPH_DEFAULT_SCOPE && s != GRAPH_APP_ID_SCOPE => {
            return aad_error(
                StatusCode::BAD_REQUEST,
                "invalid_scope",
                1002012,
                &format!(
                    "The provided value for scope {s} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."
                ),
            );
        }
        Some(_) => {}
    }
    let (token, expires_in) =
        st.mint("eyJ0eXAiOiJKV1QiLCJlbXUiOiJlbnRyYSJ9.", TokenKind::Entra { client_id: app.client_id.clone() });
    json_value(
        StatusCode::OK,
        &json!({"token_type": "Bearer", "expires_in": expires_in, "ext_expires_in": expires_in, "access_token": token}),
    )
}

#[derive(Debug, Serialize, Deserialize)]
struct Cursor {
    /// Positions consumed in iteration order.
    p: usize,
    /// Snapshot time.
    a: Millis,
    h: u64,
}

pub(crate) async fn beta(
    State(st): State<St>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    signins(st, conn, headers, uri, true).await
}

pub(crate) async fn v1(
    State(st): State<St>,
    ConnectInfo(conn): ConnectInfo<Conn>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    signins(st, conn, headers, uri, false).await
}

async fn signins(st: St, conn: Conn, headers: HeaderMap, uri: Uri, beta: bool) -> Response {
    st.with_faults(&conn, Endpoint::GraphSignIns, Dialect::Graph, || async {
        let client_id = match st.bearer(&headers, |k| matches!(k, TokenKind::Entra { .. })) {
            Ok(TokenKind::Entra { client_id }) => client_id,
            Ok(_) | Err(AuthFail::Invalid) => {
                return graph_error(
                    StatusCode::UNAUTHORIZED,
                    "InvalidAuthenticationToken",
                    "Access token validation failure.",
                );
            }
            Err(AuthFail::Missing) => {
                return graph_error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationToken", "Access token is empty.");
            }
            Err(AuthFail::Expired) => {
                return graph_error(
                    StatusCode::UNAUTHORIZED,
                    "InvalidAuthenticationToken",
                    "Lifetime validation failed, the token is expired.",
                );
            }
        };
        if !st.cfg.entra_premium {
            return graph_error(
                StatusCode::FORBIDDEN,
                "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
                "Neither tenant is B2C or tenant doesn't have premium license",
            );
        }
        let hit = st.limits.graph.hit(&client_id);
        if st.cfg.rate_limits && hit.over {
            return throttled(Dialect::Graph, hit.retry_after_s);
        }
        list(&st, &headers, &uri, beta)
    })
    .await
}

fn bad_request(msg: &str) -> Response {
    graph_error(StatusCode::BAD_REQUEST, "BadRequest", msg)
}

fn list(st: &St, headers: &HeaderMap, uri: &Uri, beta: bool) -> Response {
    let q = query_pairs(uri.query());
    let param = |k: &str| get(&q, &format!("${k}")).or_else(|| get(&q, k));
    let top = match param("top") {
        None => 1000,
        Some(t) => match t.parse::<usize>() {
            Ok(n) if (1..=1000).contains(&n) => n,
            _ => {
                return bad_request(&format!(
                    "Invalid page size specified: '{t}'. Must be between 1 and 1000 inclusive."
                ));
            }
        },
    };
    let orderby = param("orderby").unwrap_or("");
    let ascending = match orderby.split_whitespace().collect::<Vec<_>>().as_slice() {
        [] => false,
        [p] | [p, "asc"] if p.eq_ignore_ascii_case("createdDateTime") => true,
        [p, "desc"] if p.eq_ignore_ascii_case("createdDateTime") => false,
        _ => {
            return bad_request(&format!("Invalid $orderby: '{orderby}'. Only createdDateTime asc|desc is supported."));
        }
    };
    let filter_s = param("filter").unwrap_or("");
    let filter: Option<Expr> = if filter_s.trim().is_empty() {
        None
    } else {
        match odata::parse(filter_s) {
            Ok(e) => Some(e),
            Err(e) => return bad_request(&format!("Invalid filter clause: {e}")),
        }
    };
    let interactive_only = !filter.as_ref().is_some_and(|f| f.mentions("signInEventTypes"));
    let hash = param_hash(&[filter_s, orderby, if beta { "beta" } else { "v1.0" }]);
    let cursor = match param("skiptoken") {
        Some(t) => match decode_cursor::<Cursor>(t) {
            Some(c) if c.h == hash => c,
            _ => return bad_request("Invalid $skiptoken for this query."),
        },
        None => Cursor { p: 0, a: st.clock.now_ms(), h: hash },
    };

    let recs = &st.data.entra;
    let n = recs.len();
    let at = |pos: usize| if ascending { recs.get(n.wrapping_sub(pos + 1)) } else { recs.get(pos) };
    // A sign-in is listed as it is at the query's snapshot time: without its MFA steps until
    // they are aggregated onto it (`complete:`).
    let ok = |r: &crate::data::EntraRec| -> bool {
        if (interactive_only && !r.interactive) || !st.visible(r.visible_at, cursor.a) {
            return false;
        }
        match &filter {
            None => true,
            Some(f) => serde_json::from_str::<Value>(r.raw_at(cursor.a)).is_ok_and(|doc| f.eval(&doc)),
        }
    };
    let mut items: Vec<String> = Vec::new();
    let mut pos = cursor.p;
    while pos < n && items.len() < top {
        let Some(r) = at(pos) else { break };
        pos += 1;
        if !ok(r) {
            continue;
        }
        if beta {
            items.push(r.raw_at(cursor.a).to_string());
        } else if let Ok(Value::Object(mut m)) = serde_json::from_str::<Value>(r.raw_at(cursor.a)) {
            for k in BETA_ONLY {
                m.remove(*k);
            }
            items.push(Value::Object(m).to_string());
        }
    }
    let more = (pos..n).any(|p| at(p).is_some_and(ok));
    let version = if beta { "beta" } else { "v1.0" };
    let mut body = format!(
        "{{\"@odata.context\":\"https://graph.microsoft.com/{version}/$metadata#auditLogs/signIns\",\"value\":[{}]",
        items.join(",")
    );
    if more {
        let mut u = url::form_urlencoded::Serializer::new(String::new());
        if param("top").is_some() {
            u.append_pair("$top", &top.to_string());
        }
        if !filter_s.is_empty() {
            u.append_pair("$filter", filter_s);
        }
        if !orderby.is_empty() {
            u.append_pair("$orderby", orderby);
        }
        u.append_pair("$skiptoken", &encode_cursor(&Cursor { p: pos, ..cursor }));
        let link = format!("{}{}?{}", base_url(headers, st.cfg.listen), uri.path(), u.finish());
        body.push_str(",\"@odata.nextLink\":");
        body.push_str(&Value::String(link).to_string());
    }
    body.push('}');
    let mut r = json_body(StatusCode::OK, body);
    set_header(&mut r, "request-id", error_id(pos as u64));
    r
}
