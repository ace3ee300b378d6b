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
    decoded(Counting { inner: raw, counter })
}

/// `raw`, decompressed when it starts with gzip's magic bytes.
fn decoded(raw: impl Read + Send + 'static) -> io::Result<Box<dyn Read + Send>> {
    let mut reader = BufReader::with_capacity(256 * 1024, raw);
    let head = reader.fill_buf()?;
    if head.starts_with(&[0x1f, 0x8b]) { Ok(Box::new(MultiGzDecoder::new(reader))) } else { Ok(Box::new(reader)) }
}

/// A worker's buffers, kept from one input to the next (a CloudTrail import reads thousands of
/// small files).
#[derive(Default)]
pub struct Buffers {
    file: Vec<u8>,
    content: Vec<u8>,
}

impl Buffers {
    /// Takes back a buffer handed out in an [`Opened`] (emptied), for the next input.
    pub fn give_back(&mut self, mut buf: Vec<u8>) {
        buf.clear();
        if self.file.capacity() == 0 {
            self.file = buf;
        } else if self.content.capacity() < buf.capacity() {
            self.content = buf;
        }
    }
}

/// An input opened for reading: the first bytes of its content, already in memory (a small file
/// read whole), and a reader of the rest of its content.
pub struct Opened {
    pub head: Vec<u8>,
    pub rest: Box<dyn Read + Send>,
    /// `head` is all of the content (`rest` gives nothing).
    pub whole: bool,
}

/// Opens an input as [`open`] does, but reads a regular file of at most
/// [`WHOLE_MAX_COMPRESSED`] bytes whole, and decompresses it in one call when it is one gzip
/// member ([`gunzip_member`]: CloudTrail's log files are). Any other gzip file (several
/// members, a member cut short or corrupt, a member that decompresses to more than
/// [`WHOLE_MAX_CONTENT`]) is streamed as [`open`] streams it, so it reads, and fails, exactly
/// as before. `counter` counts the file's bytes as [`open`] does.
pub fn open_whole(input: &Input, counter: Arc<AtomicU64>, bufs: &mut Buffers) -> io::Result<Opened> {
    let Input::File { path, size, .. } = input else {
        return Ok(Opened { head: Vec::new(), rest: open(input, counter)?, whole: false });
    };
    if *size > WHOLE_MAX_COMPRESSED {
        return Ok(Opened { head: Vec::new(), rest: open(input, counter)?, whole: false });
    }
    let mut file = open_regular(path)?;
    let mut raw = std::mem::take(&mut bufs.file);
    raw.clear();
    (&mut file).take(WHOLE_MAX_COMPRESSED + 1).read_to_end(&mut raw)?;
    counter.fetch_add(raw.len() as u64, Ordering::Relaxed);
    if raw.len() as u64 > WHOLE_MAX_COMPRESSED {
        // The file grew since the walk: stream what was read, then the rest.
        let rest = io::Cursor::new(raw).chain(Counting { inner: file, counter });
        return Ok(Opened { head: Vec::new(), rest: decoded(rest)?, whole: false });
    }
    if !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(Opened { head: raw, rest: Box::new(io::empty()), whole: true });
    }
    let mut content = std::mem::take(&mut bufs.content);
    if gunzip_member(&raw, WHOLE_MAX_CONTENT, &mut content) {
        bufs.file = raw;
        return Ok(Opened { head: content, rest: Box::new(io::empty()), whole: true });
    }
    bufs.content = content;
    Ok(Opened { head: Vec::new(), rest: Box::new(MultiGzDecoder::new(io::Cursor::new(raw))), whole: false })
}

/// Files up to this size are read whole and, when they are one gzip member, decompressed in one
/// call ([`gunzip_member`]); larger ones are streamed.
pub const WHOLE_MAX_COMPRESSED: u64 = 16 * 1024 * 1024;
/// The largest content a whole-file read decompresses into memory at once (a worker holds one
/// such buffer); a member that says it holds more is streamed.
pub const WHOLE_MAX_CONTENT: usize = 64 * 1024 * 1024;

/// A libdeflate decompressor (one per thread: it holds some 10 KiB of tables).
struct Inflater(std::ptr::NonNull<libdeflate_sys::libdeflate_decompressor>);

impl Inflater {
    fn new() -> Option<Inflater> {
        // SAFETY: allocates a decompressor; NULL (out of memory) is handled.
        std::ptr::NonNull::new(unsafe { libdeflate_sys::libdeflate_alloc_decompressor() }).map(Inflater)
    }
}

impl Drop for Inflater {
    fn drop(&mut self) {
        // SAFETY: the pointer came from `libdeflate_alloc_decompressor` and is freed once.
        unsafe { libdeflate_sys::libdeflate_free_decompressor(self.0.as_ptr()) }
    }
}

thread_local! {
    static INFLATER: Option<Inflater> = Inflater::new();
}

/// Decompresses `gz` into `out` (replacing its content) in one call, with libdeflate, when `gz`
/// is exactly one whole gzip member whose content is at most `max_out` bytes, as a CloudTrail
/// log file is (one small gzip member per file). Returns `false`, with `out` left empty, for
/// anything else: several members (`cat a.gz b.gz`), bytes after the member, a member cut short
/// or corrupt (bad deflate data, CRC or length), a member whose stated size (the trailer's
/// ISIZE, RFC 1952 §2.3.1: the size modulo 2^32) is above `max_out` or is not its true size (a
/// gzip bomb's lie). The caller then streams the file ([`open`]), which reads every member and
/// reports how and where the rest fails exactly as it always has, so this only ever saves time.
///
/// libdeflate is used through its C API directly (`libdeflate-sys`) because the safe wrapper
/// (`libdeflater`) does not say how much input a call consumed: without it a second member
/// would be dropped silently.
pub fn gunzip_member(gz: &[u8], max_out: usize, out: &mut Vec<u8>) -> bool {
    out.clear();
    // The 10-byte header and the 8-byte trailer (CRC-32, ISIZE).
    if gz.len() < 18 || !gz.starts_with(&[0x1f, 0x8b]) {
        return false;
    }
    let mut isize_le = [0u8; 4];
    isize_le.copy_from_slice(&gz[gz.len() - 4..]);
    let stated = u32::from_le_bytes(isize_le) as usize;
    if stated > max_out {
        return false;
    }
    out.reserve_exact(stated);
    let (mut in_used, mut out_len) = (0usize, 0usize);
    let ok = INFLATER.with(|d| {
        let Some(d) = d else { return false };
        // SAFETY: `gz` is valid for `gz.len()` bytes; `out` has room for `stated` bytes
        // (reserved above), and libdeflate writes at most `out_nbytes_avail` bytes into it;
        // the two length results are plain out-parameters.
        let r = unsafe {
            libdeflate_sys::libdeflate_gzip_decompress_ex(
                d.0.as_ptr(),
                gz.as_ptr().cast(),
                gz.len(),
                out.as_mut_ptr().cast(),
                stated,
                &mut in_used,
                &mut out_len,
            )
        };
        // Success means the member's CRC-32 and ISIZE matched what came out; with room for
        // exactly the stated size, a member that holds more fails (INSUFFICIENT_SPACE).
        r == libdeflate_sys::libdeflate_result_LIBDEFLATE_SUCCESS && in_used == gz.len() && out_len == stated
    });
    if ok {
        // SAFETY: libdeflate initialised the first `out_len` (<= capacity) bytes.
        unsafe { out.set_len(out_len) };
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(content: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(content).unwrap();
        e.finish().unwrap()
    }

    fn streamed(gz: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        MultiGzDecoder::new(gz).read_to_end(&mut out).map(|_| out)
    }

    #[test]
    fn one_whole_member_decompresses_in_one_call() {
        let content = br#"{"Records":[{"eventTime":"2026-01-01T00:00:00Z"}]}"#.repeat(500);
        let mut out = b"left over".to_vec();
        assert!(gunzip_member(&gz(&content), WHOLE_MAX_CONTENT, &mut out));
        assert_eq!(out, content);
        assert!(gunzip_member(&gz(b""), WHOLE_MAX_CONTENT, &mut out));
        assert!(out.is_empty());
    }

    #[test]
    fn anything_but_one_clean_member_is_left_to_the_stream() {
        let (a, b) = (gz(b"first member "), gz(b"second member"));
        let mut out = Vec::new();
        // Two members, the same one twice (the last trailer matches the first member's
        // content), a member with bytes after it: the stream reads them all or fails on them.
        for (input, why) in [
            ([a.clone(), b.clone()].concat(), "two members"),
            ([a.clone(), a.clone()].concat(), "one member twice"),
            ([a.clone(), b"trailing".to_vec()].concat(), "bytes after the member"),
        ] {
            assert!(!gunzip_member(&input, WHOLE_MAX_CONTENT, &mut out), "{why}");
            assert!(out.is_empty(), "{why}");
        }
        assert_eq!(streamed(&[a.clone(), a.clone()].concat()).unwrap(), b"first member first member ");
        // Cut short, or a corrupt byte in the deflate data or the CRC.
        assert!(!gunzip_member(&a[..a.len() - 1], WHOLE_MAX_CONTENT, &mut out));
        for at in [12, a.len() - 6] {
            let mut bad = a.clone();
            bad[at] ^= 0x55;
            assert!(!gunzip_member(&bad, WHOLE_MAX_CONTENT, &mut out), "byte {at} flipped");
        }
        // A member that holds more than its trailer says (a bomb's lie), or more than allowed.
        let big = gz(&vec![b'x'; 100_000]);
        let mut lying = big.clone();
        let n = lying.len();
        lying[n - 4..].copy_from_slice(&1000u32.to_le_bytes());
        assert!(!gunzip_member(&lying, WHOLE_MAX_CONTENT, &mut out));
        assert!(!gunzip_member(&big, 99_999, &mut out));
        assert!(gunzip_member(&big, 100_000, &mut out));
        // Not gzip at all.
        assert!(!gunzip_member(b"{\"Records\":[]}..........", WHOLE_MAX_CONTENT, &mut out));
    }
}
