//! What the source fetchers hand the collector, and how they are set up.

use std::time::Duration;

use url::Url;

use crate::api::Observer;
use crate::retry::RetryPolicy;
use crate::{HttpError, same_origin};

/// One API response page, validated as JSON.
#[derive(Debug, Clone)]
pub struct Page {
    /// The response body as received (the records are parsed from it by the source's parser).
    pub body: Vec<u8>,
    /// The next page's URL, checked to point at the configured server.
    pub next: Option<Url>,
    /// Records on the page.
    pub records: usize,
    /// The request's URL path (messages, store origins).
    pub path: String,
}

/// Settings shared by the source fetchers' `connect` functions.
#[derive(Clone)]
pub struct ConnectOptions {
    /// Whole-request timeout.
    pub timeout: Duration,
    pub policy: RetryPolicy,
    /// Receives retry notes.
    pub observer: Option<Observer>,
    /// Records per page; `None`: the API's maximum (Okta 1000, Graph 1000, Reports 1000).
    pub page_size: Option<u32>,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            timeout: Duration::from_secs(60),
            policy: RetryPolicy::default(),
            observer: None,
            page_size: None,
        }
    }
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("timeout", &self.timeout)
            .field("policy", &self.policy)
            .field("page_size", &self.page_size)
            .finish()
    }
}

impl ConnectOptions {
    /// The page size to request: the configured one within `1..=max`, else `max`.
    pub fn page_size_or(&self, max: u32) -> u32 {
        self.page_size.map_or(max, |n| n.clamp(1, max))
    }
}

/// Checks a cursor link (from a response or a stored checkpoint): absolute, same scheme, host
/// and port as `base`, and the expected path. Credentials are only ever sent to the configured
/// server.
pub fn checked_link(base: &Url, link: &str, expected_path: &str) -> Result<Url, HttpError> {
    let u = Url::parse(link).map_err(|_| HttpError::Protocol {
        path: expected_path.to_string(),
        why: "the next-page link is not an absolute URL".into(),
    })?;
    if !same_origin(base, &u) {
        return Err(HttpError::Protocol {
            path: expected_path.to_string(),
            why: format!(
                "the next-page link points to {}://{} instead of the configured server; not followed",
                u.scheme(),
                u.host_str().unwrap_or("?")
            ),
        });
    }
    if u.path() != expected_path {
        return Err(HttpError::Protocol {
            path: expected_path.to_string(),
            why: format!("the next-page link has the path {} instead of {expected_path}", u.path()),
        });
    }
    Ok(u)
}

/// `base` with its path replaced by `path` (and no query).
pub fn endpoint(base: &Url, path: &str) -> Url {
    let mut u = base.clone();
    u.set_path(path);
    u.set_query(None);
    u.set_fragment(None);
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_must_stay_on_the_server() {
        let base = Url::parse("https://x.okta.com").unwrap();
        assert!(checked_link(&base, "https://x.okta.com/api/v1/logs?after=1", "/api/v1/logs").is_ok());
        let e = checked_link(&base, "https://evil.test/api/v1/logs?after=1", "/api/v1/logs").unwrap_err();
        assert!(e.to_string().contains("evil.test"), "{e}");
        assert!(checked_link(&base, "https://x.okta.com/other", "/api/v1/logs").is_err());
        assert!(checked_link(&base, "/api/v1/logs", "/api/v1/logs").is_err());
        assert_eq!(endpoint(&base, "/api/v1/logs").as_str(), "https://x.okta.com/api/v1/logs");
    }

    #[test]
    fn page_size_is_clamped() {
        let o = ConnectOptions { page_size: Some(5000), ..Default::default() };
        assert_eq!(o.page_size_or(1000), 1000);
        assert_eq!(ConnectOptions::default().page_size_or(1000), 1000);
        let o = ConnectOptions { page_size: Some(0), ..Default::default() };
        assert_eq!(o.page_size_or(1000), 1);
    }
}
