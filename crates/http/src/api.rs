//! One source instance's GET requests: pacing, authentication, retries.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use url::Url;

use crate::HttpError;
use crate::oauth::TokenSource;
use crate::pace::Pacer;
use crate::retry::{GiveUp, RetryPolicy, server_wait};
use crate::secret::{Secret, redact};
use crate::vendor::vendor_error;

/// How requests authenticate.
#[derive(Clone)]
pub enum Auth {
    None,
    /// A fixed `Authorization` value, e.g. `SSWS <token>` (Okta API token).
    Header(Secret),
    /// `Bearer <access token>` from an OAuth token endpoint.
    Bearer(Arc<TokenSource>),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Header(_) => f.write_str("Header(***)"),
            Auth::Bearer(_) => f.write_str("Bearer(token source)"),
        }
    }
}

/// Something worth telling the user while a request is retried.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub path: String,
    pub kind: NoteKind,
    /// How long we wait before the next attempt.
    pub wait: Duration,
    /// Retry number (1 = first retry).
    pub retry: u32,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// 429: the server asked us to slow down.
    Throttled,
    /// 5xx, 408, connection error, unreadable body.
    Retrying,
    /// A 401 made us fetch a new access token.
    TokenRefreshed,
}

/// Receives [`Note`]s (the collector forwards them to its progress reporter).
pub type Observer = Arc<dyn Fn(&Note) + Send + Sync>;

/// A successful response.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// The request's URL path (for messages and store origins).
    pub path: String,
}

/// Counters of one [`Api`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ApiStats {
    /// HTTP requests sent (each attempt counts).
    pub requests: u64,
    pub retries: u64,
    pub throttled: u64,
    pub token_refreshes: u64,
    /// Time in requests (send to last body byte).
    pub http_time: Duration,
    /// Time waiting for the pacer, server-requested pauses and backoff.
    pub wait_time: Duration,
}

#[derive(Default)]
struct Stats {
    requests: AtomicU64,
    retries: AtomicU64,
    throttled: AtomicU64,
    refreshes: AtomicU64,
    http_ns: AtomicU64,
    wait_ns: AtomicU64,
}

fn add(a: &AtomicU64, d: Duration) {
    a.fetch_add(d.as_nanos().min(u128::from(u64::MAX)) as u64, Ordering::Relaxed);
}

/// The GET side of one source instance.
pub struct Api {
    http: reqwest::Client,
    pacer: Arc<Pacer>,
    policy: RetryPolicy,
    auth: Auth,
    observer: Option<Observer>,
    stats: Stats,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("policy", &self.policy).field("auth", &self.auth).finish()
    }
}

/// A short description of a transport error, without the URL.
pub(crate) fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_decode() {
        "the response body was cut short"
    } else if e.is_request() {
        "the request failed"
    } else {
        "HTTP error"
    };
    // The innermost cause says most (e.g. "connection refused", "unexpected end of file").
    let mut cause: Option<String> = None;
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = src {
        cause = Some(s.to_string());
        src = s.source();
    }
    match cause {
        Some(c) => redact(&format!("{kind}: {c}")),
        None => kind.to_string(),
    }
}

enum Attempt {
    Done(Reply),
    /// `server`: the wait the server asked for.
    Retry {
        server: Option<Duration>,
        why: String,
        throttled: bool,
    },
    Unauthorized(HeaderMap, Vec<u8>),
    Fail(HttpError),
}

impl Api {
    pub fn new(http: reqwest::Client, pacer: Arc<Pacer>, policy: RetryPolicy, auth: Auth) -> Api {
        Api { http, pacer, policy, auth, observer: None, stats: Stats::default() }
    }

    pub fn with_observer(mut self, o: Option<Observer>) -> Api {
        if let Auth::Bearer(ts) = &self.auth {
            ts.set_observer(o.clone());
        }
        self.observer = o;
        self
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    pub fn auth(&self) -> &Auth {
        &self.auth
    }

    /// Reachability probe: one GET of `url` without credentials and without retries. Any HTTP
    /// answer counts (its status is returned); a transport failure is described.
    pub async fn reach(&self, url: &Url) -> Result<u16, String> {
        match self.http.get(url.clone()).send().await {
            Ok(r) => Ok(r.status().as_u16()),
            Err(e) => Err(describe(&e)),
        }
    }

    pub fn stats(&self) -> ApiStats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ApiStats {
            requests: l(&self.stats.requests),
            retries: l(&self.stats.retries),
            throttled: l(&self.stats.throttled),
            token_refreshes: l(&self.stats.refreshes),
            http_time: Duration::from_nanos(l(&self.stats.http_ns)),
            wait_time: Duration::from_nanos(l(&self.stats.wait_ns)),
        }
    }

    fn note(&self, n: Note) {
        match n.kind {
            NoteKind::Throttled => {
                tracing::info!(path = %n.path, wait_ms = n.wait.as_millis() as u64, retry = n.retry, "throttled: {}", n.detail)
            }
            NoteKind::Retrying => {
                tracing::info!(path = %n.path, wait_ms = n.wait.as_millis() as u64, retry = n.retry, "retrying: {}", n.detail)
            }
            NoteKind::TokenRefreshed => tracing::info!(path = %n.path, "access token refused; fetched a new one"),
        }
        if let Some(o) = &self.observer {
            o(&n);
        }
    }

    /// Gets the access token header value for this attempt.
    async fn auth_header(&self) -> Result<Option<HeaderValue>, HttpError> {
        let text = match &self.auth {
            Auth::None => return Ok(None),
            Auth::Header(s) => s.expose().to_string(),
            Auth::Bearer(ts) => format!("Bearer {}", ts.token().await?.expose()),
        };
        let mut v = HeaderValue::from_str(&text)
            .map_err(|_| HttpError::Config("the credential contains characters not allowed in a header".into()))?;
        v.set_sensitive(true);
        Ok(Some(v))
    }

    /// GETs `url` until it succeeds with a body that `validate` accepts, following the retry
    /// rules of the crate docs. `validate` sees 2xx bodies only; an `Err` means "unreadable,
    /// ask again" (a truncated page).
    pub async fn get(
        &self,
        url: &Url,
        validate: &(dyn Fn(&[u8]) -> Result<(), String> + Sync),
    ) -> Result<Reply, HttpError> {
        self.send(Method::GET, url, None, validate).await
    }

    /// Sends `method` to `url` with an optional body (`(content type, bytes)`), by the same
    /// retry rules as [`Api::get`]. Only for requests that may be sent again when their outcome
    /// is unknown (a search; a bulk `create`, which refuses a document it already holds).
    pub async fn send(
        &self,
        method: Method,
        url: &Url,
        body: Option<(&'static str, &[u8])>,
        validate: &(dyn Fn(&[u8]) -> Result<(), String> + Sync),
    ) -> Result<Reply, HttpError> {
        let method_name: &'static str = match method {
            Method::GET => "GET",
            Method::POST => "POST",
            Method::PUT => "PUT",
            Method::DELETE => "DELETE",
            Method::HEAD => "HEAD",
            _ => "HTTP",
        };
        let path = url.path().to_string();
        let mut retries: u32 = 0;
        let mut refreshed = false;
        loop {
            add(&self.stats.wait_ns, self.pacer.ready().await);
            let header = self.auth_header().await?;
            let t0 = Instant::now();
            let attempt = self.attempt(&method, url, &path, body, header, validate).await;
            add(&self.stats.http_ns, t0.elapsed());
            let (server, why, throttled) = match attempt {
                Attempt::Done(r) => {
                    // Okta: nothing left in this window -> hold until it resets.
                    if let Some(w) = server_wait(&r.headers, false, SystemTime::now())
                        && !w.is_zero()
                        && w <= self.policy.max_server_wait
                    {
                        tracing::debug!(path = %path, wait_ms = w.as_millis() as u64, "rate limit window used up; pausing");
                        self.pacer.hold_for(w);
                    }
                    return Ok(r);
                }
                Attempt::Fail(e) => return Err(e),
                Attempt::Unauthorized(_headers, body) => {
                    let error = vendor_error(&body);
                    match &self.auth {
                        Auth::Bearer(ts) if !refreshed => {
                            refreshed = true;
                            ts.invalidate().await;
                            self.stats.refreshes.fetch_add(1, Ordering::Relaxed);
                            self.note(Note {
                                path: path.clone(),
                                kind: NoteKind::TokenRefreshed,
                                wait: Duration::ZERO,
                                retry: retries,
                                detail: error.message,
                            });
                            continue;
                        }
                        _ => return Err(HttpError::Unauthorized { path, error }),
                    }
                }
                Attempt::Retry { server, why, throttled } => (server, why, throttled),
            };
            let wait = match self.policy.next_wait(retries, server) {
                Ok(wait) => wait,
                Err(GiveUp::Exhausted) => {
                    return Err(HttpError::GaveUp { method: method_name, path, attempts: retries + 1, last: why });
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
            self.stats.retries.fetch_add(1, Ordering::Relaxed);
            if throttled {
                self.stats.throttled.fetch_add(1, Ordering::Relaxed);
            }
            self.note(Note {
                path: path.clone(),
                kind: if throttled { NoteKind::Throttled } else { NoteKind::Retrying },
                wait,
                retry: retries,
                detail: why,
            });
            if throttled {
                // Every request of this source waits, not only this one.
                self.pacer.hold_for(wait);
            } else {
                let t = Instant::now();
                tokio::time::sleep(wait).await;
                add(&self.stats.wait_ns, t.elapsed());
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        method: &Method,
        url: &Url,
        path: &str,
        body: Option<(&'static str, &[u8])>,
        header: Option<HeaderValue>,
        validate: &(dyn Fn(&[u8]) -> Result<(), String> + Sync),
    ) -> Attempt {
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let mut rb = self.http.request(method.clone(), url.clone()).header("accept", "application/json");
        if let Some((content_type, bytes)) = body {
            rb = rb.header(reqwest::header::CONTENT_TYPE, content_type).body(bytes.to_vec());
        }
        if let Some(h) = header {
            rb = rb.header(AUTHORIZATION, h);
        }
        let resp = match rb.send().await {
            Ok(r) => r,
            Err(e) => {
                return Attempt::Retry { server: None, why: describe(&e), throttled: false };
            }
        };
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = match resp.bytes().await {
            Ok(b) => Vec::from(b),
            Err(e) => {
                return Attempt::Retry { server: None, why: describe(&e), throttled: false };
            }
        };
        tracing::debug!(path = %path, status = status.as_u16(), bytes = body.len(), method = %method, "response");
        if status.is_success() {
            return match validate(&body) {
                Ok(()) => Attempt::Done(Reply { status: status.as_u16(), headers, body, path: path.to_string() }),
                Err(why) => Attempt::Retry {
                    server: None,
                    why: format!("unreadable response body ({} bytes): {}", body.len(), redact(&why)),
                    throttled: false,
                },
            };
        }
        if status == StatusCode::UNAUTHORIZED {
            return Attempt::Unauthorized(headers, body);
        }
        let throttled = status == StatusCode::TOO_MANY_REQUESTS;
        if throttled || status == StatusCode::REQUEST_TIMEOUT || status.is_server_error() {
            let err = vendor_error(&body);
            let server = if throttled {
                server_wait(&headers, true, SystemTime::now())
            } else {
                headers
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| crate::retry::parse_retry_after(v, SystemTime::now()))
            };
            return Attempt::Retry { server, why: format!("HTTP {} ({})", status.as_u16(), err.message), throttled };
        }
        Attempt::Fail(HttpError::Refused {
            path: path.to_string(),
            status: status.as_u16(),
            error: vendor_error(&body),
        })
    }
}
