//! Checkpoints stored with every page/object (JSON in the store's `checkpoints` table).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use trailproof_model::Millis;

pub use trailproof_ingest::checkpoint::{BACKFILL, INCREMENTAL, Pending as LookupPending, read, to_json};

/// One region's LookupEvents stream.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LookupState {
    /// Everything before this time is read (covered, or withheld on purpose).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_until: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<LookupPending>,
    /// A record of the pending window was quarantined: its coverage will be withheld.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tainted: bool,
    /// The account learned from the records (coverage scope `ACCOUNT/REGION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Backfills: the range this state belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Millis>,
}

/// One account/region folder of a trail bucket.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct S3State {
    /// Objects named before this time are read (the next incremental run starts here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_until: Option<Millis>,
    /// The range being read, `[from, to]` of object name times before the slack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Millis>,
    /// The last object key processed in that range.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_key: Option<String>,
    /// Per record scope, the span of record times read in the range.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub span: BTreeMap<String, (Millis, Millis)>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tainted: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Millis>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Millis>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_state_round_trips_compactly() {
        let s = LookupState {
            done_until: Some(5),
            pending: Some(LookupPending { from: 5, to: 10, query: 1, next: Some("t".into()) }),
            ..Default::default()
        };
        let j = to_json(&s);
        assert_eq!(j, r#"{"done_until":5,"pending":{"from":5,"to":10,"query":1,"next":"t"}}"#);
        assert_eq!(read::<LookupState>(Some(&j)).0, s);
        let (d, warn) = read::<S3State>(Some("garbage"));
        assert_eq!(d, S3State::default());
        assert!(warn.unwrap().contains("starting over"));
    }
}
