//! The real-record corpus (fixtures/real, see its README): every data file is read through the
//! import path (`trailproof_ingest::read_records`: splitter, envelopes, the source named or
//! detected, prefilter, parser) with its meta file's `import`, and each record's outcome is
//! compared with the meta file's `expect`:
//!
//! - kept: the source, the native id, and the events, field by field: a field the expectation
//!   lists must be equal (`_time`, an RFC 3339 time, is checked against `time_ms`); a field it
//!   does not list must be null, an empty list, or an object of such; a listed field the event
//!   does not have fails;
//! - `irrelevant`, `quarantined` (a substring of the reason), `foreign` (the source it looks like).
//!
//! A data file without a meta file, or a meta file without its data file, fails. Every mismatch
//! of every file is reported (file, record, field, expected, actual), then the test fails.

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use trailproof_corpus::{compare_kept, files};
use trailproof_ingest::{Events, ImportOptions, RecordOutcome, read_records};
use trailproof_model::Source;

fn decompress(bytes: Vec<u8>) -> Vec<u8> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut out).expect("gzip data file");
        out
    } else {
        bytes
    }
}

fn outcome_text(o: &RecordOutcome) -> String {
    match o {
        RecordOutcome::Kept { source, native_id, .. } => format!("kept as {source} {native_id:?}"),
        RecordOutcome::Irrelevant { source, .. } => format!("irrelevant ({source})"),
        RecordOutcome::Quarantined { source, reason } => format!("quarantined ({source}): {reason}"),
        RecordOutcome::Foreign { looks_like } => format!("foreign (looks like {looks_like})"),
    }
}

/// The mismatches of one record.
fn check_record(want: &Value, got: &RecordOutcome) -> Vec<String> {
    let mut errors = Vec::new();
    if want.get("irrelevant").and_then(Value::as_bool) == Some(true) {
        if !matches!(got, RecordOutcome::Irrelevant { .. }) {
            errors.push(format!("outcome: expected irrelevant, actual {}", outcome_text(got)));
        }
    } else if let Some(sub) = want.get("quarantined").and_then(Value::as_str) {
        match got {
            RecordOutcome::Quarantined { reason, .. } if reason.contains(sub) => {}
            _ => errors.push(format!(
                "outcome: expected quarantined with {sub:?} in the reason, actual {}",
                outcome_text(got)
            )),
        }
    } else if let Some(src) = want.get("foreign").and_then(Value::as_str) {
        match got {
            RecordOutcome::Foreign { looks_like } if looks_like.as_str() == src => {}
            _ => errors.push(format!("outcome: expected foreign (looks like {src}), actual {}", outcome_text(got))),
        }
    } else if let Some(src) = want.get("source").and_then(Value::as_str) {
        let RecordOutcome::Kept { source, native_id, events } = got else {
            errors.push(format!("outcome: expected kept as {src}, actual {}", outcome_text(got)));
            return errors;
        };
        if source.as_str() != src {
            errors.push(format!("field `source`: expected {src:?}, actual {:?}", source.as_str()));
        }
        match events {
            Events::Aws(ev) => compare_kept(want, native_id, ev, &mut errors),
            Events::Idp(ev) => compare_kept(want, native_id, ev, &mut errors),
        }
    } else {
        errors.push(format!("the expectation {want} is none of source/irrelevant/quarantined/foreign"));
    }
    errors
}

#[test]
fn every_real_record_gives_what_its_meta_file_expects() {
    let (corpus, mut failures) = files(|_| true);
    let (mut n_files, mut n_records) = (0usize, 0usize);
    let mut shapes: BTreeMap<String, usize> = BTreeMap::new();
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    for file in &corpus {
        let (meta, data, data_rel) = (&file.meta, &file.data, &file.name);
        let rel = format!("{}.meta.json", file.name);
        let import = meta.get("import").and_then(Value::as_str).unwrap_or_default();
        let opts = match import {
            "auto" => ImportOptions::auto(),
            s => match Source::parse(s) {
                Some(src) => ImportOptions::new(src),
                None => {
                    failures.push(format!("{rel}: `import` is {import:?}, not a source or `auto`"));
                    continue;
                }
            },
        };
        for s in meta.get("shapes").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
            *shapes.entry(s.to_string()).or_default() += 1;
        }
        let bytes = decompress(std::fs::read(data).unwrap());
        let read = read_records(&opts, &bytes);
        n_files += 1;
        n_records += read.records.len();
        if let Some(f) = &read.failure {
            failures.push(format!("{data_rel}: the import failed: {f}"));
        }
        let expect = meta.get("expect").and_then(Value::as_array).cloned().unwrap_or_default();
        if expect.len() != read.records.len() {
            failures.push(format!(
                "{data_rel}: expected {} record(s), actual {}: {}",
                expect.len(),
                read.records.len(),
                read.records
                    .iter()
                    .map(|r| format!("[{}] {}", r.location, outcome_text(&r.outcome)))
                    .collect::<Vec<_>>()
                    .join("; ")
            ));
        }
        for (i, (want, got)) in expect.iter().zip(&read.records).enumerate() {
            *outcomes
                .entry(match got.outcome {
                    RecordOutcome::Kept { .. } => "kept",
                    RecordOutcome::Irrelevant { .. } => "irrelevant",
                    RecordOutcome::Quarantined { .. } => "quarantined",
                    RecordOutcome::Foreign { .. } => "foreign",
                })
                .or_default() += 1;
            for e in check_record(want, &got.outcome) {
                failures.push(format!("{data_rel}: record {} ({}): {e}", i + 1, got.location));
            }
        }
    }
    println!("real-record corpus: {n_files} files, {n_records} records ({outcomes:?}), {} shapes:", shapes.len());
    for (s, n) in &shapes {
        println!("  {s}: {n} file(s)");
    }
    if !failures.is_empty() {
        panic!("{} mismatch(es) in the real-record corpus:\n{}", failures.len(), failures.join("\n"));
    }
}
