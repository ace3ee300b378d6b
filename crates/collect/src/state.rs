//! The checkpoint a collector stores with every page (JSON in the store's `checkpoints` table,
//! keyed by source, checkpoint scope and stream).

use serde::{Deserialize, Serialize};
use trailproof_model::Millis;

pub use trailproof_ingest::checkpoint::{BACKFILL, INCREMENTAL, Pending};

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
    /// The stored checkpoint, or a fresh one (see [`trailproof_ingest::checkpoint::read`]).
    pub fn read(stored: Option<&str>) -> (State, Option<String>) {
        trailproof_ingest::checkpoint::read(stored)
    }

    pub fn to_json(&self) -> String {
        trailproof_ingest::checkpoint::to_json(self)
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
        assert_eq!(State::read(Some(&j)), (s, None));
        assert_eq!(State::read(Some("{}")), (State::default(), None));
        assert!(State::read(Some("https://old-style-next-link")).1.is_some());
    }
}
