//! Progress reporting: the [`Reporter`] trait the collector calls, and three renderers:
//! [`BarReporter`] (indicatif bars, for a terminal), [`LineReporter`] (plain lines, at most one
//! per source every few seconds, for logs and cron mail) and [`NullReporter`].

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use trailproof_model::Millis;
use trailproof_model::time::format_ms;

use crate::{CheckResult, SourceReport};

/// Where a source is, after each stored page.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// `okta:main`, `entra:corp`, ...
    pub source: String,
    /// `incremental` or `backfill`.
    pub mode: &'static str,
    pub pages: u64,
    /// Records read from the API.
    pub records: u64,
    /// New records stored (the rest were duplicates, skipped or quarantined).
    pub stored: u64,
    /// The time range this run reads, when known (Okta polling reads "until caught up").
    pub range: Option<(Millis, Millis)>,
    /// Everything before this time is read (coverage recorded or withheld).
    pub done_until: Option<Millis>,
    /// The window being read, for windowed sources.
    pub window: Option<(Millis, Millis)>,
    /// The newest record time seen so far.
    pub latest: Option<Millis>,
    pub elapsed: Duration,
    /// Records per second so far.
    pub rate: f64,
}

impl Progress {
    /// The share of the range that is done, when there is a range.
    pub fn fraction(&self) -> Option<f64> {
        let (a, b) = self.range?;
        let d = self.done_until?;
        (b > a).then(|| ((d - a) as f64 / (b - a) as f64).clamp(0.0, 1.0))
    }

    /// One line: `okta:main 12 pages, 11,800 records (9,500 new), 2,300/s, done to 2026-..`.
    pub fn line(&self) -> String {
        let mut s = format!(
            "{} {}: {} pages, {} records ({} new), {:.0}/s",
            self.source, self.mode, self.pages, self.records, self.stored, self.rate
        );
        if let Some(d) = self.done_until {
            s.push_str(&format!(", done to {}", format_ms(d)));
        }
        if let Some((a, b)) = self.window {
            s.push_str(&format!(", reading {}..{}", format_ms(a), format_ms(b)));
        } else if let Some(l) = self.latest {
            s.push_str(&format!(", latest event {}", format_ms(l)));
        }
        s
    }
}

/// Receives the collector's progress. All methods have empty defaults.
pub trait Reporter: Send + Sync {
    /// A source starts: its label and mode.
    fn started(&self, _source: &str, _mode: &'static str, _range: Option<(Millis, Millis)>) {}
    /// After each stored page.
    fn progress(&self, _p: &Progress) {}
    /// Retries, throttling, token refreshes, warnings.
    fn note(&self, _source: &str, _message: &str) {}
    /// A source is done (successfully or not).
    fn finished(&self, _r: &SourceReport) {}
    /// One line of `check`.
    fn check(&self, _r: &CheckResult) {}
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullReporter;

impl Reporter for NullReporter {}

/// Plain lines to a writer (standard error by default): a progress line per source at most
/// every `interval`, every note, and a summary line per source.
pub struct LineReporter {
    out: Mutex<Box<dyn Write + Send>>,
    interval: Duration,
    last: Mutex<Vec<(String, Instant)>>,
}

impl LineReporter {
    pub fn stderr() -> LineReporter {
        LineReporter::new(Box::new(std::io::stderr()), Duration::from_secs(10))
    }

    pub fn new(out: Box<dyn Write + Send>, interval: Duration) -> LineReporter {
        LineReporter { out: Mutex::new(out), interval, last: Mutex::new(Vec::new()) }
    }

    fn line(&self, s: &str) {
        let mut o = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(o, "{s}");
        let _ = o.flush();
    }
}

impl Reporter for LineReporter {
    fn started(&self, source: &str, mode: &'static str, range: Option<(Millis, Millis)>) {
        match range {
            Some((a, b)) => self.line(&format!("{source} {mode}: reading {}..{}", format_ms(a), format_ms(b))),
            None => self.line(&format!("{source} {mode}: polling")),
        }
    }

    fn progress(&self, p: &Progress) {
        let now = Instant::now();
        {
            let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
            match last.iter_mut().find(|(s, _)| *s == p.source) {
                Some((_, t)) if now.duration_since(*t) < self.interval => return,
                Some((_, t)) => *t = now,
                None => last.push((p.source.clone(), now)),
            }
        }
        self.line(&p.line());
    }

    fn note(&self, source: &str, message: &str) {
        self.line(&format!("{source}: {message}"));
    }

    fn finished(&self, r: &SourceReport) {
        self.line(&r.line());
    }

    fn check(&self, r: &CheckResult) {
        self.line(&r.to_string());
    }
}

/// indicatif bars, one per source, on standard error.
pub struct BarReporter {
    multi: MultiProgress,
    bars: Mutex<Vec<(String, ProgressBar)>>,
}

impl Default for BarReporter {
    fn default() -> Self {
        BarReporter::new()
    }
}

impl BarReporter {
    pub fn new() -> BarReporter {
        BarReporter {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            bars: Mutex::new(Vec::new()),
        }
    }

    /// Bars drawn nowhere (tests).
    pub fn hidden() -> BarReporter {
        BarReporter {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::hidden()),
            bars: Mutex::new(Vec::new()),
        }
    }

    fn bar(&self, source: &str) -> ProgressBar {
        let mut bars = self.bars.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, b)) = bars.iter().find(|(s, _)| s == source) {
            return b.clone();
        }
        let b = self.multi.add(ProgressBar::new(1000));
        b.set_style(
            ProgressStyle::with_template("{prefix:>18} [{bar:30}] {percent:>3}% {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
        );
        b.set_prefix(source.to_string());
        bars.push((source.to_string(), b.clone()));
        b
    }
}

impl Reporter for BarReporter {
    fn started(&self, source: &str, mode: &'static str, range: Option<(Millis, Millis)>) {
        let b = self.bar(source);
        if range.is_none() {
            b.set_style(
                ProgressStyle::with_template("{prefix:>18} {spinner} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
        }
        b.set_message(format!("{mode}: starting"));
    }

    fn progress(&self, p: &Progress) {
        let b = self.bar(&p.source);
        if let Some(f) = p.fraction() {
            b.set_position((f * 1000.0) as u64);
        } else {
            b.tick();
        }
        let at = p.window.map(|(a, _)| a).or(p.latest).or(p.done_until).map(format_ms).unwrap_or_default();
        b.set_message(format!("{} pages, {} records ({} new), {:.0}/s {}", p.pages, p.records, p.stored, p.rate, at));
    }

    fn note(&self, source: &str, message: &str) {
        let _ = self.multi.println(format!("{source}: {message}"));
    }

    fn finished(&self, r: &SourceReport) {
        let b = self.bar(&r.label);
        if r.error.is_none() {
            b.set_position(1000);
        }
        b.finish_with_message(r.line());
    }

    fn check(&self, r: &CheckResult) {
        let _ = self.multi.println(r.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);

    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn p(pages: u64) -> Progress {
        Progress {
            source: "okta:main".into(),
            mode: "incremental",
            pages,
            records: pages * 10,
            stored: pages * 9,
            range: Some((0, 1000)),
            done_until: Some(250),
            window: None,
            latest: Some(1_767_225_600_000),
            elapsed: Duration::from_secs(1),
            rate: 12.4,
        }
    }

    #[test]
    fn line_reporter_throttles_progress_lines() {
        let buf = Buf::default();
        let r = LineReporter::new(Box::new(buf.clone()), Duration::from_secs(60));
        r.progress(&p(1));
        r.progress(&p(2));
        r.note("okta:main", "throttled: waiting 1 s");
        let text = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            text,
            "okta:main incremental: 1 pages, 10 records (9 new), 12/s, done to 1970-01-01T00:00:00.250Z, latest event 2026-01-01T00:00:00Z\n\
             okta:main: throttled: waiting 1 s\n"
        );
        assert_eq!(p(1).fraction(), Some(0.25));
    }

    #[test]
    fn bar_reporter_runs_hidden() {
        let r = BarReporter::hidden();
        r.started("okta:main", "incremental", Some((0, 1000)));
        r.progress(&p(3));
        r.note("okta:main", "x");
    }
}
