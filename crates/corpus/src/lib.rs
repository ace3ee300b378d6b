//! Test support, one implementation for every crate's tests: the real-record corpus
//! (`fixtures/real`, see its README) — its data files paired with their meta files, and the
//! comparison of what was made of a record with the meta file's expectation — and the split of a
//! fixture file into records, by the same splitter the import uses (`trailproof-jsonrec`).
//!
//! The comparison is strict: a field the expectation lists must be equal (`_time`, an RFC 3339
//! time, is checked against `time_ms`); a field it does not list must be null, an empty list, or
//! an object of such; a listed field the event does not have fails.

use serde::Serialize;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use trailproof_jsonrec::{Splitter, WrapperPath};
use trailproof_model::{ParseError, Parsed, format_ms, parse_time};

/// `fixtures/real`.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/real")
}

/// Each record of `bytes` as the import's splitter finds it (with these page wrappers), as text.
pub fn split(bytes: &[u8], wrappers: &'static [WrapperPath]) -> Vec<String> {
    let mut s = Splitter::new(bytes, wrappers);
    let mut out = Vec::new();
    while let Some(r) = s.next_record().expect("reading a byte slice cannot fail") {
        out.push(String::from_utf8_lossy(r.bytes).into_owned());
    }
    out
}

/// One data file of the corpus and its meta file.
#[derive(Debug, Clone)]
pub struct CorpusFile {
    /// `<source dir>/<stem>`, relative to [`root`].
    pub name: String,
    pub data: PathBuf,
    pub meta: Value,
}

impl CorpusFile {
    /// The meta file's `expect` entries.
    pub fn expect(&self) -> Vec<Value> {
        self.meta.get("expect").and_then(Value::as_array).cloned().unwrap_or_default()
    }
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

/// Every file under `dir`, recursively, sorted.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.unwrap_or_else(|e| panic!("{}: {e}", d.display())).path();
            if p.is_dir() { stack.push(p) } else { out.push(p) }
        }
    }
    out.sort();
    out
}

/// The corpus files whose name (`<source dir>/<stem>`) passes `keep`, and the problems of the
/// corpus's layout: a data file without a meta file, a meta file without exactly one data file, a
/// meta file that is not JSON.
pub fn files(keep: impl Fn(&str) -> bool) -> (Vec<CorpusFile>, Vec<String>) {
    let root = root();
    let all = walk(&root);
    let metas: Vec<&PathBuf> = all.iter().filter(|p| meta_stem(p).is_some()).collect();
    let mut problems = Vec::new();
    for p in &all {
        if meta_stem(p).is_some() || p.parent() == Some(&root) {
            continue; // the README at the top
        }
        if !metas.iter().any(|m| m.parent() == p.parent() && is_data_of(p, &meta_stem(m).unwrap_or_default())) {
            problems.push(format!("{}: a data file without a meta file (<name>.meta.json)", p.display()));
        }
    }
    let mut out = Vec::new();
    for m in metas {
        let stem = meta_stem(m).unwrap_or_default();
        let dir = m.parent().and_then(|d| d.strip_prefix(&root).ok()).map(|d| d.display().to_string());
        let name = format!("{}/{stem}", dir.unwrap_or_default());
        if !keep(&name) {
            continue;
        }
        let meta = match std::fs::read(m)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
        {
            Ok(v) => v,
            Err(e) => {
                problems.push(format!("{name}: not a readable meta file: {e}"));
                continue;
            }
        };
        let data: Vec<&PathBuf> = all.iter().filter(|p| p.parent() == m.parent() && is_data_of(p, &stem)).collect();
        match data[..] {
            [d] => out.push(CorpusFile { name, data: d.clone(), meta }),
            _ => problems.push(format!("{name}: {} data files named {stem}.<ext> (expected exactly one)", data.len())),
        }
    }
    (out, problems)
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

/// Compares an actual value with the expected one (see the crate docs), pushing each mismatch.
pub fn compare(path: &str, want: &Value, got: &Value, errors: &mut Vec<String>) {
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
            let t = w.as_str().and_then(|s| parse_time(s).ok());
            let actual = got.get("time_ms").and_then(Value::as_i64);
            if t.is_none() || t != actual {
                errors.push(format!(
                    "field `{}`: expected {w} (= {t:?} ms), actual time_ms {actual:?}{}",
                    join(k),
                    actual.map(|a| format!(" = {}", format_ms(a))).unwrap_or_default()
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

/// Compares a kept record's native id and events with an expectation.
pub fn compare_kept<E: Serialize>(want: &Value, native_id: &str, events: &[E], errors: &mut Vec<String>) {
    let want_id = want.get("native_id").cloned().unwrap_or(Value::Null);
    if want_id != Value::String(native_id.to_string()) {
        errors.push(format!("field `native_id`: expected {want_id}, actual {native_id:?}"));
    }
    let got: Vec<Value> = events.iter().map(|e| serde_json::to_value(e).unwrap_or(Value::Null)).collect();
    let want_events = want.get("events").and_then(Value::as_array).cloned().unwrap_or_default();
    if want_events.len() != got.len() {
        errors.push(format!("field `events`: expected {} event(s), actual {}", want_events.len(), got.len()));
    }
    for (i, (w, g)) in want_events.iter().zip(&got).enumerate() {
        compare(&format!("events[{i}]"), w, g, errors);
    }
}

/// A parser's result for one record against its expectation (the parser-level half of the
/// corpus: no envelope is opened and no source detected, so `foreign` cannot be checked here).
pub fn check_parse<E: Serialize + std::fmt::Debug>(want: &Value, got: &Result<Parsed<E>, ParseError>) -> Vec<String> {
    let mut errors = Vec::new();
    if want.get("irrelevant").and_then(Value::as_bool) == Some(true) {
        if !matches!(got, Ok(Parsed::Irrelevant { .. })) {
            errors.push(format!("outcome: expected irrelevant, actual {got:?}"));
        }
    } else if let Some(sub) = want.get("quarantined").and_then(Value::as_str) {
        match got {
            Err(e) if e.to_string().contains(sub) => {}
            _ => errors.push(format!("outcome: expected an error with {sub:?}, actual {got:?}")),
        }
    } else {
        match got {
            Ok(Parsed::Relevant { native_id, events }) => compare_kept(want, native_id, events, &mut errors),
            _ => errors.push(format!("outcome: expected kept, actual {got:?}")),
        }
    }
    errors
}

/// Parses each record of a corpus file with `parse` and checks it against the meta file; panics
/// with every mismatch.
pub fn assert_parses<E: Serialize + std::fmt::Debug>(
    file: &CorpusFile,
    wrappers: &'static [WrapperPath],
    parse: impl Fn(&[u8]) -> Result<Parsed<E>, ParseError>,
) {
    let bytes = std::fs::read(&file.data).unwrap_or_else(|e| panic!("{}: {e}", file.data.display()));
    let records = split(&bytes, wrappers);
    let expect = file.expect();
    let mut errors = Vec::new();
    if records.len() != expect.len() {
        errors.push(format!("{} record(s), expected {}", records.len(), expect.len()));
    }
    for (i, (rec, want)) in records.iter().zip(&expect).enumerate() {
        for e in check_parse(want, &parse(rec.as_bytes())) {
            errors.push(format!("record {}: {e}", i + 1));
        }
    }
    assert!(errors.is_empty(), "{}:\n{}", file.name, errors.join("\n"));
}

/// The corpus file `<source dir>/<stem>` (panics when it is not there).
pub fn file(name: &str) -> CorpusFile {
    let (mut found, problems) = files(|n| n == name);
    assert!(found.len() == 1, "{name}: not in the corpus ({problems:?})");
    found.remove(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_comparison_is_strict() {
        // A field the expectation leaves out must be empty; one it lists must be equal; `_time`
        // must agree with `time_ms`.
        let event = json!({"event_id": "e", "time_ms": 1000, "user": {"login": "a", "email": null}, "factors": [], "mfa": "silent"});
        let mut e = Vec::new();
        compare(
            "",
            &json!({"event_id": "e", "time_ms": 1000, "user": {"login": "a"}, "mfa": "silent"}),
            &event,
            &mut e,
        );
        assert!(e.is_empty(), "{e:?}");
        compare("", &json!({"event_id": "e", "time_ms": 1000, "user": {"login": "a"}}), &event, &mut e);
        assert!(e.len() == 1 && e[0].contains("`mfa`"), "{e:?}");
        e.clear();
        compare(
            "",
            &json!({"event_id": "x", "time_ms": 1000, "_time": "1970-01-01T00:00:02Z", "user": {"login": "a", "user_id": "u"}, "mfa": "silent"}),
            &event,
            &mut e,
        );
        let text = e.join("\n");
        assert!(text.contains("`event_id`") && text.contains("`_time`") && text.contains("`user.user_id`"), "{text}");
    }

    #[test]
    fn every_data_file_has_its_meta_file() {
        let (files, problems) = files(|_| true);
        assert!(problems.is_empty(), "{problems:#?}");
        assert!(files.len() >= 100, "{} corpus files", files.len());
    }
}
