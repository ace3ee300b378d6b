//! Runs a file of the real-record corpus (fixtures/real/, see its README) through this crate's
//! parser and compares each record with its `.meta.json` `expect` entry: the parser-level half of
//! the corpus test (no envelope is unwrapped here, so only files whose records are this source's
//! own shapes are listed by the tests).

use serde_json::Value;
use serde_json::value::RawValue;
use std::path::PathBuf;
use trailproof_model::{IdpEvent, ParseError, Parsed};

pub fn root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/real"))
}

/// Each top-level JSON value of the file (an array gives its elements), as its exact bytes.
pub fn records(rel: &str) -> Vec<String> {
    let p = root().join(rel);
    let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let mut out = Vec::new();
    for v in serde_json::Deserializer::from_slice(&bytes).into_iter::<&RawValue>() {
        let v = v.unwrap_or_else(|e| panic!("{rel}: {e}"));
        if v.get().trim_start().starts_with('[') {
            let items: Vec<&RawValue> = serde_json::from_str(v.get()).unwrap();
            out.extend(items.into_iter().map(|r| r.get().to_owned()));
        } else {
            out.push(v.get().to_owned());
        }
    }
    out
}

/// The event as the meta file lists it: fields that are null or empty left out.
fn listed(e: &IdpEvent) -> Value {
    fn prune(v: Value) -> Option<Value> {
        match v {
            Value::Null => None,
            Value::Array(a) if a.is_empty() => None,
            Value::Object(m) => {
                let m: serde_json::Map<String, Value> =
                    m.into_iter().filter_map(|(k, v)| prune(v).map(|v| (k, v))).collect();
                (!m.is_empty()).then_some(Value::Object(m))
            }
            other => Some(other),
        }
    }
    prune(serde_json::to_value(e).unwrap()).unwrap_or(Value::Null)
}

/// Parses every record of `data` and checks it against `meta`'s `expect`, record by record.
pub fn check(data: &str, meta: &str, parse: impl Fn(&[u8]) -> Result<Parsed<IdpEvent>, ParseError>) {
    let m: Value = serde_json::from_slice(&std::fs::read(root().join(meta)).unwrap()).unwrap();
    let expect = m["expect"].as_array().expect("expect");
    let recs = records(data);
    assert_eq!(recs.len(), expect.len(), "{data}: records vs expect entries");
    for (i, (rec, want)) in recs.iter().zip(expect).enumerate() {
        let got = parse(rec.as_bytes());
        if want.get("irrelevant").is_some() {
            assert!(matches!(got, Ok(Parsed::Irrelevant { .. })), "{data}[{i}]: {got:?}");
        } else if let Some(why) = want.get("quarantined").and_then(Value::as_str) {
            let e = got.expect_err(&format!("{data}[{i}] must fail"));
            assert!(e.to_string().contains(why), "{data}[{i}]: {e}");
        } else {
            let Ok(Parsed::Relevant { native_id, events }) = got else { panic!("{data}[{i}]: {got:?}") };
            assert_eq!(native_id, want["native_id"].as_str().unwrap(), "{data}[{i}] native id");
            let want_events = want["events"].as_array().unwrap();
            assert_eq!(events.len(), want_events.len(), "{data}[{i}]");
            for (e, w) in events.iter().zip(want_events) {
                let mut w = w.clone();
                if let Some(t) = w.as_object_mut().and_then(|o| o.remove("_time")) {
                    let ms = trailproof_model::parse_time(t.as_str().unwrap()).unwrap();
                    assert_eq!(ms, e.time_ms, "{data}[{i}] _time");
                }
                assert_eq!(listed(e), w, "{data}[{i}]");
            }
        }
    }
}
