//! Shared HTTP plumbing of the collectors (Okta, Entra ID, Google Workspace).
//!
//! - [`client`] ([`client_with_ca`] for a private CA): a `reqwest` client on rustls with the *ring* provider (installed once per
//!   process by [`install_crypto_provider`]), a whole-request timeout and no redirects.
//! - [`Api`]: one source instance's requests: pacing ([`Pacer`], `governor`), retries
//!   ([`RetryPolicy`]: 5xx, 408, 429, connection errors, truncated or unreadable bodies), server
//!   waits (`Retry-After` in seconds or as an HTTP date, Okta `X-Rate-Limit-Reset`), and
//!   authentication ([`Auth`]: a static header such as `SSWS <token>`, or OAuth access tokens from
//!   a [`TokenSource`], refreshed once per request on a 401).
//! - [`jwt`]: RS256 client assertions.
//! - [`secret`]: [`Secret`] (prints `***`), loading from environment variables or files, and
//!   [`redact`], which scrubs every known secret from text that leaves this crate.
//!
//! # What errors say
//!
//! An [`HttpError`] names the URL *path* (never the query, which may carry cursors, and never a
//! header or form value), the HTTP status and the vendor's own error code and summary (redacted
//! and stripped of control characters). The caller adds the source's name and what was kept.
//!
//! # Retry rules
//!
//! | response | action |
//! |---|---|
//! | 2xx whose body the caller's validator rejects (truncated JSON) | retry the same request after a backoff |
//! | 429 | wait `Retry-After`, else Okta's `X-Rate-Limit-Reset`, else a backoff; all requests of the source wait (the pacer is held) |
//! | 408, 5xx | wait `Retry-After` when sent, else exponential backoff with jitter |
//! | connection error, timeout, body cut short | backoff |
//! | 401 with an OAuth token | drop the cached token, get a new one, retry once (not counted as a retry) |
//! | 401 otherwise, 3xx, other 4xx | error at once |
//!
//! Every retry counts against `max_retries`; then [`HttpError::GaveUp`] says what the last
//! failure was. A server wait longer than `max_server_wait` ends the request with
//! [`HttpError::WaitTooLong`] instead of stalling a scheduled run. After a successful Okta
//! response with `X-Rate-Limit-Remaining: 0`, the pacer holds until the window resets.

pub mod jwt;
pub mod oauth;
pub mod pace;
pub mod retry;
pub mod secret;

mod api;
mod page;
mod vendor;

pub use api::{Api, ApiStats, Auth, Note, NoteKind, Observer, Reply};
pub use oauth::TokenSource;
pub use pace::Pacer;
pub use page::{ConnectOptions, Page, checked_link, endpoint};
pub use retry::{GiveUp, RetryPolicy, parse_retry_after};
pub use secret::{Secret, SecretError, basic_auth, path_of, redact};
pub use vendor::{VendorError, auth_error, link_next, vendor_error};

use std::sync::Once;
use std::time::Duration;

/// What can go wrong with a request. Display texts never contain secrets or query strings.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    /// A configuration problem found before any request (bad URL, bad key, ...).
    #[error("{0}")]
    Config(String),
    #[error(transparent)]
    Secret(#[from] SecretError),
    /// The token endpoint refused the credentials.
    #[error("the token endpoint {path} refused the credentials (HTTP {status}): {}", .error.message)]
    TokenRefused { path: String, status: u16, error: VendorError },
    /// The API answered 401 to a fresh token (or to a static API token).
    #[error("GET {path} was not authorized (HTTP 401): {}", .error.message)]
    Unauthorized { path: String, error: VendorError },
    /// The API refused the request (3xx, or a 4xx other than 401, 408 and 429).
    #[error("GET {path} was refused (HTTP {status}): {}", .error.message)]
    Refused { path: String, status: u16, error: VendorError },
    /// Retries exhausted.
    #[error("{method} {path} failed after {attempts} attempts; the last: {last}")]
    GaveUp { method: &'static str, path: String, attempts: u32, last: String },
    /// The server asked for a longer pause than allowed.
    #[error("{path}: the server asked to wait {wait_s} s before retrying, more than the {max_s} s allowed")]
    WaitTooLong { path: String, wait_s: u64, max_s: u64 },
    /// A response that breaks the protocol (e.g. a next link to another host).
    #[error("{path}: {why}")]
    Protocol { path: String, why: String },
}

impl HttpError {
    /// The HTTP status of a refusal, if the error is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            HttpError::TokenRefused { status, .. } | HttpError::Refused { status, .. } => Some(*status),
            HttpError::Unauthorized { .. } => Some(401),
            _ => None,
        }
    }

    /// The vendor's error code (`E0000006`, `Authorization_RequestDenied`, `invalid_client`, ...).
    pub fn vendor_code(&self) -> Option<&str> {
        match self {
            HttpError::TokenRefused { error, .. }
            | HttpError::Unauthorized { error, .. }
            | HttpError::Refused { error, .. } => error.code.as_deref(),
            _ => None,
        }
    }

    /// True when retrying later may help (retries exhausted, server waits), false for refusals
    /// and configuration errors that need a fix.
    pub fn is_transient(&self) -> bool {
        matches!(self, HttpError::GaveUp { .. } | HttpError::WaitTooLong { .. })
    }
}

/// Installs rustls' *ring* crypto provider as the process default, once. Safe to call from
/// anywhere, any number of times; a provider installed earlier by someone else is kept.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// A `reqwest` client for API calls: rustls (ring), `timeout` for a whole request (connect,
/// send, read the body), no redirects (an API that redirects is misconfigured, and a redirect
/// must not carry credentials elsewhere), and a `trailproof/<version>` user agent.
pub fn client(timeout: Duration) -> Result<reqwest::Client, HttpError> {
    client_with_ca(timeout, None)
}

/// [`client`], trusting only the CA certificates of `ca_pem` (a PEM bundle, e.g. a self-managed
/// Elasticsearch cluster's `http_ca.crt`) when given: the server must present a chain to one of
/// them, and the system's roots are not consulted.
pub fn client_with_ca(timeout: Duration, ca_pem: Option<&[u8]>) -> Result<reqwest::Client, HttpError> {
    install_crypto_provider();
    let mut builder = reqwest::Client::builder();
    if let Some(pem) = ca_pem {
        let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| {
            HttpError::Config(format!("the CA file is not a PEM certificate bundle: {}", api::describe(&e)))
        })?;
        if certs.is_empty() {
            return Err(HttpError::Config("the CA file holds no PEM certificate".into()));
        }
        builder = builder.tls_certs_only(certs);
    }
    builder
        .tls_backend_rustls()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(30)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("trailproof/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| HttpError::Config(format!("cannot build the HTTP client: {}", api::describe(&e))))
}

/// Parses a configured base URL (`https://example.okta.com`); only http and https, no query.
pub fn base_url(what: &str, s: &str) -> Result<url::Url, HttpError> {
    let s = s.trim().trim_end_matches('/');
    if s.is_empty() {
        return Err(HttpError::Config(format!("{what} is not set")));
    }
    let u = url::Url::parse(s).map_err(|e| HttpError::Config(format!("{what} {s:?} is not a URL: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() {
        return Err(HttpError::Config(format!("{what} {s:?} must be an http(s) URL with a host")));
    }
    if u.query().is_some() || !u.username().is_empty() || u.password().is_some() {
        return Err(HttpError::Config(format!("{what} must not carry a query or credentials")));
    }
    Ok(u)
}

/// True when `candidate` has the scheme, host and port of `base`: a cursor link from a response
/// (or a stored checkpoint) may only send our credentials back to the configured server.
pub fn same_origin(base: &url::Url, candidate: &url::Url) -> bool {
    base.scheme() == candidate.scheme()
        && base.host_str() == candidate.host_str()
        && base.port_or_known_default() == candidate.port_or_known_default()
}

pub(crate) fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A uniform draw from `[0, 1)` for backoff jitter (not cryptographic).
pub(crate) fn unit_random() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let s = STATE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    (splitmix(s ^ nanos) >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(base_url("url", "https://x.okta.com/").unwrap().as_str(), "https://x.okta.com/");
        assert!(base_url("url", "").unwrap_err().to_string().contains("url is not set"));
        assert!(base_url("url", "ftp://x").is_err());
        assert!(base_url("url", "https://x?a=1").is_err());
        assert!(base_url("url", "https://u:p@x").is_err());
    }

    #[test]
    fn origins() {
        let b = url::Url::parse("https://x.okta.com").unwrap();
        assert!(same_origin(&b, &url::Url::parse("https://x.okta.com:443/api/v1/logs?after=1").unwrap()));
        assert!(!same_origin(&b, &url::Url::parse("https://evil.example/api/v1/logs").unwrap()));
        assert!(!same_origin(&b, &url::Url::parse("http://x.okta.com/api/v1/logs").unwrap()));
    }

    #[test]
    fn unit_random_in_range() {
        for _ in 0..1000 {
            let r = unit_random();
            assert!((0.0..1.0).contains(&r));
        }
    }
}
