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

use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use trailproof_ingest::{Events, ImportOptions, RecordOutcome, read_records};
use trailproof_model::Source;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/real")
}

/// Every file under `dir`, recursively, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// `<stem>.meta.json` → `<stem>`.
fn meta_stem(p: &Path) -> Option<String> {
    p.file_name()?.to_str()?.strip_suffix(".meta.json").map(str::to_string)
}

/// Whether `data` is `<stem>.<ext>` (`<ext>` one word, or one word and `.gz`).
fn is_data_of(data: &Path, stem: &str) -> bool {
    let Some(n) = data.file_name().and_then(|n| n.to_str()) else { return false };
    let Some(ext) = n.strip_prefix(stem).and_then(|r| r.strip_prefix('.')) else { return false };
    let ext = ext.strip_suffix(".gz").unwrap_or(ext);
    ext != "meta.json" && !ext.is_empty() && !ext.contains('.')
}

fn decompress(bytes: Vec<u8>) -> Vec<u8> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&bytes[..]).read_to_end(&mut out).expect("gzip data file");
        out
    } else {
        bytes
    }
}

/// Null, an empty list, or an object of such.
fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.values().all(is_empty),
        _ => false,
    }
}

/// Compares an actual value with the expected one (objects: listed fields equal, the others empty).
fn compare(path: &str, want: &Value, got: &Value, errors: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(w), Value::Object(g)) => compare_object(path, w, g, errors),
        _ if want == got => {}
        _ => errors.push(format!("field `{path}`: expected {want}, actual {got}")),
    }
}

fn compare_object(path: &str, want: &Map<String, Value>, got: &Map<String, Value>, errors: &mut Vec<String>) {
    let join = |k: &str| if path.is_empty() { k.to_string() } else { format!("{path}.{k}") };
    for (k, w) in want {
        if k == "_time" {
            let t = w.as_str().and_then(|s| trailproof_model::parse_time(s).ok());
            let actual = got.get("time_ms").and_then(Value::as_i64);
            if t.is_none() || t != actual {
                errors.push(format!(
                    "field `{}`: expected {w} (= {t:?} ms), actual time_ms {actual:?}{}",
                    join(k),
                    actual.map(|a| format!(" = {}", trailproof_model::format_ms(a))).unwrap_or_default()
                ));
            }
            continue;
        }
        match got.get(k) {
            Some(g) => compare(&join(k), w, g, errors),
            None => errors.push(format!("field `{}`: expected {w}, actual: the event has no such field", join(k))),
        }
    }
    for (k, g) in got {
        if !want.contains_key(k) && !is_empty(g) {
            errors.push(format!("field `{}`: expected null or empty (not listed), actual {g}", join(k)));
        }
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
        let want_id = want.get("native_id").cloned().unwrap_or(Value::Null);
        if want_id != Value::String(native_id.clone()) {
            errors.push(format!("field `native_id`: expected {want_id}, actual {native_id:?}"));
        }
        let got_events: Vec<Value> = match events {
            Events::Aws(ev) => ev.iter().map(|e| serde_json::to_value(e).unwrap()).collect(),
            Events::Idp(ev) => ev.iter().map(|e| serde_json::to_value(e).unwrap()).collect(),
        };
        let want_events = want.get("events").and_then(Value::as_array).cloned().unwrap_or_default();
        if want_events.len() != got_events.len() {
            errors.push(format!(
                "field `events`: expected {} event(s), actual {}",
                want_events.len(),
                got_events.len()
            ));
        }
        for (i, (w, g)) in want_events.iter().zip(&got_events).enumerate() {
            compare(&format!("events[{i}]"), w, g, &mut errors);
        }
    } else {
        errors.push(format!("the expectation {want} is none of source/irrelevant/quarantined/foreign"));
    }
    errors
}

#[test]
fn every_real_record_gives_what_its_meta_file_expects() {
    let root = root();
    let all = files(&root);
    let mut failures: Vec<String> = Vec::new();
    let metas: Vec<&PathBuf> = all.iter().filter(|p| meta_stem(p).is_some()).collect();
    // Every data file has its meta file, every meta file its data file.
    for p in &all {
        if meta_stem(p).is_some() || p.parent() == Some(&root) {
            continue; // the README at the top
        }
        let has_meta =
            metas.iter().any(|m| m.parent() == p.parent() && is_data_of(p, &meta_stem(m).unwrap_or_default()));
        if !has_meta {
            failures.push(format!("{}: a data file without a meta file (<name>.meta.json)", p.display()));
        }
    }
    let (mut n_files, mut n_records) = (0usize, 0usize);
    let mut shapes: BTreeMap<String, usize> = BTreeMap::new();
    let mut outcomes: BTreeMap<&'static str, usize> = BTreeMap::new();
    for meta_path in metas {
        let stem = meta_stem(meta_path).unwrap_or_default();
        let rel = meta_path.strip_prefix(&root).unwrap_or(meta_path).display().to_string();
        let meta: Value = match std::fs::read(meta_path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        {
            Ok(v) => v,
            Err(e) => {
                failures.push(format!("{rel}: not a readable meta file: {e}"));
                continue;
            }
        };
        let data: Vec<&PathBuf> =
            all.iter().filter(|p| p.parent() == meta_path.parent() && is_data_of(p, &stem)).collect();
        let [data] = data[..] else {
            failures.push(format!("{rel}: {} data files named {stem}.<ext> (expected exactly one)", data.len()));
            continue;
        };
        let data_rel = data.strip_prefix(&root).unwrap_or(data).display().to_string();
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

#[test]
fn the_comparison_is_strict() {
    // A field the expectation leaves out must be empty; one it lists must be equal; `_time`
    // must agree with `time_ms`.
    let event = serde_json::json!({"event_id": "e", "time_ms": 1000, "user": {"login": "a", "email": null}, "factors": [], "mfa": "silent"});
    let mut e = Vec::new();
    compare(
        "",
        &serde_json::json!({"event_id": "e", "time_ms": 1000, "user": {"login": "a"}, "mfa": "silent"}),
        &event,
        &mut e,
    );
    assert!(e.is_empty(), "{e:?}");
    compare("", &serde_json::json!({"event_id": "e", "time_ms": 1000, "user": {"login": "a"}}), &event, &mut e);
    assert!(e.len() == 1 && e[0].contains("`mfa`"), "{e:?}");
    e.clear();
    compare(
        "",
        &serde_json::json!({"event_id": "x", "time_ms": 1000, "_time": "1970-01-01T00:00:02Z", "user": {"login": "a", "user_id": "u"}, "mfa": "silent"}),
        &event,
        &mut e,
    );
    let text = e.join("\n");
    assert!(text.contains("`event_id`") && text.contains("`_time`") && text.contains("`user.user_id`"), "{text}");
}
