//! The checkpoint a collector stores with every page (JSON in the store's `checkpoints` table,
//! keyed by source, checkpoint scope and stream).

use serde::{Deserialize, Serialize};
use trailproof_model::Millis;

/// Incremental runs (`collect` without `--since`).
pub const INCREMENTAL: &str = "incremental";
/// Backfills (`collect --since`); resumed only by a run with the same `--since`/`--until`.
pub const BACKFILL: &str = "backfill";

/// A window whose pages are being read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The window `[from, to)`.
    pub from: Millis,
    pub to: Millis,
    /// Which query of the window comes next (Google: 0 = login, 1 = saml).
    pub query: usize,
    /// The next page of that query; `None`: its first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// What a source instance's stream has done so far.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct State {
    /// Everything before this time has been read and either recorded as coverage or, when a
    /// record of its window was quarantined, deliberately left uncovered. The next run starts
    /// here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_until: Option<Millis>,
    /// Okta polling: the `next` link to poll from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// A window in progress (Entra, Google, bounded Okta requests).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
    /// A record read since the last coverage claim was quarantined: the claim in progress will
    /// be withheld.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tainted: bool,
    /// Backfills: the `--since`/`--until` this state belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Millis>,
    /// The coverage scope learned from the records (Google `my_customer`, Entra domain names).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// `[[collect.elasticsearch]]` streams: the query in progress and its point-in-time cursor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elastic: Option<crate::elastic::ElasticState>,
}

impl State {
    /// Reads a stored checkpoint; an unreadable one (another version, corruption) starts over,
    /// which only costs re-reading (records are deduplicated).
    pub fn parse(s: &str) -> Result<State, String> {
        serde_json::from_str(s).map_err(|e| format!("unreadable checkpoint ({e}); starting over"))
    }

    /// The stored checkpoint, or a fresh one when none is stored; an unreadable one starts over
    /// (which only costs re-reading) with the warning to report, never silently.
    pub fn read(stored: Option<&str>) -> (State, Option<String>) {
        match stored.map(State::parse) {
            None => (State::default(), None),
            Some(Ok(s)) => (s, None),
            Some(Err(w)) => (State::default(), Some(w)),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_compact() {
        let s = State {
            done_until: Some(5),
            pending: Some(Pending { from: 5, to: 10, query: 1, next: None }),
            ..Default::default()
        };
        let j = s.to_json();
        assert_eq!(j, r#"{"done_until":5,"pending":{"from":5,"to":10,"query":1}}"#);
        assert_eq!(State::parse(&j).unwrap(), s);
        assert_eq!(State::parse("{}").unwrap(), State::default());
        assert!(State::parse("https://old-style-next-link").is_err());
    }
}
