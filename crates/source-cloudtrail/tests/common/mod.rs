//! Test-only helper: split a file into records as the import does for CloudTrail (top-level
//! arrays, NDJSON, `{"Records":[..]}`, `{"Events":[..]}`, `{"hits":{"hits":[..]}}`), keeping
//! each record's exact bytes.

#![allow(dead_code)]

pub const WRAPPERS: &[trailproof_jsonrec::WrapperPath] = &[&["Records"], &["Events"], &["hits", "hits"]];

pub fn split(bytes: &[u8]) -> Vec<String> {
    trailproof_corpus::split(bytes, WRAPPERS)
}
