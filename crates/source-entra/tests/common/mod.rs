//! Test-only helpers: split a file into records the way the ingest splitter does (top-level
//! arrays, NDJSON, `{"value":[...]}` / `{"records":[...]}` wrappers), keeping each record's exact
//! bytes (duplicate keys included) via `RawValue`.

use serde::Deserialize;
use serde_json::value::RawValue;

#[derive(Deserialize)]
struct Wrapper<'a> {
    #[serde(borrow, default)]
    value: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    records: Option<Vec<&'a RawValue>>,
}

pub fn split(bytes: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    let stream = serde_json::Deserializer::from_slice(bytes).into_iter::<&RawValue>();
    for v in stream {
        let v = v.expect("test input is valid JSON");
        push(v, &mut out);
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
        && let Some(items) = w.value.or(w.records)
    {
        out.extend(items.into_iter().map(|r| r.get().to_owned()));
        return;
    }
    out.push(v.get().to_owned());
}
