//! Input enumeration and opening: files, directories (recursive), standard input; gzip by magic.

use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::IngestError;

/// One thing to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Stdin,
    /// `manifest_dir`: the file lies under this directory, whose `coverage.json` states the
    /// coverage, so its records' span does not count.
    File {
        path: PathBuf,
        size: u64,
        manifest_dir: Option<PathBuf>,
    },
}

impl Input {
    /// How the input is named in summaries, quarantine and raw-record origins.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "-".to_string(),
            Input::File { path, .. } => path.display().to_string(),
        }
    }

    pub fn size(&self) -> u64 {
        match self {
            Input::Stdin => 0,
            Input::File { size, .. } => *size,
        }
    }
}

/// File names a directory walk picks up. Explicitly named files are always read.
fn wanted_in_dir(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    if name.starts_with('.') || name == crate::manifest::MANIFEST_NAME {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    [".json", ".json.gz", ".ndjson", ".ndjson.gz", ".jsonl", ".jsonl.gz", ".gz", ".log"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// Expands the command-line paths: `-` is standard input, a directory is walked recursively
/// (in sorted order, skipping CloudTrail digest folders and hidden files), a file is itself.
/// Every path must exist: a missing one is an error before anything is read.
pub fn collect_inputs(paths: &[PathBuf]) -> Result<(Vec<Input>, Vec<crate::manifest::Entry>), IngestError> {
    let mut out = Vec::new();
    let mut manifests = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(Input::Stdin);
            continue;
        }
        let meta = std::fs::metadata(p).map_err(|e| IngestError::Path { path: p.clone(), source: e })?;
        if meta.is_dir() {
            let found = crate::manifest::read_dir_manifest(p)?;
            let manifest_dir = found.is_some().then(|| p.clone());
            manifests.extend(found.unwrap_or_default());
            let walk = walkdir::WalkDir::new(p).follow_links(true).sort_by_file_name();
            for entry in walk {
                let entry = entry.map_err(|e| IngestError::Path {
                    path: e.path().map(Path::to_path_buf).unwrap_or_else(|| p.clone()),
                    source: e.into_io_error().unwrap_or_else(|| io::Error::other("directory loop")),
                })?;
                let path = entry.path();
                if entry.file_type().is_dir() {
                    continue;
                }
                if path.components().any(|c| c.as_os_str() == "CloudTrail-Digest") || !wanted_in_dir(path) {
                    continue;
                }
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                out.push(Input::File { path: path.to_path_buf(), size, manifest_dir: manifest_dir.clone() });
            }
        } else {
            out.push(Input::File { path: p.clone(), size: meta.len(), manifest_dir: None });
        }
    }
    Ok((out, manifests))
}

/// Counts bytes read from the underlying input (before decompression), for progress.
struct Counting<R> {
    inner: R,
    counter: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counter.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens an input, transparently decompressing gzip (detected by its magic bytes, whatever
/// the file is called).
pub fn open(input: &Input, counter: Arc<AtomicU64>) -> io::Result<Box<dyn Read + Send>> {
    let raw: Box<dyn Read + Send> = match input {
        Input::Stdin => Box::new(io::stdin()),
        Input::File { path, .. } => Box::new(File::open(path)?),
    };
    let mut reader = BufReader::with_capacity(256 * 1024, Counting { inner: raw, counter });
    let head = reader.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) { Ok(Box::new(MultiGzDecoder::new(reader))) } else { Ok(Box::new(reader)) }
}
