//! `coverage.json`: a directory's own statement of what it covers.
//!
//! A real export says nothing about the time it covers, so an import records the span of the
//! records it read. A directory may instead carry `coverage.json`:
//!
//! ```json
//! [{"scope": "*", "start": "2026-11-01T00:00:00Z", "end": "2026-11-01T06:00:00Z"},
//!  {"scope": "*", "start": "2026-11-01T07:30:00Z", "end": "2026-11-02T00:00:00Z"}]
//! ```
//!
//! Each entry vouches that every record of the import's source for `scope` between `start` and
//! `end` (inclusive) is in the directory. When the file is present, the records under that
//! directory add no span of their own: only the manifest's intervals are recorded, so gaps it
//! leaves out stay uncovered. `scope` is what `trailproof status` shows: `*` for Okta, the tenant
//! id for Entra, the customer id for Google, `ACCOUNT/REGION` for CloudTrail.

use serde::Deserialize;
use std::path::Path;
use trailproof_model::{Millis, parse_time};

use crate::IngestError;

pub const MANIFEST_NAME: &str = "coverage.json";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub scope: String,
    pub start_ms: Millis,
    pub end_ms: Millis,
    /// The directory whose `coverage.json` this entry is from (`None` from [`parse`]). An auto
    /// import applies it to the sources of the records under that directory.
    pub dir: Option<std::path::PathBuf>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    scope: String,
    start: String,
    end: String,
}

/// Reads `dir/coverage.json` if present. A present but malformed manifest is an error: guessing
/// coverage is exactly what must not happen.
pub fn read_dir_manifest(dir: &Path) -> Result<Option<Vec<Entry>>, IngestError> {
    let path = dir.join(MANIFEST_NAME);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(IngestError::Path { path, source: e }),
    };
    let mut entries = parse(&bytes).map_err(|why| IngestError::Manifest { path, why })?;
    for e in &mut entries {
        e.dir = Some(dir.to_path_buf());
    }
    Ok(Some(entries))
}

pub fn parse(bytes: &[u8]) -> Result<Vec<Entry>, String> {
    let raw: Vec<RawEntry> = serde_json::from_slice(bytes).map_err(|e| {
        format!("{e} (expected [{{\"scope\": \"...\", \"start\": \"RFC 3339\", \"end\": \"RFC 3339\"}}, ...])")
    })?;
    raw.into_iter()
        .map(|r| {
            let start_ms = parse_time(&r.start)?;
            let end_ms = parse_time(&r.end)?;
            if end_ms < start_ms {
                return Err(format!("entry for scope {:?} ends ({}) before it starts ({})", r.scope, r.end, r.start));
            }
            if r.scope.is_empty() {
                return Err("an entry has an empty scope (use \"*\" for the whole source)".into());
            }
            Ok(Entry { scope: r.scope, start_ms, end_ms, dir: None })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries_and_rejects_nonsense() {
        let e = parse(br#"[{"scope":"*","start":"2026-11-01T00:00:00Z","end":"2026-11-01T00:00:01.5Z"}]"#).unwrap();
        assert_eq!(
            e,
            vec![Entry { scope: "*".into(), start_ms: 1_793_491_200_000, end_ms: 1_793_491_201_500, dir: None }]
        );
        assert!(parse(br#"[{"scope":"*","start":"2026-11-02T00:00:00Z","end":"2026-11-01T00:00:00Z"}]"#).is_err());
        assert!(parse(br#"[{"scope":"*","start":"yesterday","end":"2026-11-01T00:00:00Z"}]"#).is_err());
        assert!(parse(br#"[{"scope":"*","begin":"2026-11-01T00:00:00Z","end":"2026-11-01T00:00:00Z"}]"#).is_err());
        assert!(parse(br#"{"scope":"*"}"#).is_err());
    }
}
