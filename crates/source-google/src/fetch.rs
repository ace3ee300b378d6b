//! Live collection from the Admin SDK Reports API `activities.list` (formats.md 4.1): the I/O
//! half of this crate. The collector (`trailproof-collect`) decides which time windows to read
//! and keeps checkpoints; this module knows how to ask Google.
//!
//! - Authentication: a service account with domain-wide delegation. The key file
//!   (`service_account_key_file`, JSON with `client_email`, `private_key`, `private_key_id`,
//!   `token_uri`) signs an RS256 JWT `{iss: client_email, sub: admin_email, scope, aud: token
//!   URL, iat, exp: iat + 3600}` (header `kid` = `private_key_id`), exchanged at the token URL
//!   (`token_url`, else the key's `token_uri`, else `https://oauth2.googleapis.com/token`) with
//!   `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`. Scope
//!   `https://www.googleapis.com/auth/admin.reports.audit.readonly`. `admin_email` must be an
//!   admin allowed to read reports.
//! - Requests: `GET /admin/reports/v1/activity/users/all/applications/{login|saml}` with
//!   `startTime`, `endTime` (RFC 3339), `maxResults=1000`, `customerId` when `customer_id` names
//!   a customer (`C0…`; `my_customer` or empty: the admin's own), and `pageToken` from the
//!   previous page's `nextPageToken`. Results come newest first.
//! - Rate: `requests_per_minute` (default 60; Google's default quota is 2,400 queries per
//!   minute per user and project). Quota errors are retried with exponential backoff, as Google
//!   asks: the Reports API answers an exceeded quota with HTTP 503 ("If you exceed these
//!   limits, the server returns an HTTP 503 status code"; developers.google.com/admin-sdk/reports/v1/limits),
//!   which `trailproof-http` retries like any 5xx (503 `backendError` too); the Admin SDK's
//!   Directory API documents 403 with reason `userRateLimitExceeded` or `quotaExceeded`
//!   (developers.google.com/admin-sdk/directory/v1/limits) and Google's APIs use 403
//!   `rateLimitExceeded` as well: a 403 with one of these reasons is retried here, holding every
//!   request of the source, instead of failing as a refusal (UNCONFIRMED that the Reports API
//!   sends them; a 403 for anything else is a permission problem and fails at once). A 429 is
//!   retried after `Retry-After`.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde::de::IgnoredAny;
use trailproof_http::jwt::{SigningKey, now_s};
use trailproof_http::pace::Pacer;
use trailproof_http::secret::{self, Secret};
use trailproof_http::{Api, ApiStats, Auth, ConnectOptions, HttpError, Page, TokenSource, checked_link, endpoint};
use trailproof_model::config::GoogleSource;
use trailproof_model::time::{Millis, format_ms};
use url::Url;

/// The Reports applications collected, in the order a window reads them.
pub const APPLICATIONS: [&str; 2] = ["login", "saml"];
pub const REPORTS_SCOPE: &str = "https://www.googleapis.com/auth/admin.reports.audit.readonly";
pub const DEFAULT_TOKEN_URL: &str = "https://oauth2.googleapis.com/token";
pub const DEFAULT_REPORTS_URL: &str = "https://admin.googleapis.com";
pub const MAX_RESULTS: u32 = 1000;
/// Default pacing (requests per minute).
pub const DEFAULT_REQUESTS_PER_MINUTE: u32 = 60;
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// The fields of a service account key file that are used.
#[derive(Deserialize)]
struct KeyFile {
    client_email: Option<String>,
    private_key: Option<String>,
    private_key_id: Option<String>,
    token_uri: Option<String>,
}

/// A connected Workspace customer.
#[derive(Debug)]
pub struct GoogleApi {
    api: Api,
    reports: Url,
    customer: Option<String>,
    max: u32,
    client_email: String,
    pacer: Arc<Pacer>,
    observer: Option<Notes>,
}

/// The observer of the connection's notes (a closure: shown as such in `Debug`).
#[derive(Clone)]
struct Notes(trailproof_http::Observer);

impl std::fmt::Debug for Notes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Notes")
    }
}

/// The 403 reasons Google gives for an exceeded quota or rate (see the module docs).
pub const QUOTA_REASONS: [&str; 3] = ["userRateLimitExceeded", "rateLimitExceeded", "quotaExceeded"];

/// True for a 403 that says a quota or rate was exceeded: worth retrying later.
pub fn is_quota_refusal(e: &HttpError) -> bool {
    matches!(e, HttpError::Refused { status: 403, .. }) && e.vendor_code().is_some_and(|c| QUOTA_REASONS.contains(&c))
}

/// The path of `activities.list` for an application, all users.
pub fn activities_path(app: &str) -> String {
    format!("/admin/reports/v1/activity/users/all/applications/{app}")
}

/// True when `customer_id` names a customer explicitly (`C0…`), not the admin's own.
pub fn names_customer(customer_id: &str) -> bool {
    let c = customer_id.trim();
    !c.is_empty() && !c.eq_ignore_ascii_case("my_customer")
}

/// Sets up the client for `cfg`: reads the key file, builds the token source and the pacer.
pub fn connect(cfg: &GoogleSource, opts: &ConnectOptions) -> Result<GoogleApi, HttpError> {
    let reports = trailproof_http::base_url(
        "google reports_url",
        if cfg.reports_url.trim().is_empty() { DEFAULT_REPORTS_URL } else { &cfg.reports_url },
    )?;
    let key_path = cfg.service_account_key_file.trim();
    if key_path.is_empty() {
        return Err(HttpError::Config("google: set service_account_key_file (the service account's JSON key)".into()));
    }
    let admin = cfg.admin_email.trim().to_string();
    if admin.is_empty() {
        return Err(HttpError::Config(
            "google: set admin_email (an admin the service account impersonates; it must be allowed to read reports)"
                .into(),
        ));
    }
    let text = secret::from_file("Google service account key", key_path)?;
    // Our own message: serde's could quote a piece of the key.
    let bad = || {
        HttpError::Config(format!(
            "the Google service account key file {key_path} is not a JSON key with client_email and private_key"
        ))
    };
    let key: KeyFile = serde_json::from_str(text.expose()).map_err(|_| bad())?;
    let (Some(client_email), Some(pem)) = (key.client_email.filter(|s| !s.is_empty()), key.private_key) else {
        return Err(bad());
    };
    let signer = SigningKey::from_pem(&Secret::new(pem), &format!("the private_key of {key_path}"))?
        .with_kid(key.private_key_id);
    let token_url = if !cfg.token_url.trim().is_empty() {
        cfg.token_url.trim().to_string()
    } else {
        key.token_uri.filter(|s| !s.trim().is_empty()).unwrap_or_else(|| DEFAULT_TOKEN_URL.to_string())
    };
    let token_url = trailproof_http::base_url("google token_url", &token_url)?;
    let http = trailproof_http::client(opts.timeout)?;
    let aud = token_url.to_string();
    let iss = client_email.clone();
    let form: trailproof_http::oauth::FormFn = Box::new(move || {
        let now = now_s();
        let claims = serde_json::json!({
            "iss": iss, "sub": admin, "scope": REPORTS_SCOPE, "aud": aud, "iat": now, "exp": now + 3600,
        });
        Ok(vec![("grant_type", Secret::plain(JWT_BEARER)), ("assertion", signer.sign(&claims)?)])
    });
    let ts = TokenSource::new(http.clone(), token_url, opts.policy, form);
    let rpm = cfg.requests_per_minute.unwrap_or(DEFAULT_REQUESTS_PER_MINUTE);
    let pacer = Arc::new(Pacer::new(rpm, Duration::from_secs(60)));
    let api =
        Api::new(http, pacer.clone(), opts.policy, Auth::Bearer(Arc::new(ts))).with_observer(opts.observer.clone());
    let customer = names_customer(&cfg.customer_id).then(|| cfg.customer_id.trim().to_string());
    Ok(GoogleApi {
        api,
        reports,
        customer,
        max: opts.page_size_or(MAX_RESULTS),
        client_email,
        pacer,
        observer: opts.observer.clone().map(Notes),
    })
}

#[derive(Deserialize)]
struct ReportsPage {
    #[serde(default)]
    items: Option<Vec<IgnoredAny>>,
    #[serde(rename = "nextPageToken")]
    next: Option<String>,
}

fn read_page(body: &[u8]) -> Result<ReportsPage, String> {
    serde_json::from_slice::<ReportsPage>(body).map_err(|e| e.to_string())
}

impl GoogleApi {
    pub fn api(&self) -> &Api {
        &self.api
    }

    pub fn stats(&self) -> ApiStats {
        self.api.stats()
    }

    pub fn reports(&self) -> &Url {
        &self.reports
    }

    /// The configured customer (`C0…`), if one is named.
    pub fn customer(&self) -> Option<&str> {
        self.customer.as_deref()
    }

    /// The service account (for messages: which account to grant delegation to).
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    /// The first page of `app` activities in `[from, to]` (both inclusive), newest first.
    pub fn window_url(&self, app: &str, from: Millis, to: Millis) -> Url {
        let mut u = endpoint(&self.reports, &activities_path(app));
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("startTime", &rfc3339_ms(from));
            q.append_pair("endTime", &rfc3339_ms(to));
            q.append_pair("maxResults", &self.max.to_string());
            if let Some(c) = &self.customer {
                q.append_pair("customerId", c);
            }
        }
        u
    }

    /// A stored next-page URL, if it still points at this Reports host and `app`.
    pub fn resume_url(&self, app: &str, stored: &str) -> Option<Url> {
        checked_link(&self.reports, stored, &activities_path(app)).ok()
    }

    /// GETs one page; the next page's URL is this one with `pageToken` set. A 403 that says a
    /// quota was exceeded is retried after a backoff (every request of this source waits), at
    /// most the retry policy's `max_retries` times.
    pub async fn page(&self, url: &Url) -> Result<Page, HttpError> {
        let mut retry = 0;
        loop {
            match self.page_once(url).await {
                Err(e) if is_quota_refusal(&e) && retry < self.api.policy().max_retries => {
                    let wait = self.api.policy().backoff(retry);
                    retry += 1;
                    self.pacer.hold_for(wait);
                    if let Some(Notes(o)) = &self.observer {
                        o(&trailproof_http::Note {
                            path: url.path().to_string(),
                            kind: trailproof_http::NoteKind::Throttled,
                            wait,
                            retry,
                            detail: format!("HTTP 403 {}", e.vendor_code().unwrap_or("")),
                        });
                    }
                }
                r => return r,
            }
        }
    }

    async fn page_once(&self, url: &Url) -> Result<Page, HttpError> {
        let reply = self.api.get(url, &|b| read_page(b).map(|_| ())).await?;
        let page = read_page(&reply.body).map_err(|why| HttpError::Protocol { path: reply.path.clone(), why })?;
        let next = page.next.filter(|t| !t.is_empty()).map(|token| {
            let mut n = url.clone();
            let kept: Vec<(String, String)> = url
                .query_pairs()
                .filter(|(k, _)| k != "pageToken")
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            {
                let mut q = n.query_pairs_mut();
                q.clear();
                for (k, v) in &kept {
                    q.append_pair(k, v);
                }
                q.append_pair("pageToken", &token);
            }
            n
        });
        Ok(Page { body: reply.body, next, records: page.items.map_or(0, |i| i.len()), path: reply.path })
    }

    pub fn token_source(&self) -> Option<&Arc<TokenSource>> {
        match self.api.auth() {
            Auth::Bearer(ts) => Some(ts),
            _ => None,
        }
    }

    /// The smallest request that proves the admin may read `app` activities: one of the last hour.
    pub fn probe_url(&self, app: &str, now: Millis) -> Url {
        let mut u = endpoint(&self.reports, &activities_path(app));
        {
            let mut q = u.query_pairs_mut();
            q.append_pair("startTime", &rfc3339_ms(now - 3_600_000));
            q.append_pair("maxResults", "1");
            if let Some(c) = &self.customer {
                q.append_pair("customerId", c);
            }
        }
        u
    }
}

/// RFC 3339 with milliseconds always present (the Reports API's own examples use them).
fn rfc3339_ms(ms: Millis) -> String {
    let s = format_ms(ms);
    if s.contains('.') { s } else { s.replacen('Z', ".000Z", 1) }
}

/// What to tell the user when a check or a collection fails with `e`.
pub fn fix_hint(e: &HttpError) -> Option<&'static str> {
    let code = e.vendor_code().unwrap_or("");
    let msg = e.to_string();
    match e {
        HttpError::TokenRefused { .. } if code == "unauthorized_client" => Some(
            "the service account may not use this scope: in the Admin console (Security > API controls > Domain-wide \
             delegation) authorize its client id for https://www.googleapis.com/auth/admin.reports.audit.readonly",
        ),
        HttpError::TokenRefused { .. } if msg.contains("Invalid email or User ID") => {
            Some("admin_email is not a user of the Workspace: set it to an admin account")
        }
        HttpError::TokenRefused { .. } if msg.contains("Signature") || msg.contains("account not found") => Some(
            "the key was refused: download a new JSON key for the service account (the key may be deleted or \
             disabled)",
        ),
        HttpError::TokenRefused { .. } => {
            Some("check service_account_key_file, admin_email and token_url; the machine clock must be right")
        }
        HttpError::Refused { status: 403, .. } if is_quota_refusal(e) => Some(
            "Google kept refusing for quota: lower requests_per_minute, or raise the Admin SDK API quota of the \
             service account's Google Cloud project; the next run resumes",
        ),
        HttpError::Refused { status: 403, .. } => {
            Some("admin_email may not read reports: impersonate a super admin or an admin with the Reports privilege")
        }
        HttpError::Refused { status: 400, .. } => Some("check customer_id (C0… or my_customer)"),
        HttpError::Unauthorized { .. } => Some("Google refused the access token: check the domain-wide delegation"),
        HttpError::GaveUp { .. } => {
            Some("check reports_url / token_url, the network path and the Workspace status dashboard")
        }
        HttpError::Config(_) | HttpError::Secret(_) => Some("fix the [[collect.google]] entry of the configuration"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_file() -> std::path::PathBuf {
        let pem =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../collect/tests/keys/client-private.pem"))
                .unwrap();
        let p = std::env::temp_dir().join(format!("tp-google-key-{}.json", std::process::id()));
        let json = serde_json::json!({"type": "service_account", "client_email": "sa@p.iam.gserviceaccount.com",
            "private_key": pem, "private_key_id": "kid1", "token_uri": "https://oauth2.googleapis.com/token"});
        std::fs::write(&p, json.to_string()).unwrap();
        p
    }

    #[test]
    fn window_urls() {
        let p = key_file();
        let cfg = GoogleSource {
            customer_id: "C01abc".into(),
            service_account_key_file: p.to_string_lossy().into(),
            admin_email: "admin@example.com".into(),
            ..Default::default()
        };
        let api = connect(&cfg, &ConnectOptions { page_size: Some(10), ..Default::default() }).unwrap();
        let u = api.window_url("saml", 1_767_225_600_000, 1_767_225_600_999);
        assert_eq!(
            u.as_str(),
            "https://admin.googleapis.com/admin/reports/v1/activity/users/all/applications/saml?startTime=2026-01-01T00%3A00%3A00.000Z&endTime=2026-01-01T00%3A00%3A00.999Z&maxResults=10&customerId=C01abc"
        );
        assert!(api.resume_url("saml", u.as_str()).is_some());
        assert!(api.resume_url("login", u.as_str()).is_none());
        let my = GoogleSource { customer_id: "my_customer".into(), ..cfg.clone() };
        let api = connect(&my, &ConnectOptions::default()).unwrap();
        assert!(!api.window_url("login", 0, 1).as_str().contains("customerId"));
        assert_eq!(api.client_email(), "sa@p.iam.gserviceaccount.com");
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn bad_key_files_do_not_echo_the_key() {
        let p = std::env::temp_dir().join(format!("tp-google-badkey-{}.json", std::process::id()));
        std::fs::write(&p, r#"{"client_email": 5, "private_key": "SECRET-KEY-MATERIAL-1234"}"#).unwrap();
        let cfg = GoogleSource {
            service_account_key_file: p.to_string_lossy().into(),
            admin_email: "admin@example.com".into(),
            ..Default::default()
        };
        let e = connect(&cfg, &ConnectOptions::default()).unwrap_err().to_string();
        assert!(e.contains("is not a JSON key"), "{e}");
        assert!(!e.contains("SECRET-KEY"), "{e}");
        std::fs::remove_file(p).unwrap();
    }

    #[test]
    fn quota_refusals_are_told_from_permission_refusals() {
        let refused = |body: &str| HttpError::Refused {
            path: "/x".into(),
            status: 403,
            error: trailproof_http::vendor_error(body.as_bytes()),
        };
        let quota = refused(
            r#"{"error":{"code":403,"message":"Rate Limit Exceeded","errors":[{"reason":"rateLimitExceeded","domain":"usageLimits"}]}}"#,
        );
        assert!(is_quota_refusal(&quota));
        let denied = refused(
            r#"{"error":{"code":403,"message":"Not Authorized to access this resource/api","errors":[{"reason":"forbidden"}]}}"#,
        );
        assert!(!is_quota_refusal(&denied));
        assert!(fix_hint(&quota).unwrap().contains("quota"));
        assert!(fix_hint(&denied).unwrap().contains("admin_email"));
    }

    #[test]
    fn page_parsing() {
        let p = read_page(br#"{"kind":"admin#reports#activities","items":[{},{}],"nextPageToken":"t"}"#).unwrap();
        assert_eq!((p.items.map(|i| i.len()), p.next.as_deref()), (Some(2), Some("t")));
        let p = read_page(br#"{"kind":"admin#reports#activities","etag":"x"}"#).unwrap();
        assert!(p.items.is_none() && p.next.is_none());
        assert!(read_page(br#"{"kind":"admin#reports#activities","items":[{"#).is_err());
    }
}
