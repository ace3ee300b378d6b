//! Span coverage per input file.
//!
//! An import vouches for the span of the records it read, per source and scope: between its
//! earliest and latest record, trailproof holds every record. A problem in one input (a record
//! quarantined, a record of another source, a tail that could not be read) breaks that promise
//! around that input only: the files of one export are pages in time order, so the records the
//! problem may hide lie between the last clean record before the problem file's records and the
//! first clean record after them. That stretch is withheld (per scope, from the clean inputs'
//! records of that scope; the clean records at its two ends stay covered), the rest of the clean
//! inputs' span is recorded. A problem input with no datable record at all gives no such bound:
//! nothing is recorded for its source. Clean means: for that source (an auto import's problem
//! whose source is a guess counts for every source).

use std::collections::{BTreeMap, BTreeSet};
use trailproof_model::{Millis, Source};

/// Which sources a problem in an input touches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Touches {
    All,
    Sources(BTreeSet<Source>),
}

impl Default for Touches {
    fn default() -> Touches {
        Touches::none()
    }
}

impl Touches {
    pub fn none() -> Touches {
        Touches::Sources(BTreeSet::new())
    }

    pub fn add(&mut self, s: Source) {
        if let Touches::Sources(set) = self {
            set.insert(s);
        }
    }

    pub fn includes(&self, s: Source) -> bool {
        match self {
            Touches::All => true,
            Touches::Sources(set) => set.contains(&s),
        }
    }
}

/// What coverage needs to know of one input.
#[derive(Debug, Clone)]
pub(crate) struct InputSpan {
    pub name: String,
    /// Under a directory whose `coverage.json` states the coverage: its records add no span.
    pub in_manifest: bool,
    /// Earliest and latest datable record, per source and scope.
    pub spans: BTreeMap<(Source, String), (Millis, Millis)>,
    /// Earliest and latest datable record of any source.
    pub all: Option<(Millis, Millis)>,
    /// The sources a problem touches (empty: a clean input), and why.
    pub problem: Touches,
    pub why: Option<String>,
}

/// Span coverage withheld because of one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withheld {
    pub source: Source,
    pub input: String,
    /// The problem input's own span; `None` when it has no datable record (nothing of the source
    /// is recorded).
    pub span: Option<(Millis, Millis)>,
    pub why: String,
}

#[derive(Debug, Default)]
pub(crate) struct SpanCoverage {
    /// (source, scope, start, end)
    pub recorded: Vec<(Source, String, Millis, Millis)>,
    pub withheld: Vec<Withheld>,
}

/// Removes the open interval `(a, b)` (`None`: unbounded on that side) from closed intervals.
fn cut(intervals: Vec<(Millis, Millis)>, a: Option<Millis>, b: Option<Millis>) -> Vec<(Millis, Millis)> {
    let mut out = Vec::new();
    for (x, y) in intervals {
        let before = a.map(|a| (x, y.min(a))).filter(|(x, y)| x <= y);
        let after = b.map(|b| (x.max(b), y)).filter(|(x, y)| x <= y);
        match (before, after) {
            (Some(p), Some(q)) if p.1 >= q.0 => out.push((p.0, q.1)),
            (p, q) => out.extend(p.into_iter().chain(q)),
        }
    }
    out
}

/// The span coverage of an import's inputs for `sources` (see the module docs). `scope` replaces
/// the records' own scopes when given (`--scope`).
pub(crate) fn span_coverage(inputs: &[InputSpan], sources: &BTreeSet<Source>, scope: Option<&str>) -> SpanCoverage {
    let mut result = SpanCoverage::default();
    for &source in sources {
        let relevant = inputs.iter().filter(|i| !i.in_manifest);
        let (problems, clean): (Vec<&InputSpan>, Vec<&InputSpan>) = relevant.partition(|i| i.problem.includes(source));
        // Per scope, each clean input's span.
        let mut by_scope: BTreeMap<String, Vec<(Millis, Millis)>> = BTreeMap::new();
        for input in &clean {
            let mut mine: BTreeMap<String, (Millis, Millis)> = BTreeMap::new();
            for ((s, k), &(lo, hi)) in &input.spans {
                if *s != source {
                    continue;
                }
                let key = scope.map(str::to_string).unwrap_or_else(|| k.clone());
                let e = mine.entry(key).or_insert((lo, hi));
                *e = (e.0.min(lo), e.1.max(hi));
            }
            for (k, span) in mine {
                by_scope.entry(k).or_default().push(span);
            }
        }
        let unbounded = problems.iter().any(|p| p.all.is_none());
        for p in &problems {
            result.withheld.push(Withheld {
                source,
                input: p.name.clone(),
                span: p.all,
                why: p.why.clone().unwrap_or_else(|| "a problem".into()),
            });
        }
        if unbounded {
            continue;
        }
        for (k, spans) in by_scope {
            let lo = spans.iter().map(|s| s.0).min().unwrap_or(Millis::MIN);
            let hi = spans.iter().map(|s| s.1).max().unwrap_or(Millis::MAX);
            let mut intervals = vec![(lo, hi)];
            for p in &problems {
                let Some((plo, phi)) = p.all else { continue };
                // The nearest clean record time known on each side: a clean input's last record
                // before the problem, else its first record when it starts before (its records
                // in between are not known one by one).
                let left = spans
                    .iter()
                    .filter_map(|&(l, h)| {
                        if h <= plo {
                            Some(h)
                        } else if l <= plo {
                            Some(l)
                        } else {
                            None
                        }
                    })
                    .max();
                let right = spans
                    .iter()
                    .filter_map(|&(l, h)| {
                        if l >= phi {
                            Some(l)
                        } else if h >= phi {
                            Some(h)
                        } else {
                            None
                        }
                    })
                    .min();
                intervals = cut(intervals, left, right);
            }
            for (start, end) in intervals {
                result.recorded.push((source, k.clone(), start, end));
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, spans: &[(&str, Millis, Millis)], problem: bool) -> InputSpan {
        let spans: BTreeMap<(Source, String), (Millis, Millis)> =
            spans.iter().map(|&(k, l, h)| ((Source::Okta, k.to_string()), (l, h))).collect();
        let all = spans.values().fold(None, |acc: Option<(Millis, Millis)>, &(l, h)| {
            Some(acc.map_or((l, h), |(a, b)| (a.min(l), b.max(h))))
        });
        let mut touches = Touches::none();
        if problem {
            touches.add(Source::Okta);
        }
        InputSpan {
            name: name.into(),
            in_manifest: false,
            spans,
            all,
            problem: touches,
            why: problem.then(|| "bad".into()),
        }
    }

    fn run(inputs: &[InputSpan]) -> Vec<(String, Millis, Millis)> {
        let sources = BTreeSet::from([Source::Okta]);
        span_coverage(inputs, &sources, None).recorded.into_iter().map(|(_, k, a, b)| (k, a, b)).collect()
    }

    #[test]
    fn a_problem_page_withholds_its_stretch_only() {
        // Pages in time order: 10..20 clean, 30..40 bad, 50..60 clean.
        let pages = [
            input("a", &[("*", 10, 20)], false),
            input("b", &[("*", 30, 40)], true),
            input("c", &[("*", 50, 60)], false),
        ];
        assert_eq!(run(&pages), vec![("*".into(), 10, 20), ("*".into(), 50, 60)]);
        // The bad page last: everything after the last clean record is withheld.
        let pages = [input("a", &[("*", 10, 20)], false), input("b", &[("*", 30, 40)], true)];
        assert_eq!(run(&pages), vec![("*".into(), 10, 20)]);
        // The bad page first.
        let pages = [input("b", &[("*", 5, 8)], true), input("a", &[("*", 10, 20)], false)];
        assert_eq!(run(&pages), vec![("*".into(), 10, 20)]);
    }

    #[test]
    fn overlapping_clean_files_bound_the_cut_conservatively() {
        // A clean file spanning the problem: its records between are unknown, so the cut runs
        // from its first record to its last.
        let files = [input("a", &[("*", 10, 100)], false), input("b", &[("*", 40, 50)], true)];
        assert_eq!(run(&files), vec![("*".into(), 10, 10), ("*".into(), 100, 100)]);
    }

    #[test]
    fn no_datable_record_in_a_problem_file_withholds_everything() {
        let mut bad = input("b", &[], true);
        bad.all = None;
        let files = [input("a", &[("*", 10, 20)], false), bad];
        assert!(run(&files).is_empty());
        let cov = span_coverage(&files, &BTreeSet::from([Source::Okta]), None);
        assert_eq!(cov.withheld[0].span, None);
    }

    #[test]
    fn other_sources_and_scopes() {
        // A problem touching Entra only leaves Okta whole.
        let mut bad = input("b", &[("*", 30, 40)], false);
        bad.problem = Touches::Sources(BTreeSet::from([Source::Entra]));
        let files = [input("a", &[("*", 10, 20)], false), bad];
        assert_eq!(run(&files), vec![("*".into(), 10, 40)]);
        // Scopes are cut each by their own clean records.
        let files = [
            input("a", &[("t1", 10, 20), ("t2", 12, 18)], false),
            input("b", &[("t1", 30, 40)], true),
            input("c", &[("t2", 45, 60)], false),
        ];
        assert_eq!(run(&files), vec![("t1".into(), 10, 20), ("t2".into(), 12, 18), ("t2".into(), 45, 60)]);
    }
}
