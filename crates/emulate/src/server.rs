//! Shared server state, the fault wrapper every endpoint goes through, tokens, and helpers.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;
use trailproof_model::time::Millis;

use crate::EmulatorConfig;
use crate::clock::Clock;
use crate::data::Dataset;
use crate::faults::{Endpoint, TruncateMode};
use crate::limits::Limiter;
use crate::net::{Conn, EarlyEndBody};

/// Who minted a token, and for what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Okta,
    Entra { client_id: String },
    Google { sub: Option<String> },
}

#[derive(Debug, Clone)]
struct Token {
    kind: TokenKind,
    expires_at: Millis,
}

/// Why a bearer token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthFail {
    Missing,
    Invalid,
    Expired,
}

pub(crate) struct Limiters {
    pub okta: Limiter,
    pub graph: Limiter,
    pub google: Limiter,
    pub cloudtrail: Limiter,
}

pub(crate) struct AppState {
    pub cfg: EmulatorConfig,
    pub data: Dataset,
    pub clock: Arc<Clock>,
    counters: [AtomicU64; Endpoint::ALL.len()],
    tokens: Mutex<HashMap<String, Token>>,
    minted: AtomicU64,
    pub limits: Limiters,
    pub elastic: crate::elastic::EsState,
    pub kibana: crate::kibana::KibanaState,
}

pub(crate) type St = Arc<AppState>;

/// Which error dialect a fault response speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Okta,
    OAuth,
    Graph,
    Google,
    Aws,
    Elastic,
}

impl AppState {
    pub(crate) fn new(cfg: EmulatorConfig, data: Dataset, clock: Arc<Clock>) -> Self {
        let l = cfg.limits;
        AppState {
            cfg,
            data,
            clock,
            counters: Default::default(),
            tokens: Mutex::new(HashMap::new()),
            minted: AtomicU64::new(0),
            limits: Limiters {
                okta: Limiter::new(l.okta),
                graph: Limiter::new(l.graph),
                google: Limiter::new(l.google),
                cloudtrail: Limiter::new(l.cloudtrail),
            },
            elastic: crate::elastic::EsState::default(),
            kibana: crate::kibana::KibanaState::default(),
        }
    }

    pub(crate) fn requests(&self, ep: Endpoint) -> u64 {
        self.counters.get(ep.index()).map_or(0, |c| c.load(Ordering::SeqCst))
    }

    /// Whether events are hidden until their visibility time: with late events, or whenever
    /// the clock is emulated (events after "now" do not exist yet).
    pub(crate) fn hides_future(&self) -> bool {
        self.cfg.faults.delays_records() || self.clock.is_emulated()
    }

    pub(crate) fn visible(&self, visible_at: Millis, as_of: Millis) -> bool {
        !self.hides_future() || visible_at <= as_of
    }

    pub(crate) fn token_ttl(&self) -> Duration {
        self.cfg.faults.token_ttl.unwrap_or(Duration::from_secs(3600))
    }

    /// Mints an access token; returns it and `expires_in` seconds.
    pub(crate) fn mint(&self, prefix: &str, kind: TokenKind) -> (String, u64) {
        let n = self.minted.fetch_add(1, Ordering::SeqCst);
        let a = crate::faults::splitmix(self.cfg.seed ^ 0x746f_6b65_6e00 ^ n);
        let b = crate::faults::splitmix(a ^ n);
        let token = format!("{prefix}{a:016x}{b:016x}{n}");
        let ttl = self.token_ttl();
        let expires_at = self.clock.now_ms() + ttl.as_millis() as Millis;
        self.tokens.lock().unwrap_or_else(|p| p.into_inner()).insert(token.clone(), Token { kind, expires_at });
        (token, ttl.as_secs_f64().ceil().max(1.0) as u64)
    }

    /// Checks `Authorization: Bearer <token>` against minted tokens accepted by `accept`.
    pub(crate) fn bearer(
        &self,
        headers: &HeaderMap,
        accept: impl Fn(&TokenKind) -> bool,
    ) -> Result<TokenKind, AuthFail> {
        let Some(tok) = auth_value(headers, "Bearer") else {
            return Err(AuthFail::Missing);
        };
        self.check_token(&tok, accept)
    }

    pub(crate) fn check_token(&self, tok: &str, accept: impl Fn(&TokenKind) -> bool) -> Result<TokenKind, AuthFail> {
        let tokens = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let Some(t) = tokens.get(tok).filter(|t| accept(&t.kind)) else {
            return Err(AuthFail::Invalid);
        };
        if self.clock.now_ms() >= t.expires_at {
            return Err(AuthFail::Expired);
        }
        Ok(t.kind.clone())
    }

    /// Runs one request of `ep` through the fault plan: counts it, maybe delays, drops,
    /// throttles or fails it, else runs `handler` and maybe truncates its body.
    pub(crate) async fn with_faults<F, Fut>(&self, conn: &Conn, ep: Endpoint, dialect: Dialect, handler: F) -> Response
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Response>,
    {
        let counter = self.counters.get(ep.index());
        let n = counter.map_or(0, |c| c.fetch_add(1, Ordering::SeqCst));
        let d = self.cfg.faults.decide(self.cfg.seed, ep, n);
        if let Some(slow) = d.slow {
            tokio::time::sleep(slow).await;
        }
        if d.drop {
            tracing::debug!(endpoint = ep.name(), n, "fault: dropping connection");
            conn.kill.kill();
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "dropped");
        }
        if d.throttle {
            tracing::debug!(endpoint = ep.name(), n, "fault: throttling");
            return throttled(dialect, 1);
        }
        if let Some(status) = d.server_error {
            tracing::debug!(endpoint = ep.name(), n, status, "fault: server error");
            return server_error(dialect, status);
        }
        let resp = handler().await;
        match d.truncate {
            Some(mode) if resp.status().is_success() => truncate(resp, mode).await,
            _ => resp,
        }
    }
}

/// The credential after `Authorization: <scheme> `, if the header uses that scheme.
pub(crate) fn auth_value(headers: &HeaderMap, scheme: &str) -> Option<String> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (s, rest) = v.split_once(' ')?;
    if s.eq_ignore_ascii_case(scheme) { Some(rest.trim().to_string()).filter(|t| !t.is_empty()) } else { None }
}

pub(crate) fn json_body(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json; charset=utf-8"));
    r
}

pub(crate) fn json_value(status: StatusCode, v: &serde_json::Value) -> Response {
    json_body(status, v.to_string())
}

fn plain(status: StatusCode, s: &'static str) -> Response {
    let mut r = Response::new(Body::from(s));
    *r.status_mut() = status;
    r
}

pub(crate) fn set_header(r: &mut Response, name: &'static str, value: impl ToString) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        r.headers_mut().insert(name, v);
    }
}

pub(crate) fn error_id(seed: u64) -> String {
    format!("oae{:016x}", crate::faults::splitmix(seed ^ crate::clock::wall_ms() as u64))
}

pub(crate) fn okta_error(status: StatusCode, code: &str, summary: &str) -> Response {
    json_value(
        status,
        &json!({"errorCode": code, "errorSummary": summary, "errorLink": code,
                "errorId": error_id(u64::from(status.as_u16())), "errorCauses": []}),
    )
}

pub(crate) fn graph_error(status: StatusCode, code: &str, message: &str) -> Response {
    let date = trailproof_model::time::format_ms(crate::clock::wall_ms());
    json_value(
        status,
        &json!({"error": {"code": code, "message": message,
                "innerError": {"date": date, "request-id": error_id(7), "client-request-id": error_id(8)}}}),
    )
}

pub(crate) fn google_error(status: StatusCode, message: &str, reason: &str, domain: &str, gstatus: &str) -> Response {
    json_value(
        status,
        &json!({"error": {"code": status.as_u16(), "message": message,
                "errors": [{"message": message, "domain": domain, "reason": reason}], "status": gstatus}}),
    )
}

pub(crate) fn aws_error(status: StatusCode, typ: &str, message: &str) -> Response {
    let mut r = json_value(status, &json!({"__type": typ, "message": message}));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-amz-json-1.1"));
    set_header(&mut r, "x-amzn-errortype", typ);
    set_header(&mut r, "x-amzn-requestid", error_id(9));
    r
}

pub(crate) fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    json_value(status, &json!({"error": error, "error_description": description}))
}

pub(crate) fn throttled(dialect: Dialect, retry_after: u64) -> Response {
    let mut r = match dialect {
        Dialect::Okta => okta_error(
            StatusCode::TOO_MANY_REQUESTS,
            "E0000047",
            "API call exceeded rate limit due to too many requests.",
        ),
        Dialect::OAuth => {
            oauth_error(StatusCode::TOO_MANY_REQUESTS, "temporarily_unavailable", "Too many requests; retry later.")
        }
        Dialect::Graph => graph_error(StatusCode::TOO_MANY_REQUESTS, "TooManyRequests", "Too many requests."),
        // The Admin SDK answers an exceeded rate with 403, reason `userRateLimitExceeded` (or
        // `quotaExceeded`), not 429 (developers.google.com/admin-sdk/directory/v1/limits, the
        // Admin SDK's table of quota errors; the Reports API's own page names 503, see
        // [`google_quota_503`]). The `status` value is UNCONFIRMED.
        Dialect::Google => google_error(
            StatusCode::FORBIDDEN,
            "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user'.",
            "userRateLimitExceeded",
            "usageLimits",
            "PERMISSION_DENIED",
        ),
        Dialect::Aws => return aws_error(StatusCode::BAD_REQUEST, "ThrottlingException", "Rate exceeded"),
        Dialect::Elastic => crate::elastic::es_error(
            StatusCode::TOO_MANY_REQUESTS,
            "es_rejected_execution_exception",
            "rejected execution of coordinating operation [emulated]",
        ),
    };
    set_header(&mut r, "retry-after", retry_after);
    r
}

/// The Reports API over its quota: "If you exceed these limits, the server returns an HTTP 503
/// status code" ... "an HTTP status code of 503 has error information indicating which API
/// quotas have been exceeded" (developers.google.com/admin-sdk/reports/v1/limits). The body's
/// exact wording is UNCONFIRMED.
pub(crate) fn google_quota_503(retry_after: u64) -> Response {
    let mut r = google_error(
        StatusCode::SERVICE_UNAVAILABLE,
        "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per user' of service \
         'admin.googleapis.com'.",
        "rateLimitExceeded",
        "usageLimits",
        "UNAVAILABLE",
    );
    set_header(&mut r, "retry-after", retry_after);
    r
}

pub(crate) fn server_error(dialect: Dialect, status: u16) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut r = match dialect {
        Dialect::Okta => okta_error(status, "E0000009", "Internal Server Error"),
        Dialect::OAuth => oauth_error(status, "server_error", "The server encountered an internal error."),
        Dialect::Graph => graph_error(
            status,
            if status == StatusCode::SERVICE_UNAVAILABLE { "ServiceUnavailable" } else { "UnknownError" },
            "The service is temporarily unavailable.",
        ),
        Dialect::Google => google_error(
            status,
            "The service is currently unavailable.",
            "backendError",
            "global",
            if status == StatusCode::SERVICE_UNAVAILABLE { "UNAVAILABLE" } else { "INTERNAL" },
        ),
        Dialect::Aws => aws_error(
            status,
            if status == StatusCode::SERVICE_UNAVAILABLE { "ServiceUnavailableException" } else { "InternalFailure" },
            "The request processing has failed because of an unknown error.",
        ),
        Dialect::Elastic => crate::elastic::es_error(
            status,
            if status == StatusCode::SERVICE_UNAVAILABLE { "cluster_block_exception" } else { "exception" },
            "the cluster is not available (emulated)",
        ),
    };
    if status == StatusCode::SERVICE_UNAVAILABLE {
        set_header(&mut r, "retry-after", 1);
    }
    r
}

async fn truncate(resp: Response, mode: TruncateMode) -> Response {
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if bytes.len() < 2 {
        return Response::from_parts(parts, Body::from(bytes));
    }
    let head: Bytes = bytes.slice(..bytes.len() / 2);
    parts.headers.remove(header::CONTENT_LENGTH);
    match mode {
        TruncateMode::Cut => Response::from_parts(parts, Body::from(head)),
        TruncateMode::Close => {
            if let Ok(v) = HeaderValue::from_str(&bytes.len().to_string()) {
                parts.headers.insert(header::CONTENT_LENGTH, v);
            }
            Response::from_parts(parts, Body::new(EarlyEndBody::new(head)))
        }
    }
}

/// `http://host` as the client addressed us, for the links we mint.
pub(crate) fn base_url(headers: &HeaderMap, fallback: std::net::SocketAddr) -> String {
    match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(h) if !h.is_empty() => format!("http://{h}"),
        _ => format!("http://{fallback}"),
    }
}

/// Query pairs, percent- and `+`-decoded, in order.
pub(crate) fn query_pairs(q: Option<&str>) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.unwrap_or("").as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect()
}

pub(crate) fn get<'a>(q: &'a [(String, String)], key: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Encodes a cursor as base64url JSON.
pub(crate) fn encode_cursor<T: serde::Serialize>(c: &T) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(c).unwrap_or_default())
}

pub(crate) fn decode_cursor<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(s.trim()).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A short stable hash of request parameters that a cursor must be replayed with.
pub(crate) fn param_hash(parts: &[&str]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325_u64;
    for p in parts {
        for b in p.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}
