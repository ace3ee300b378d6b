//! Test-only helpers: split a file into records the way the ingest splitter does for CloudTrail
//! (top-level arrays, NDJSON, `{"Records":[..]}`, `{"Events":[..]}`, `{"hits":{"hits":[..]}}`),
//! keeping each record's exact bytes via `RawValue`.

#![allow(dead_code)]

use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Hits<'a> {
    #[serde(borrow, default)]
    hits: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct Wrapper<'a> {
    #[serde(borrow, default, rename = "Records")]
    records: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default, rename = "Events")]
    events: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    hits: Option<Hits<'a>>,
}

pub fn split(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for v in serde_json::Deserializer::from_slice(bytes).into_iter::<&RawValue>() {
        push(v.expect("test input is valid JSON"), &mut out);
    }
    out
}

fn push(v: &RawValue, out: &mut Vec<String>) {
    let text = v.get().trim_start();
    if text.starts_with('[') {
        let items: Vec<&RawValue> = serde_json::from_str(v.get()).expect("array");
        out.extend(items.into_iter().map(|r| r.get().to_owned()));
        return;
    }
    if text.starts_with('{')
        && let Ok(w) = serde_json::from_str::<Wrapper>(v.get())
        && let Some(items) = w.records.or(w.events).or(w.hits.and_then(|h| h.hits))
    {
        out.extend(items.into_iter().map(|r| r.get().to_owned()));
        return;
    }
    out.push(v.get().to_owned());
}
