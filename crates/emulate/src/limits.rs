//! Fixed-window request limits, in real time (collectors wait on them with real sleeps).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::clock::wall_ms;

/// `max` requests per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window: Duration,
}

/// The vendors' documented limits (defaults) or test values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Okta `/api/v1/logs`, org-wide: 50 per minute (Enterprise; 20 to 120 by org type,
    /// okta/okta-developer-docs `docs/reference/rl-global-mgmt/index.md`).
    pub okta: Limit,
    /// Graph identity and access reports: 5 requests per 10 s per app (client id).
    pub graph: Limit,
    /// Admin SDK: 2,400 queries per minute per user and project by default
    /// (developers.google.com/admin-sdk/reports/v1/limits); over it, HTTP 503.
    pub google: Limit,
    /// CloudTrail LookupEvents: 2 per second per region.
    pub cloudtrail: Limit,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            okta: Limit { max: 50, window: Duration::from_secs(60) },
            graph: Limit { max: 5, window: Duration::from_secs(10) },
            google: Limit { max: 2400, window: Duration::from_secs(60) },
            cloudtrail: Limit { max: 2, window: Duration::from_secs(1) },
        }
    }
}

/// The outcome of counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hit {
    pub limit: u32,
    pub remaining: u32,
    pub over: bool,
    /// Epoch seconds at which the window resets.
    pub reset_epoch_s: i64,
    /// Whole seconds until then (at least 1).
    pub retry_after_s: u64,
}

struct Window {
    start: Instant,
    start_wall_ms: i64,
    count: u32,
}

/// Fixed windows per key; each window starts with its first request.
pub(crate) struct Limiter {
    limit: Limit,
    windows: Mutex<HashMap<String, Window>>,
}

impl Limiter {
    pub(crate) fn new(limit: Limit) -> Self {
        Limiter { limit, windows: Mutex::new(HashMap::new()) }
    }

    pub(crate) fn hit(&self, key: &str) -> Hit {
        let now = Instant::now();
        let mut map = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let w = map.entry(key.to_string()).or_insert_with(|| Window { start: now, start_wall_ms: wall_ms(), count: 0 });
        if now.duration_since(w.start) >= self.limit.window {
            *w = Window { start: now, start_wall_ms: wall_ms(), count: 0 };
        }
        w.count = w.count.saturating_add(1);
        let left = self.limit.window.saturating_sub(now.duration_since(w.start));
        let reset_ms = w.start_wall_ms + self.limit.window.as_millis() as i64;
        Hit {
            limit: self.limit.max,
            remaining: self.limit.max.saturating_sub(w.count),
            over: w.count > self.limit.max,
            reset_epoch_s: (reset_ms + 999) / 1000,
            retry_after_s: left.as_secs_f64().ceil().max(1.0) as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_key_and_resets() {
        let l = Limiter::new(Limit { max: 2, window: Duration::from_millis(50) });
        assert_eq!(l.hit("a").remaining, 1);
        assert!(!l.hit("a").over);
        let third = l.hit("a");
        assert!(third.over);
        assert_eq!(third.remaining, 0);
        assert!(third.reset_epoch_s * 1000 >= wall_ms());
        assert!(!l.hit("b").over);
        std::thread::sleep(Duration::from_millis(60));
        assert!(!l.hit("a").over);
    }
}
