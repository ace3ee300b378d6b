//! Comparing verdicts with ground-truth labels (the simulator's `labels.ndjson`): a plain join on
//! the ConsoleLogin event id. Used by the accuracy tests and the demo.

use std::collections::BTreeMap;
use trailproof_model::verdict::{Label, VerdictRecord};

/// One disagreement, in words a developer can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub console_login_event_id: String,
    pub scenario: String,
    pub what: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Agreement {
    /// Labels checked.
    pub labels: usize,
    /// Labels whose verdict, reason, path, identity, required evidence and required signals all match.
    pub matched: usize,
    pub mismatches: Vec<Mismatch>,
    /// Verdicts with no label (should be none: a label exists for every successful ConsoleLogin).
    pub unlabelled: Vec<String>,
}

impl Agreement {
    pub fn all_match(&self) -> bool {
        self.matched == self.labels && self.unlabelled.is_empty()
    }
}

/// Checks every label against the verdict for the same ConsoleLogin.
pub fn agreement(labels: &[Label], verdicts: &[VerdictRecord]) -> Agreement {
    let by_id: BTreeMap<&str, &VerdictRecord> =
        verdicts.iter().map(|v| (v.console_login_event_id.as_str(), v)).collect();
    let mut out = Agreement { labels: labels.len(), ..Default::default() };
    for l in labels {
        let id = l.console_login_event_id.as_str();
        let mut wrong = Vec::new();
        match by_id.get(id) {
            None => wrong.push("no verdict".to_string()),
            Some(v) => {
                if v.verdict != l.verdict {
                    wrong.push(format!("verdict {} (label {})", v.verdict.as_str(), l.verdict.as_str()));
                }
                if v.reason != l.reason {
                    wrong.push(format!(
                        "reason {} (label {})",
                        v.reason.map(|r| r.as_str()).unwrap_or("null"),
                        l.reason.map(|r| r.as_str()).unwrap_or("null")
                    ));
                }
                if v.path != l.path {
                    wrong.push(format!("path {} (label {})", v.path.as_str(), l.path.as_str()));
                }
                if v.identity != l.identity {
                    wrong.push(format!("identity {:?} (label {:?})", v.identity, l.identity));
                }
                for e in &l.evidence {
                    if !v.evidence.contains(e) {
                        wrong.push(format!("evidence {} {} ({}) not cited", e.source, e.id, e.role));
                    }
                }
                for s in &l.risk.signals {
                    if !v.risk.signals.contains(s) {
                        wrong.push(format!("signal {} missing", s.as_str()));
                    }
                }
            }
        }
        if wrong.is_empty() {
            out.matched += 1;
        } else {
            out.mismatches.push(Mismatch {
                console_login_event_id: id.to_string(),
                scenario: l.scenario.clone(),
                what: wrong.join("; "),
            });
        }
    }
    let labelled: std::collections::BTreeSet<&str> = labels.iter().map(|l| l.console_login_event_id.as_str()).collect();
    out.unlabelled = verdicts
        .iter()
        .filter(|v| !labelled.contains(v.console_login_event_id.as_str()))
        .map(|v| v.console_login_event_id.clone())
        .collect();
    out
}
