//! Test-only helper: split a file into records as the import does for Entra (top-level arrays,
//! NDJSON, `{"value":[...]}` / `{"records":[...]}` wrappers), keeping each record's exact bytes
//! (duplicate keys included).

#![allow(dead_code)]

pub fn split(bytes: &[u8]) -> Vec<String> {
    trailproof_corpus::split(bytes, &[&["value"], &["records"]])
}
