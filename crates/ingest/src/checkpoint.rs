//! Collectors' checkpoints: the JSON a collector stores with every page in the store's
//! `checkpoints` table (keyed by source, checkpoint scope and stream), in the page's own
//! transaction, so a page and the checkpoint past it commit together. One vocabulary for every
//! collector: the IdP and Elasticsearch ones (crate `collect`) and CloudTrail's
//! (`collect-cloudtrail`); each keeps its own state type for what its stream needs.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use trailproof_model::Millis;

/// Incremental runs (`collect` without `--since`).
pub const INCREMENTAL: &str = "incremental";
/// Backfills (`collect --since`); resumed only by a run with the same `--since`/`--until`.
pub const BACKFILL: &str = "backfill";

/// A window whose pages are being read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The window `[from, to)` (CloudTrail's LookupEvents queries it with the inclusive bounds
    /// `[from, to - 1 ms]`).
    pub from: Millis,
    pub to: Millis,
    /// Which query of the window comes next (Google: 0 = login, 1 = saml; CloudTrail: an index
    /// into its event sources).
    pub query: usize,
    /// The next page of that query; `None`: its first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// The stored checkpoint, or a fresh one when none is stored. An unreadable one (another
/// version, corruption) starts over, which only costs re-reading (records are deduplicated),
/// with the warning to report: never silently.
pub fn read<T: DeserializeOwned + Default>(stored: Option<&str>) -> (T, Option<String>) {
    match stored {
        None => (T::default(), None),
        Some(s) => match serde_json::from_str(s) {
            Ok(v) => (v, None),
            Err(e) => (T::default(), Some(format!("unreadable checkpoint ({e}); starting over"))),
        },
    }
}

/// A checkpoint as stored.
pub fn to_json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "{}".into())
}

/// The coverage rule as a page ends: a window's coverage may be claimed only if no record of it
/// was quarantined, on this page (`quarantined`) or an earlier one (`tainted`, kept in the
/// checkpoint). Returns `None` while the window goes on, else whether its claim may be recorded
/// (`false`: withheld); `tainted` is updated for the next page.
pub fn close_page(tainted: &mut bool, quarantined: bool, window_finishes: bool) -> Option<bool> {
    *tainted |= quarantined;
    if !window_finishes {
        return None;
    }
    let clean = !*tainted;
    *tainted = false;
    Some(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quarantine_withholds_its_windows_claim_and_only_its_own() {
        let mut tainted = false;
        assert_eq!(close_page(&mut tainted, false, false), None);
        assert_eq!(close_page(&mut tainted, true, false), None, "a quarantine mid-window");
        assert!(tainted, "kept for the window's later pages");
        assert_eq!(close_page(&mut tainted, false, true), Some(false), "the window's claim is withheld");
        assert!(!tainted, "the next window starts clean");
        assert_eq!(close_page(&mut tainted, false, true), Some(true));
        assert_eq!(close_page(&mut tainted, true, true), Some(false), "a quarantine on the last page");
    }

    #[test]
    fn an_unreadable_checkpoint_starts_over_and_says_so() {
        let p = Pending { from: 5, to: 10, query: 1, next: Some("t".into()) };
        let j = to_json(&p);
        assert_eq!(j, r#"{"from":5,"to":10,"query":1,"next":"t"}"#);
        assert_eq!(read::<Option<Pending>>(Some(&j)), (Some(p), None));
        assert_eq!(read::<Option<Pending>>(None), (None, None));
        let (fresh, warn) = read::<Option<Pending>>(Some("garbage"));
        assert_eq!(fresh, None);
        assert!(warn.is_some_and(|w| w.starts_with("unreadable checkpoint") && w.ends_with("starting over")));
    }
}
