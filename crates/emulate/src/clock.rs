//! The emulator's clock: decides which events are visible yet and when tokens expire.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use trailproof_model::time::Millis;

/// How the emulated clock starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClockMode {
    /// The machine's clock. Events are all visible unless `late_events` is set.
    #[default]
    Wall,
    /// Starts at this instant and stands still until advanced (tests).
    Frozen(Millis),
    /// Starts at this instant and runs at real speed (demos over simulated days).
    Running(Millis),
}

impl ClockMode {
    /// Parses `wall`, `frozen:RFC3339` or `running:RFC3339` (for a `--clock` flag).
    pub fn parse(s: &str) -> Result<ClockMode, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("wall") {
            return Ok(ClockMode::Wall);
        }
        let (kind, at) = s
            .split_once(':')
            .ok_or_else(|| format!("invalid clock {s:?}: expected wall, frozen:RFC3339 or running:RFC3339"))?;
        let t = trailproof_model::time::parse_time(at).map_err(|e| format!("invalid clock {s:?}: {e}"))?;
        match kind.to_ascii_lowercase().as_str() {
            "frozen" => Ok(ClockMode::Frozen(t)),
            "running" => Ok(ClockMode::Running(t)),
            _ => Err(format!("invalid clock {s:?}: expected wall, frozen:RFC3339 or running:RFC3339")),
        }
    }
}

/// A shared clock that tests (or `POST /_emulator/clock`) can move forward.
#[derive(Debug)]
pub struct Clock {
    mode: ClockMode,
    started: Instant,
    offset_ms: AtomicI64,
}

pub(crate) fn wall_ms() -> Millis {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as Millis)
}

impl Clock {
    pub fn new(mode: ClockMode) -> Clock {
        Clock { mode, started: Instant::now(), offset_ms: AtomicI64::new(0) }
    }

    fn base(&self) -> Millis {
        match self.mode {
            ClockMode::Wall => wall_ms(),
            ClockMode::Frozen(t) => t,
            ClockMode::Running(t) => t + self.started.elapsed().as_millis() as Millis,
        }
    }

    /// Now, in UTC milliseconds.
    pub fn now_ms(&self) -> Millis {
        self.base() + self.offset_ms.load(Ordering::SeqCst)
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.offset_ms.fetch_add(by.as_millis() as i64, Ordering::SeqCst);
    }

    /// Sets the clock to `t` (moving it backwards is allowed but makes visible events vanish).
    pub fn set_ms(&self, t: Millis) {
        self.offset_ms.store(t - self.base(), Ordering::SeqCst);
    }

    /// True unless the clock is the machine's own, unmoved.
    pub fn is_emulated(&self) -> bool {
        self.mode != ClockMode::Wall || self.offset_ms.load(Ordering::SeqCst) != 0
    }

    pub fn mode(&self) -> ClockMode {
        self.mode
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clock_moves_only_when_advanced() {
        let c = Clock::new(ClockMode::Frozen(1_000));
        assert_eq!(c.now_ms(), 1_000);
        c.advance(Duration::from_secs(2));
        assert_eq!(c.now_ms(), 3_000);
        c.set_ms(10);
        assert_eq!(c.now_ms(), 10);
        assert!(c.is_emulated());
    }

    #[test]
    fn clock_modes_parse() {
        assert_eq!(ClockMode::parse("wall"), Ok(ClockMode::Wall));
        assert_eq!(ClockMode::parse("frozen:1970-01-01T00:00:01Z"), Ok(ClockMode::Frozen(1000)));
        assert_eq!(ClockMode::parse("running:1970-01-01T00:00:02Z"), Ok(ClockMode::Running(2000)));
        assert!(ClockMode::parse("frozen:yesterday").unwrap_err().contains("invalid clock"));
        assert!(ClockMode::parse("sometimes").is_err());
    }

    #[test]
    fn wall_clock_is_not_emulated_until_moved() {
        let c = Clock::new(ClockMode::Wall);
        assert!(!c.is_emulated());
        assert!((c.now_ms() - wall_ms()).abs() < 1000);
        c.advance(Duration::from_secs(60));
        assert!(c.is_emulated());
    }
}
