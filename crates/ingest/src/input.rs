//! Input enumeration and opening: files, directories (recursive), standard input; gzip by magic.
//!
//! Only regular files (and standard input, when `-` asks for it) are read: a FIFO, a socket or a
//! device would block the import forever or feed it without end. A directory entry that cannot be
//! read (a dangling symlink, a symlink loop, a FIFO, an entry that vanished, a permission denied)
//! does not stop the import: it becomes an [`Input::Unreadable`], reported by the import as a
//! failed input (exit 1, its source's span coverage withheld as for any input that could not be
//! read), and every other file is imported.

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
    /// An entry that cannot be read as a file, and why; skipped and reported.
    Unreadable {
        path: PathBuf,
        why: String,
    },
}

impl Input {
    /// How the input is named in summaries, quarantine and raw-record origins.
    pub fn name(&self) -> String {
        match self {
            Input::Stdin => "-".to_string(),
            Input::File { path, .. } | Input::Unreadable { path, .. } => path.display().to_string(),
        }
    }

    pub fn size(&self) -> u64 {
        match self {
            Input::Stdin | Input::Unreadable { .. } => 0,
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

/// What a file type is, for messages (`None` for a regular file).
fn not_regular(ft: &std::fs::FileType) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if ft.is_fifo() {
            return Some("a FIFO (named pipe)");
        }
        if ft.is_socket() {
            return Some("a socket");
        }
        if ft.is_block_device() || ft.is_char_device() {
            return Some("a device");
        }
    }
    if ft.is_file() {
        None
    } else if ft.is_dir() {
        Some("a directory")
    } else {
        Some("not a regular file")
    }
}

fn skip_why(kind: &str) -> String {
    format!(
        "{kind}, not a regular file: skipped (only regular files are read; pipe other input through standard input, `-`)"
    )
}

/// Expands the command-line paths: `-` is standard input, a directory is walked recursively
/// (in sorted order, skipping CloudTrail digest folders and hidden files), a file is itself.
/// Every path named must exist: a missing one is an error before anything is read. What is
/// found inside a directory but cannot be read, and a named path that is not a regular file, is
/// an [`Input::Unreadable`] (see the module docs).
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
                let entry = match entry {
                    Ok(e) => e,
                    Err(e) => {
                        let path = e.path().map(Path::to_path_buf).unwrap_or_else(|| p.clone());
                        let why = match (e.loop_ancestor(), e.io_error()) {
                            (Some(a), _) => format!("a symlink loop (back to {}): skipped", a.display()),
                            (None, Some(io)) if io.kind() == io::ErrorKind::NotFound => {
                                "a dangling symlink or an entry that vanished: skipped".to_string()
                            }
                            (None, Some(io)) => format!("cannot read: {io}"),
                            (None, None) => format!("cannot read: {e}"),
                        };
                        if !wanted_in_dir(&path) && !e.path().is_some_and(|q| q.is_dir()) && e.loop_ancestor().is_none()
                        {
                            // A broken entry the walk would not have read anyway (a README link).
                            continue;
                        }
                        out.push(Input::Unreadable { path, why });
                        continue;
                    }
                };
                let path = entry.path();
                if entry.file_type().is_dir() {
                    continue;
                }
                if path.components().any(|c| c.as_os_str() == "CloudTrail-Digest") || !wanted_in_dir(path) {
                    continue;
                }
                if let Some(kind) = not_regular(&entry.file_type()) {
                    out.push(Input::Unreadable { path: path.to_path_buf(), why: skip_why(kind) });
                    continue;
                }
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                out.push(Input::File { path: path.to_path_buf(), size, manifest_dir: manifest_dir.clone() });
            }
        } else if let Some(kind) = not_regular(&meta.file_type()) {
            out.push(Input::Unreadable { path: p.clone(), why: skip_why(kind) });
        } else {
            out.push(Input::File { path: p.clone(), size: meta.len(), manifest_dir: None });
        }
    }
    Ok((out, manifests))
}

/// Opens a regular file without blocking (a FIFO swapped in after the walk would otherwise
/// block the open itself), and refuses it unless it is still a regular file.
fn open_regular(path: &Path) -> io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path)?;
    match not_regular(&file.metadata()?.file_type()) {
        // O_NONBLOCK does not change how a regular file reads.
        None => Ok(file),
        Some(kind) => Err(io::Error::other(skip_why(kind))),
    }
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
        Input::File { path, .. } => Box::new(open_regular(path)?),
        Input::Unreadable { why, .. } => return Err(io::Error::other(why.clone())),
    };
    let mut reader = BufReader::with_capacity(256 * 1024, Counting { inner: raw, counter });
    let head = reader.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) { Ok(Box::new(MultiGzDecoder::new(reader))) } else { Ok(Box::new(reader)) }
}
