//! Request pacing: a `governor` rate limiter at the vendor's documented rate, plus a "not
//! before" instant that a server's `Retry-After` / `X-Rate-Limit-Reset` pushes forward.
//!
//! The limiter allows no burst: requests are spaced evenly at `period / n`, stretched by
//! [`SAFETY_MARGIN`] so that a server counting requests in fixed windows never sees `n + 1` in
//! one window because of network jitter. A long backfill therefore runs at about 98% of the
//! allowed rate and rarely meets a 429.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Requests are spaced this much wider than `period / n` (2%).
pub const SAFETY_MARGIN: f64 = 1.02;

/// Paces the requests of one API client (all of one source instance).
pub struct Pacer {
    limiter: Option<DefaultDirectRateLimiter>,
    interval: Option<Duration>,
    not_before: Mutex<Option<Instant>>,
}

impl std::fmt::Debug for Pacer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pacer").field("interval", &self.interval).finish()
    }
}

impl Pacer {
    /// At most `n` requests per `period`; `n == 0` (or a zero period) disables pacing.
    pub fn new(n: u32, period: Duration) -> Pacer {
        let interval = (n > 0 && !period.is_zero()).then(|| period.div_f64(f64::from(n)).mul_f64(SAFETY_MARGIN));
        let limiter =
            interval.and_then(Quota::with_period).map(|q| RateLimiter::direct(q.allow_burst(NonZeroU32::MIN)));
        Pacer { limiter, interval, not_before: Mutex::new(None) }
    }

    /// No pacing at all.
    pub fn unlimited() -> Pacer {
        Pacer::new(0, Duration::ZERO)
    }

    /// The spacing between two requests, if paced.
    pub fn interval(&self) -> Option<Duration> {
        self.interval
    }

    /// Waits until the next request may go: after any server-imposed pause, then the limiter.
    /// Returns how long it waited.
    pub async fn ready(&self) -> Duration {
        let start = Instant::now();
        loop {
            let until = *self.not_before.lock().unwrap_or_else(|p| p.into_inner());
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t.into()).await,
                _ => break,
            }
        }
        if let Some(l) = &self.limiter {
            l.until_ready().await;
        }
        start.elapsed()
    }

    /// Holds every request of this pacer until `wait` from now (a server asked for it).
    pub fn hold_for(&self, wait: Duration) {
        let t = Instant::now() + wait;
        let mut nb = self.not_before.lock().unwrap_or_else(|p| p.into_inner());
        if nb.is_none_or(|cur| cur < t) {
            *nb = Some(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn spaces_requests_evenly_without_burst() {
        // 20 per second -> 51 ms apart with the margin.
        let p = Pacer::new(20, Duration::from_secs(1));
        assert_eq!(p.interval(), Some(Duration::from_millis(51)));
        let t = Instant::now();
        for _ in 0..6 {
            p.ready().await;
        }
        let e = t.elapsed();
        // The first is immediate, then 5 intervals.
        assert!(e >= Duration::from_millis(250) && e < Duration::from_millis(1000), "{e:?}");
    }

    #[tokio::test]
    async fn zero_disables_pacing_and_hold_delays() {
        let p = Pacer::unlimited();
        assert_eq!(p.interval(), None);
        let t = Instant::now();
        for _ in 0..100 {
            p.ready().await;
        }
        assert!(t.elapsed() < Duration::from_millis(500));
        p.hold_for(Duration::from_millis(120));
        p.hold_for(Duration::from_millis(10)); // a shorter hold does not shorten the first
        let waited = p.ready().await;
        assert!(waited >= Duration::from_millis(110), "{waited:?}");
    }
}
