//! Live collection from the Okta System Log API (`GET /api/v1/logs`, formats.md 2.3): the I/O
//! half of this crate. The collector (`trailproof-collect`) decides *what* to ask for and keeps
//! checkpoints; this module knows how to ask Okta.
//!
//! - Authentication: an API token (`Authorization: SSWS <token>`, from `token_env` or
//!   `token_file`), or an OAuth 2.0 service app (`client_id` + `private_key_file`): client
//!   credentials at `<org>/oauth2/v1/token` with a private_key_jwt client assertion (RS256,
//!   `iss` = `sub` = client id, `aud` = the token URL, 5 minutes), scope `okta.logs.read`, then
//!   `Authorization: Bearer <access token>`.
//! - Requests: `filter` = [`crate::api_filter`] (only the event types the parser keeps),
//!   `limit=1000`. Polling requests (`since` only, ascending) follow persistence order and always
//!   carry a `next` link; bounded requests (`since` + `until`) end when no `next` link comes.
//!   Okta's System Log API page (okta/okta-developer-docs
//!   `packages/@okta/vuepress-site/docs/reference/api/system-log/index.md`, "Request types"):
//!   polling requests "are time filtered by their internal 'persistence time' to avoid skipping
//!   records due to system delays" and have "an infinite number of pages ... even if there are
//!   no new events (the event list may be empty)"; for bounded requests "Not all events for the
//!   specified time range may be present — events may be delayed. Such delays are rare but
//!   possible"; and to transfer data, follow the `next` links "until no events are returned",
//!   never paginate by `since`/`until`. So the collector polls, stops on an empty page, and uses
//!   bounded requests only for stretches whose settling time has passed.
//! - Paging: the `Link: <...>; rel="next"` header; a next link must point at the configured org
//!   and at `/api/v1/logs`, or it is not followed.
//! - Rate: `requests_per_minute`, default [`DEFAULT_REQUESTS_PER_MINUTE`]. `X-Rate-Limit-Reset`
//!   is honoured on 429 and when `X-Rate-Limit-Remaining` reaches 0.

use std::sync::Arc;
use std::time::Duration;

use serde::de::IgnoredAny;
use trailproof_http::jwt::{SigningKey, jti, now_s};
use trailproof_http::pace::Pacer;
use trailproof_http::secret::{self, Secret};
use trailproof_http::{Api, ApiStats, Auth, ConnectOptions, HttpError, Page, TokenSource, checked_link, endpoint};
use trailproof_model::config::OktaSource;
use trailproof_model::time::{Millis, format_ms};
use url::Url;

pub const LOGS_PATH: &str = "/api/v1/logs";
pub const TOKEN_PATH: &str = "/oauth2/v1/token";
/// The OAuth scope that reads the System Log.
pub const LOGS_SCOPE: &str = "okta.logs.read";
/// The API's largest page.
pub const MAX_LIMIT: u32 = 1000;
/// Default pacing: 10 requests per minute, half of the smallest documented org-wide limit of
/// `/api/v1/logs`. The limits per minute are 20 (Developer free), 25 (Developer paid, One App),
/// 50 (Enterprise) and 120 (Workforce Identity) (okta/okta-developer-docs
/// `docs/reference/rl-global-mgmt/index.md`, "Get System Log data"), counted for the whole org:
/// a SIEM or another collector reading the same log shares them. Okta notifies admins when an
/// API passes its warning threshold, 60 % (CIAM orgs) or 90 % (Workforce orgs) by default
/// (okta/okta-sdk-dotnet `docs/RateLimitWarningThresholdRequest.md`; `docs/reference/rl-dashboard`).
/// Half of the smallest limit stays under the lowest warning in every org type and leaves half
/// to the others; at 1,000 events a page it still reads 10,000 events a minute. A long backfill
/// in a larger org can raise `requests_per_minute` (e.g. 25 in an Enterprise org).
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 10;

/// How requests authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthKind {
    /// `SSWS <API token>`.
    ApiToken,
    /// OAuth 2.0 service app (private_key_jwt).
    ServiceApp,
}

/// A connected Okta org.
#[derive(Debug)]
pub struct OktaApi {
    api: Api,
    base: Url,
    limit: u32,
    filter: String,
    kind: AuthKind,
}

/// Sets up the client for `cfg`: loads the credentials (a missing variable or an unreadable key
/// is reported here, before any request) and the pacer.
pub fn connect(cfg: &OktaSource, opts: &ConnectOptions) -> Result<OktaApi, HttpError> {
    let base = trailproof_http::base_url("okta url", &cfg.url)?;
    let http = trailproof_http::client(opts.timeout)?;
    let has_token = !cfg.token_env.trim().is_empty() || !cfg.token_file.trim().is_empty();
    let has_app = !cfg.client_id.trim().is_empty() || !cfg.private_key_file.trim().is_empty();
    let (auth, kind) = match (has_token, has_app) {
        (true, true) => {
            return Err(HttpError::Config(
                "okta: set either an API token (token_env / token_file) or a service app (client_id + \
                 private_key_file), not both"
                    .into(),
            ));
        }
        (false, false) => {
            return Err(HttpError::Config(
                "okta: no credentials: set token_env or token_file (API token), or client_id and \
                 private_key_file (OAuth service app)"
                    .into(),
            ));
        }
        (true, false) => {
            let token = secret::load("Okta API token", "token_env", &cfg.token_env, "token_file", &cfg.token_file)?;
            (Auth::Header(Secret::new(format!("SSWS {}", token.expose()))), AuthKind::ApiToken)
        }
        (false, true) => {
            let client_id = cfg.client_id.trim().to_string();
            if client_id.is_empty() || cfg.private_key_file.trim().is_empty() {
                return Err(HttpError::Config("okta: a service app needs both client_id and private_key_file".into()));
            }
            let pem = secret::from_file("Okta private key", cfg.private_key_file.trim())?;
            let key = SigningKey::from_pem(&pem, &format!("the Okta private key file {}", cfg.private_key_file))?;
            let token_url = endpoint(&base, TOKEN_PATH);
            let aud = token_url.to_string();
            let form = Box::new(move || {
                let now = now_s();
                let claims = serde_json::json!({
                    "iss": client_id, "sub": client_id, "aud": aud,
                    "iat": now, "exp": now + 300, "jti": jti(),
                });
                let assertion = key.sign(&claims)?;
                Ok(vec![
                    ("grant_type", Secret::plain("client_credentials")),
                    ("scope", Secret::plain(LOGS_SCOPE)),
                    ("client_assertion_type", Secret::plain("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")),
                    ("client_assertion", assertion),
                ])
            });
            let ts = TokenSource::new(http.clone(), token_url, opts.policy, form);
            (Auth::Bearer(Arc::new(ts)), AuthKind::ServiceApp)
        }
    };
    let rpm = cfg.requests_per_minute.unwrap_or(DEFAULT_REQUESTS_PER_MINUTE);
    let pacer = Arc::new(Pacer::new(rpm, Duration::from_secs(60)));
    let api = Api::new(http, pacer, opts.policy, auth).with_observer(opts.observer.clone());
    Ok(OktaApi { api, base, limit: opts.page_size_or(MAX_LIMIT), filter: crate::api_filter(), kind })
}

/// Validates a page body: a JSON array. Returns the number of records.
fn count_records(body: &[u8]) -> Result<usize, String> {
    serde_json::from_slice::<Vec<IgnoredAny>>(body).map(|v| v.len()).map_err(|e| e.to_string())
}

impl OktaApi {
    /// Records per page requested.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn base(&self) -> &Url {
        &self.base
    }

    pub fn auth_kind(&self) -> AuthKind {
        self.kind
    }

    pub fn api(&self) -> &Api {
        &self.api
    }

    pub fn stats(&self) -> ApiStats {
        self.api.stats()
    }

    fn logs_url(&self, pairs: &[(&str, String)]) -> Url {
        let mut u = endpoint(&self.base, LOGS_PATH);
        {
            let mut q = u.query_pairs_mut();
            for (k, v) in pairs {
                q.append_pair(k, v);
            }
            q.append_pair("filter", &self.filter);
            q.append_pair("limit", &self.limit.to_string());
        }
        u
    }

    /// A polling request: everything persisted from `since` on, in persistence order, with a
    /// `next` link that stays valid for the next poll.
    pub fn poll_url(&self, since: Millis) -> Url {
        self.logs_url(&[("since", format_ms(since))])
    }

    /// A bounded request: events published in `[since, until)`, ascending.
    pub fn bounded_url(&self, since: Millis, until: Millis) -> Url {
        self.logs_url(&[("since", format_ms(since)), ("until", format_ms(until)), ("sortOrder", "ASCENDING".into())])
    }

    /// A stored `next` link, if it still points at this org's `/api/v1/logs`.
    pub fn resume_url(&self, stored: &str) -> Option<Url> {
        checked_link(&self.base, stored, LOGS_PATH).ok()
    }

    /// GETs one page. A body that is not a JSON array is retried as a truncated response.
    pub async fn page(&self, url: &Url) -> Result<Page, HttpError> {
        let reply = self.api.get(url, &|b| count_records(b).map(|_| ())).await?;
        let records =
            count_records(&reply.body).map_err(|why| HttpError::Protocol { path: reply.path.clone(), why })?;
        let next = match trailproof_http::link_next(&reply.headers) {
            Some(l) => Some(checked_link(&self.base, &l, LOGS_PATH)?),
            None => None,
        };
        Ok(Page { body: reply.body, next, records, path: reply.path })
    }

    /// The token endpoint, when a service app is configured (for `check`).
    pub fn token_source(&self) -> Option<&Arc<TokenSource>> {
        match self.api.auth() {
            Auth::Bearer(ts) => Some(ts),
            _ => None,
        }
    }

    /// The smallest request that proves the credentials may read the System Log: one event of
    /// the last hour (bounded, so it ends at once).
    pub fn probe_url(&self, now: Millis) -> Url {
        let mut u = endpoint(&self.base, LOGS_PATH);
        u.query_pairs_mut()
            .append_pair("since", &format_ms(now - 3_600_000))
            .append_pair("until", &format_ms(now))
            .append_pair("limit", "1");
        u
    }
}

/// What to tell the user when a check or a collection fails with `e`.
pub fn fix_hint(e: &HttpError, kind: AuthKind) -> Option<&'static str> {
    match (e, kind) {
        (HttpError::Unauthorized { .. }, AuthKind::ApiToken) => Some(
            "the API token is invalid, expired or revoked: create one in the Admin Console (Security > API > \
             Tokens) as an admin that may read the System Log, and put it in the configured variable or file",
        ),
        (HttpError::Unauthorized { .. }, AuthKind::ServiceApp) => Some(
            "the access token was refused: check that the service app is granted the okta.logs.read scope \
             (Okta API Scopes tab) and has an admin role that may read the System Log",
        ),
        (HttpError::TokenRefused { error, .. }, _) => match error.code.as_deref() {
            Some("invalid_scope") => Some("grant the okta.logs.read scope to the service app (Okta API Scopes tab)"),
            Some("invalid_client") => Some(
                "the client assertion was refused: check client_id and that the app's public key (JWKS) matches \
                 private_key_file, and that the app uses 'Public key / Private key' client authentication",
            ),
            _ => Some("check client_id and private_key_file against the service app in the Okta Admin Console"),
        },
        (HttpError::Refused { status: 403, .. }, _) => Some(
            "the credentials may not read the System Log: use a token of (or grant the app) a Read-only \
             Administrator or higher role",
        ),
        (HttpError::Refused { status: 404, .. }, _) => {
            Some("check `url`: it must be the org URL, e.g. https://example.okta.com")
        }
        (HttpError::GaveUp { .. }, _) => {
            Some("check `url`, the network path (proxy, firewall) and Okta's status page; the next run resumes")
        }
        (HttpError::Config(_) | HttpError::Secret(_), _) => Some("fix the [[collect.okta]] entry of the configuration"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> OktaSource {
        OktaSource {
            url: "https://example.okta.com".into(),
            token_file: concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml").into(),
            ..Default::default()
        }
    }

    #[test]
    fn urls_carry_filter_limit_and_times() {
        let api = connect(&cfg(), &ConnectOptions::default()).unwrap();
        let u = api.poll_url(1_767_225_600_000);
        assert_eq!(u.path(), LOGS_PATH);
        let q: Vec<(String, String)> = u.query_pairs().map(|(k, v)| (k.into(), v.into())).collect();
        assert_eq!(q[0], ("since".into(), "2026-01-01T00:00:00Z".into()));
        assert_eq!(q[1].0, "filter");
        assert!(q[1].1.starts_with("eventType eq \"user.session.start\" or "), "{}", q[1].1);
        assert_eq!(q[2], ("limit".into(), "1000".into()));
        let b = api.bounded_url(1_767_225_600_000, 1_767_225_600_123);
        assert!(b.query().unwrap().contains("until=2026-01-01T00%3A00%3A00.123Z"), "{b}");
        assert!(b.query().unwrap().contains("sortOrder=ASCENDING"), "{b}");
    }

    #[test]
    fn stored_links_must_point_at_the_org() {
        let api = connect(&cfg(), &ConnectOptions::default()).unwrap();
        assert!(api.resume_url("https://example.okta.com/api/v1/logs?after=abc").is_some());
        assert!(api.resume_url("https://other.okta.com/api/v1/logs?after=abc").is_none());
        assert!(api.resume_url("garbage").is_none());
    }

    #[test]
    fn credentials_are_required_and_exclusive() {
        let mut c = cfg();
        c.token_file.clear();
        assert!(connect(&c, &ConnectOptions::default()).unwrap_err().to_string().contains("no credentials"));
        let mut c = cfg();
        c.client_id = "0oa1".into();
        assert!(connect(&c, &ConnectOptions::default()).unwrap_err().to_string().contains("not both"));
        let mut c = cfg();
        c.token_file.clear();
        c.client_id = "0oa1".into();
        c.private_key_file = "/nonexistent/key.pem".into();
        let e = connect(&c, &ConnectOptions::default()).unwrap_err().to_string();
        assert!(e.contains("cannot read the file /nonexistent/key.pem"), "{e}");
    }

    #[test]
    fn page_validation_counts_array_elements() {
        assert_eq!(count_records(b"[]"), Ok(0));
        assert_eq!(count_records(br#"[{"a":1},{"b":[2]}]"#), Ok(2));
        assert!(count_records(br#"[{"a":1},{"b":"#).is_err());
        assert!(count_records(br#"{"a":1}"#).is_err());
    }
}
