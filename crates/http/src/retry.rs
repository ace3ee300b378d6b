//! When and how long to wait before trying a request again.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;

/// Retry bounds for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (5xx, 408, 429, connection errors, unreadable bodies).
    pub max_retries: u32,
    /// First backoff delay; doubled per retry.
    pub initial: Duration,
    /// Upper bound of one backoff delay.
    pub max: Duration,
    /// The longest wait a server may ask for (`Retry-After`, `X-Rate-Limit-Reset`). A longer
    /// request ends the retries with an error instead of stalling a scheduled run.
    pub max_server_wait: Duration,
}

/// Why [`RetryPolicy::next_wait`] says to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// `max_retries` retries were made.
    Exhausted,
    /// The server asked for a wait longer than `max_server_wait`.
    WaitTooLong(Duration),
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 6,
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            max_server_wait: Duration::from_secs(600),
        }
    }
}

impl RetryPolicy {
    /// The `[collect]` section's retry knobs (`max_retries`, `retry_initial_ms`, `retry_max_ms`),
    /// for every collector: the IdP APIs', Elasticsearch and CloudTrail's.
    pub fn from_config(cfg: &trailproof_model::config::CollectConfig) -> RetryPolicy {
        RetryPolicy {
            max_retries: cfg.max_retries,
            initial: Duration::from_millis(cfg.retry_initial_ms),
            max: Duration::from_millis(cfg.retry_max_ms.max(cfg.retry_initial_ms)),
            ..RetryPolicy::default()
        }
    }

    /// The wait before the next attempt, after a failed one with `retries` retries made so far:
    /// the wait the server asked for (`server`), else the backoff; or why to stop. Every retry
    /// loop of the collectors asks this (the APIs', the token endpoints', CloudTrail's).
    pub fn next_wait(&self, retries: u32, server: Option<Duration>) -> Result<Duration, GiveUp> {
        if retries >= self.max_retries {
            return Err(GiveUp::Exhausted);
        }
        match server {
            Some(wait) if wait > self.max_server_wait => Err(GiveUp::WaitTooLong(wait)),
            Some(wait) => Ok(wait),
            None => Ok(self.backoff(retries)),
        }
    }

    /// Exponential backoff with jitter for retry number `retry` (0 = first retry): a uniform
    /// draw from `[d/2, d]` where `d = min(max, initial * 2^retry)`.
    pub fn backoff(&self, retry: u32) -> Duration {
        let d = self.initial.saturating_mul(1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX)).min(self.max);
        let lo = d / 2;
        let span = d.saturating_sub(lo);
        if span.is_zero() {
            return d;
        }
        let frac = crate::unit_random();
        lo + span.mul_f64(frac)
    }
}

/// Parses a `Retry-After` value: delay seconds (`120`, also `1.5`) or an HTTP date
/// (`Wed, 21 Oct 2015 07:28:00 GMT`, also the obsolete RFC 850 and asctime forms). A date in
/// the past gives zero. `None` when the value is neither.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if v.bytes().all(|b| b.is_ascii_digit()) {
        return v.parse::<u64>().ok().map(Duration::from_secs);
    }
    if let Ok(f) = v.parse::<f64>() {
        return (f.is_finite() && f >= 0.0).then(|| Duration::from_secs_f64(f.min(1e9)));
    }
    let when = parse_http_date(v)?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses an HTTP date (IMF-fixdate, RFC 850, asctime) into a system time.
pub fn parse_http_date(v: &str) -> Option<SystemTime> {
    use time::PrimitiveDateTime;
    use time::macros::format_description;
    let v = v.trim();
    let dt: PrimitiveDateTime = if let Some((_weekday, rest)) = v.split_once(", ") {
        let rest = rest.trim();
        let fixdate = format_description!("[day] [month repr:short] [year] [hour]:[minute]:[second] GMT");
        if let Ok(d) = PrimitiveDateTime::parse(rest, fixdate) {
            d
        } else {
            // RFC 850: `21-Oct-15 07:28:00 GMT`; a two-digit year is 20yy (RFC 9110 reads it
            // as the nearest century, and no Retry-After points to the 1900s).
            let (date, time_part) = rest.split_once(' ')?;
            let mut it = date.split('-');
            let (d, m, y) = (it.next()?, it.next()?, it.next()?);
            let year = if y.len() == 2 { format!("20{y}") } else { y.to_string() };
            PrimitiveDateTime::parse(&format!("{d} {m} {year} {time_part}"), fixdate).ok()?
        }
    } else {
        // asctime: `Sun Nov  6 08:49:37 1994`
        let parts: Vec<&str> = v.split_whitespace().collect();
        let [_, mon, day, hms, year] = parts.as_slice() else { return None };
        let f = format_description!("[day padding:none] [month repr:short] [year] [hour]:[minute]:[second]");
        PrimitiveDateTime::parse(&format!("{day} {mon} {year} {hms}"), f).ok()?
    };
    let secs = dt.assume_utc().unix_timestamp();
    if secs < 0 {
        return None;
    }
    Some(UNIX_EPOCH + Duration::from_secs(secs as u64))
}

/// How long a response asks us to wait before the next request, from `Retry-After` or, failing
/// that, Okta's `X-Rate-Limit-Reset` (epoch seconds of the window's end; Okta sends it on every
/// response, so it is read only when the response is a 429 or says no requests remain).
pub fn server_wait(headers: &HeaderMap, throttled: bool, now: SystemTime) -> Option<Duration> {
    if let Some(d) = header_str(headers, "retry-after").and_then(|v| parse_retry_after(v, now)) {
        return Some(d);
    }
    let remaining_zero = header_str(headers, "x-rate-limit-remaining").is_some_and(|v| v.trim() == "0");
    if throttled || remaining_zero {
        return okta_reset(headers, now);
    }
    None
}

/// Time until Okta's `X-Rate-Limit-Reset` (UTC epoch seconds), plus one second for clock skew
/// and the reset's whole-second rounding. Zero when the reset is past.
pub fn okta_reset(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let reset: u64 = header_str(headers, "x-rate-limit-reset")?.trim().parse().ok()?;
    let at = UNIX_EPOCH + Duration::from_secs(reset);
    Some(at.duration_since(now).map(|d| d + Duration::from_secs(1)).unwrap_or(Duration::ZERO))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn retry_after_seconds() {
        assert_eq!(parse_retry_after("120", at(0)), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after(" 0 ", at(0)), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("1.5", at(0)), Some(Duration::from_millis(1500)));
        assert_eq!(parse_retry_after("-3", at(0)), None);
        assert_eq!(parse_retry_after("soon", at(0)), None);
        assert_eq!(parse_retry_after("", at(0)), None);
    }

    #[test]
    fn retry_after_http_dates() {
        // Wed, 21 Oct 2015 07:28:00 GMT = 1445412480
        let now = at(1_445_412_480 - 30);
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Wed Oct 21 07:28:00 2015", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_retry_after("Sun Nov  6 08:49:37 1994", at(0)).map(|d| d.as_secs()), Some(784_111_777));
        // In the past: no wait.
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", at(1_445_412_480 + 5)), Some(Duration::ZERO));
    }

    #[test]
    fn okta_reset_header() {
        let mut h = HeaderMap::new();
        h.insert("x-rate-limit-reset", HeaderValue::from_static("1000"));
        h.insert("x-rate-limit-remaining", HeaderValue::from_static("7"));
        assert_eq!(okta_reset(&h, at(990)), Some(Duration::from_secs(11)));
        assert_eq!(okta_reset(&h, at(2000)), Some(Duration::ZERO));
        // Reset is read on a 429 or when nothing remains, not on every response.
        assert_eq!(server_wait(&h, false, at(990)), None);
        assert_eq!(server_wait(&h, true, at(990)), Some(Duration::from_secs(11)));
        h.insert("x-rate-limit-remaining", HeaderValue::from_static("0"));
        assert_eq!(server_wait(&h, false, at(990)), Some(Duration::from_secs(11)));
        // Retry-After wins.
        h.insert("retry-after", HeaderValue::from_static("2"));
        assert_eq!(server_wait(&h, true, at(990)), Some(Duration::from_secs(2)));
    }

    #[test]
    fn the_next_wait_is_the_servers_or_the_backoff_until_the_retries_run_out() {
        let p = RetryPolicy {
            max_retries: 2,
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            max_server_wait: Duration::from_secs(60),
        };
        let w = p.next_wait(1, None).unwrap();
        assert!(Duration::from_millis(100) <= w && w <= Duration::from_millis(200), "{w:?}");
        assert_eq!(p.next_wait(0, Some(Duration::from_secs(30))), Ok(Duration::from_secs(30)));
        assert_eq!(p.next_wait(0, Some(Duration::from_secs(61))), Err(GiveUp::WaitTooLong(Duration::from_secs(61))));
        // Out of retries outranks a wait too long.
        assert_eq!(p.next_wait(2, Some(Duration::from_secs(61))), Err(GiveUp::Exhausted));
        assert_eq!(p.next_wait(2, None), Err(GiveUp::Exhausted));
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let p = RetryPolicy {
            max_retries: 5,
            initial: Duration::from_millis(100),
            max: Duration::from_millis(1000),
            max_server_wait: Duration::from_secs(1),
        };
        for _ in 0..50 {
            let d0 = p.backoff(0);
            assert!(d0 >= Duration::from_millis(50) && d0 <= Duration::from_millis(100), "{d0:?}");
            let d2 = p.backoff(2);
            assert!(d2 >= Duration::from_millis(200) && d2 <= Duration::from_millis(400), "{d2:?}");
            let d9 = p.backoff(9);
            assert!(d9 >= Duration::from_millis(500) && d9 <= Duration::from_millis(1000), "{d9:?}");
            assert!(p.backoff(u32::MAX) <= Duration::from_millis(1000));
        }
        let zero = RetryPolicy { initial: Duration::ZERO, ..p };
        assert_eq!(zero.backoff(3), Duration::ZERO);
    }
}
