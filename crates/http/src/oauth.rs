//! OAuth 2.0 access tokens from a token endpoint (client credentials with a secret or a client
//! assertion, or a JWT-bearer grant), cached until shortly before they expire.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;
use url::Url;

use crate::HttpError;
use crate::api::{Note, NoteKind, Observer, describe};
use crate::retry::{GiveUp, RetryPolicy, parse_retry_after};
use crate::secret::Secret;
use crate::vendor::auth_error;

/// Builds the token request's form fields afresh for each request (a client assertion is
/// signed anew each time, with a new `jti` and `exp`).
pub type FormFn = Box<dyn Fn() -> Result<Vec<(&'static str, Secret)>, HttpError> + Send + Sync>;

struct Cached {
    token: Secret,
    refresh_at: Instant,
}

/// Mints and caches access tokens for one source instance.
pub struct TokenSource {
    http: reqwest::Client,
    url: Url,
    form: FormFn,
    policy: RetryPolicy,
    cache: tokio::sync::Mutex<Option<Cached>>,
    observer: Mutex<Option<Observer>>,
    minted: AtomicU64,
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSource").field("path", &self.url.path()).finish()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<serde_json::Value>,
}

/// How long before its expiry a token is replaced: a quarter of its lifetime, at most a minute.
fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 4).min(Duration::from_secs(60))
}

impl TokenSource {
    pub fn new(http: reqwest::Client, url: Url, policy: RetryPolicy, form: FormFn) -> TokenSource {
        TokenSource {
            http,
            url,
            form,
            policy,
            cache: tokio::sync::Mutex::new(None),
            observer: Mutex::new(None),
            minted: AtomicU64::new(0),
        }
    }

    pub(crate) fn set_observer(&self, o: Option<Observer>) {
        *self.observer.lock().unwrap_or_else(|p| p.into_inner()) = o;
    }

    /// The token endpoint's URL (its path is what messages show).
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// Access tokens obtained so far.
    pub fn minted(&self) -> u64 {
        self.minted.load(Ordering::Relaxed)
    }

    /// A valid access token: the cached one, or a new one.
    pub async fn token(&self) -> Result<Secret, HttpError> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref()
            && Instant::now() < c.refresh_at
        {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = self.fetch().await?;
        *cache =
            Some(Cached { token: token.clone(), refresh_at: Instant::now() + lifetime - refresh_margin(lifetime) });
        Ok(token)
    }

    /// Forgets the cached token (the API refused it).
    pub async fn invalidate(&self) {
        *self.cache.lock().await = None;
    }

    fn note(&self, n: Note) {
        tracing::info!(path = %n.path, wait_ms = n.wait.as_millis() as u64, retry = n.retry, "token request retried: {}", n.detail);
        if let Some(o) = self.observer.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            o(&n);
        }
    }

    async fn fetch(&self) -> Result<(Secret, Duration), HttpError> {
        let path = self.url.path().to_string();
        let mut retries = 0u32;
        loop {
            let fields = (self.form)()?;
            // The serializer is not `Send`: keep it out of the awaits below.
            let body = {
                let mut ser = url::form_urlencoded::Serializer::new(String::new());
                for (k, v) in &fields {
                    ser.append_pair(k, v.expose());
                }
                ser.finish()
            };
            let sent = self
                .http
                .post(self.url.clone())
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "application/json")
                .body(body)
                .send()
                .await;
            // (the wait the server asked for, why, throttled)
            let (server, why, throttled) = match sent {
                Err(e) => (None, describe(&e), false),
                Ok(resp) => {
                    let status = resp.status();
                    let retry_after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| parse_retry_after(v, SystemTime::now()));
                    match resp.bytes().await {
                        Err(e) => (None, describe(&e), false),
                        Ok(bytes) if status.is_success() => match serde_json::from_slice::<TokenResponse>(&bytes) {
                            Ok(TokenResponse { access_token: Some(t), expires_in }) if !t.is_empty() => {
                                let secs = match expires_in {
                                    Some(serde_json::Value::Number(n)) => n.as_f64().unwrap_or(3600.0),
                                    Some(serde_json::Value::String(s)) => s.trim().parse().unwrap_or(3600.0),
                                    _ => 3600.0,
                                };
                                let lifetime = Duration::from_secs_f64(secs.clamp(1.0, 86_400.0));
                                self.minted.fetch_add(1, Ordering::Relaxed);
                                tracing::debug!(path = %path, lifetime_s = lifetime.as_secs(), "access token obtained");
                                return Ok((Secret::new(t), lifetime));
                            }
                            Ok(_) => {
                                return Err(HttpError::Protocol {
                                    path,
                                    why: "the token response has no access_token".into(),
                                });
                            }
                            Err(_) => (None, format!("unreadable token response ({} bytes)", bytes.len()), false),
                        },
                        Ok(bytes) => {
                            // An authentication endpoint: only its OAuth error fields are read.
                            let error = auth_error(&bytes);
                            let s = status.as_u16();
                            if s == 429 || s == 408 || status.is_server_error() {
                                (retry_after, format!("HTTP {s} ({})", error.message), s == 429)
                            } else {
                                return Err(HttpError::TokenRefused { path, status: s, error });
                            }
                        }
                    }
                }
            };
            let wait = match self.policy.next_wait(retries, server) {
                Ok(wait) => wait,
                Err(GiveUp::Exhausted) => {
                    return Err(HttpError::GaveUp { method: "POST", path, attempts: retries + 1, last: why });
                }
                Err(GiveUp::WaitTooLong(wait)) => {
                    return Err(HttpError::WaitTooLong {
                        path,
                        wait_s: wait.as_secs(),
                        max_s: self.policy.max_server_wait.as_secs(),
                    });
                }
            };
            retries += 1;
            self.note(Note {
                path: path.clone(),
                kind: if throttled { NoteKind::Throttled } else { NoteKind::Retrying },
                wait,
                retry: retries,
                detail: why,
            });
            tokio::time::sleep(wait).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_margin_scales_with_lifetime() {
        assert_eq!(refresh_margin(Duration::from_secs(3600)), Duration::from_secs(60));
        assert_eq!(refresh_margin(Duration::from_secs(2)), Duration::from_millis(500));
    }
}
