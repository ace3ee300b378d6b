//! One request to a sink's service: pacing, retries with the shared policy
//! (`trailproof_http::RetryPolicy`), server waits honoured in full up to its bound, and which
//! failures may be retried for a request that is not idempotent.

use crate::sink::{Kind, Sink};
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Whether a request may be sent again when its outcome is not known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    /// Sending it twice does no harm (a lookup; PagerDuty's `dedup_key`; a webhook's
    /// `webhook-id`; Slack, where a duplicate message is preferred to a lost one).
    Safe,
    /// A create: after a timeout, a 5xx or a 2xx without the expected body, the caller looks the
    /// ticket up before sending it again.
    Unsafe,
}

/// Reads a 2xx body: the value the caller needs, or what is missing.
pub(crate) type Check<'a> = &'a (dyn Fn(&str) -> Result<Value, String> + Sync);

/// Any JSON (or none) will do.
pub(crate) fn any_body(body: &str) -> Result<Value, String> {
    Ok(serde_json::from_str(body).unwrap_or(Value::Null))
}

#[derive(Debug, Clone)]
pub(crate) enum CallErr {
    /// The service answered a status that is not retried.
    Refused { status: u16, body: String },
    /// An `Unsafe` request whose outcome is not known: it may have been carried out. `wait`: what
    /// the server asked for before a next attempt.
    Unknown { why: String, wait: Option<Duration> },
    /// Retries used up, or the server asked for a wait beyond the bound.
    GaveUp(String),
}

/// PagerDuty's advice on a 429: "We suggest retrying 3 times with each request being 30 seconds
/// apart" (Events API Rate Limits, developer.pagerduty.com/docs/events-api-v2/rate-limits).
pub(crate) const PAGERDUTY_THROTTLE_WAIT: Duration = Duration::from_secs(30);
pub(crate) const PAGERDUTY_THROTTLE_RETRIES: u32 = 3;

/// How long a 429 or a 5xx asks to wait before the next request:
/// - `Retry-After` (seconds or an HTTP date), on any of them. Atlassian: "If you reissue the
///   request before the retry period expires, the request will fail and return the same or
///   longer Retry-After period", and "some transient 5XX errors are accompanied by a Retry-After
///   header" (Jira Cloud, Rate limiting); ServiceNow sends it with its 429 (Inbound REST API rate
///   limiting); Slack with its 429 (Rate limits).
/// - on a 429 without it, `X-RateLimit-Reset`: Unix seconds at ServiceNow (its rules count per
///   hour, so this may be most of an hour away), an ISO 8601 time (`yyyy-MM-ddTHH:mmZ`) at
///   Atlassian.
/// - a PagerDuty 429 without either: 30 s (its advice).
pub(crate) fn server_wait(kind: Kind, status: u16, headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let h = |n: &str| headers.get(n).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    if let Some(d) = h("retry-after").and_then(|v| trailproof_http::parse_retry_after(v, now)) {
        return Some(d);
    }
    if status != 429 {
        return None;
    }
    if let Some(reset) = h("x-ratelimit-reset").and_then(reset_time) {
        // One second more for the reset's whole-second (or whole-minute) rounding.
        return Some(reset.duration_since(now).map(|d| d + Duration::from_secs(1)).unwrap_or(Duration::ZERO));
    }
    (kind == Kind::PagerDuty).then_some(PAGERDUTY_THROTTLE_WAIT)
}

/// `X-RateLimit-Reset` as a time: Unix seconds, or ISO 8601 with or without seconds.
fn reset_time(v: &str) -> Option<SystemTime> {
    use time::format_description::well_known::Rfc3339;
    use time::macros::format_description;
    if v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse::<u64>().ok().map(|s| UNIX_EPOCH + Duration::from_secs(s));
    }
    let t = match time::OffsetDateTime::parse(v, &Rfc3339) {
        Ok(t) => t,
        Err(_) => {
            let minutes = format_description!("[year]-[month]-[day]T[hour]:[minute]Z");
            time::PrimitiveDateTime::parse(v, minutes).ok()?.assume_utc()
        }
    };
    let secs = u64::try_from(t.unix_timestamp()).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

fn describe(e: &reqwest::Error) -> String {
    let mut s = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(e);
    while let Some(x) = src {
        s = format!("{s}: {x}");
        src = x.source();
    }
    s
}

impl Sink {
    /// Sends one request: paced (no bursts), retried after connection errors, timeouts, 408, 429
    /// and 5xx with the shared backoff, waiting in full what the server asks for (up to
    /// `max_wait_seconds`; a 429 holds every request of this sink). An `Unsafe` request is not
    /// sent again once it may have been carried out: the caller gets [`CallErr::Unknown`].
    pub(crate) async fn call(
        &self,
        what: &str,
        replay: Replay,
        check: Check<'_>,
        mk: &(dyn Fn() -> reqwest::RequestBuilder + Sync),
    ) -> Result<Value, CallErr> {
        let policy = self.policy;
        let mut retries: u32 = 0;
        let mut throttled_retries: u32 = 0;
        loop {
            self.pacer.ready().await;
            let (why, wait, throttled) = match self.auth(mk()).send().await {
                Err(e) => {
                    let why = format!("{what}: {}", describe(&e));
                    // A connection that was never made carried nothing: safe to send again.
                    if replay == Replay::Unsafe && !e.is_connect() {
                        return Err(CallErr::Unknown { why, wait: None });
                    }
                    (why, None, false)
                }
                Ok(resp) => {
                    let status = resp.status();
                    let code = status.as_u16();
                    let wait = server_wait(self.kind, code, resp.headers(), SystemTime::now());
                    let body = match resp.text().await {
                        Ok(b) => b,
                        Err(e) => {
                            let why = format!("{what}: HTTP {code}, the body was cut short: {}", describe(&e));
                            if replay == Replay::Unsafe && (status.is_success() || status.is_server_error()) {
                                return Err(CallErr::Unknown { why, wait: None });
                            }
                            if !(status.is_success() || status.is_server_error() || code == 429 || code == 408) {
                                return Err(CallErr::Refused { status: code, body: String::new() });
                            }
                            retries_or_give_up(&mut retries, policy.max_retries, &why)?;
                            tokio::time::sleep(policy.backoff(retries - 1)).await;
                            continue;
                        }
                    };
                    tracing::debug!(sink = %self.name(), status = code, "{what}");
                    if status.is_success() {
                        match check(&body) {
                            Ok(v) => return Ok(v),
                            Err(missing) => {
                                // Redacted before it is cut (a secret is never half shown).
                                let snippet: String =
                                    crate::text::clean(&trailproof_http::redact(&body)).chars().take(120).collect();
                                let why = format!("{what}: HTTP {code} without {missing} (body: {snippet:?})");
                                if replay == Replay::Unsafe {
                                    return Err(CallErr::Unknown { why, wait: None });
                                }
                                (why, None, false)
                            }
                        }
                    } else if code == 429 {
                        let why =
                            format!("{what}: HTTP 429 (throttled): {}", crate::classify::summary(self.kind, &body));
                        (why, wait, true)
                    } else if code == 408 || status.is_server_error() {
                        let why = format!("{what}: HTTP {code}: {}", crate::classify::summary(self.kind, &body));
                        // 408: the server gave up waiting for the request; it did nothing.
                        if replay == Replay::Unsafe && code != 408 {
                            return Err(CallErr::Unknown { why, wait });
                        }
                        (why, wait, false)
                    } else {
                        return Err(CallErr::Refused { status: code, body });
                    }
                }
            };
            if throttled && self.kind == Kind::PagerDuty {
                if throttled_retries >= PAGERDUTY_THROTTLE_RETRIES.min(policy.max_retries) {
                    return Err(CallErr::GaveUp(format!(
                        "{why}; still throttled after {throttled_retries} retries {}s apart (PagerDuty's advice)",
                        PAGERDUTY_THROTTLE_WAIT.as_secs()
                    )));
                }
                throttled_retries += 1;
            }
            retries_or_give_up(&mut retries, policy.max_retries, &why)?;
            let wait = match wait {
                Some(w) if w > policy.max_server_wait => {
                    return Err(CallErr::GaveUp(format!(
                        "{why}; the service asks to wait {} s, more than max_wait_seconds = {}",
                        w.as_secs(),
                        policy.max_server_wait.as_secs()
                    )));
                }
                Some(w) => w,
                None => policy.backoff(retries - 1),
            };
            tracing::debug!(sink = %self.name(), retry = retries, wait_ms = wait.as_millis() as u64, "retrying: {why}");
            if throttled {
                // Every request of this sink waits, not only this one.
                self.pacer.hold_for(wait);
            } else {
                tokio::time::sleep(wait).await;
            }
        }
    }
}

fn retries_or_give_up(retries: &mut u32, max: u32, why: &str) -> Result<(), CallErr> {
    if *retries >= max {
        return Err(CallErr::GaveUp(format!("gave up after {} attempts; the last: {why}", *retries + 1)));
    }
    *retries += 1;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn at(s: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn waits_asked_by_each_service() {
        let mut h = HeaderMap::new();
        // Nothing said: the caller backs off; PagerDuty's 429: 30 s.
        assert_eq!(server_wait(Kind::Jira, 429, &h, at(0)), None);
        assert_eq!(server_wait(Kind::PagerDuty, 429, &h, at(0)), Some(Duration::from_secs(30)));
        assert_eq!(server_wait(Kind::PagerDuty, 503, &h, at(0)), None);
        // ServiceNow: X-RateLimit-Reset in Unix seconds (a per-hour rule: may be far away).
        h.insert("x-ratelimit-reset", HeaderValue::from_static("1700003600"));
        assert_eq!(server_wait(Kind::ServiceNow, 429, &h, at(1_700_000_000)), Some(Duration::from_secs(3601)));
        // Atlassian: ISO 8601 to the minute.
        h.insert("x-ratelimit-reset", HeaderValue::from_static("2023-11-14T22:15Z"));
        // 2023-11-14T22:15:00Z = 1700000100
        assert_eq!(server_wait(Kind::Jira, 429, &h, at(1_700_000_000)), Some(Duration::from_secs(101)));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("2023-11-14T22:15:00.000Z"));
        assert_eq!(server_wait(Kind::Jira, 429, &h, at(1_700_000_000)), Some(Duration::from_secs(101)));
        // Retry-After wins, in full, also on a 503.
        h.insert("retry-after", HeaderValue::from_static("900"));
        assert_eq!(server_wait(Kind::Jira, 429, &h, at(1_700_000_000)), Some(Duration::from_secs(900)));
        assert_eq!(server_wait(Kind::Jira, 503, &h, at(1_700_000_000)), Some(Duration::from_secs(900)));
    }
}
