//! Streaming split of JSON input into records, without parsing the records.
//!
//! Sources deliver records in many containers: a JSON array, NDJSON (one value per line, or
//! any whitespace between values), a single object, or a wrapper object holding the array
//! (`{"Records":[...]}`, `{"value":[...]}`, `{"hits":{"hits":[...]}}`). [`Splitter`] reads any
//! of these from a [`Read`] and hands out each record's bytes, keeping memory bounded by the
//! largest single record rather than the input.
//!
//! It only finds where values begin and end (strings, escapes, nesting); it does not validate
//! JSON. A record that is not valid JSON is still handed out, and its parser says why. Nothing is
//! taken for complete that is not ([`Record::incomplete`] says why, and [`Record::truncated`] is
//! set):
//!
//! - input that ends inside a record yields that tail once ([`Incomplete::EndOfInput`]);
//! - line-delimited input (NDJSON): when the first line of a top-level object holds more than
//!   its opening brace and ends inside the object, and the next line that holds anything starts
//!   with `{` at its first byte (the next record), the line was cut short: it is handed out
//!   alone ([`Incomplete::EndOfLine`]) and the splitter starts afresh on the next line, so one
//!   bad line is one bad record and never swallows the lines after it. Objects written over
//!   several lines (pretty printed, whose `{` ends the first line, or whose next lines are
//!   indented or start with a key) are read whole as before;
//! - input that ends inside an array or a wrapper object whose records were all complete (a JSON
//!   array without its end: `[r1,…,r5,`) yields one empty record at the end of the input
//!   ([`Incomplete::Container`]) saying which container was left open and where it began.
//!
//! Arrays in record position nest at most [`MAX_NESTING`] deep; a deeper one is handed out as a
//! record (which its parser rejects), so a file of a million `[` costs no memory per level.
//!
//! Which values count as records: every value at the top of the stream is in *record
//! position*. An array in record position puts each of its elements in record position; an
//! object whose key path matches one of the configured wrapper paths and leads to an array puts
//! that array's elements in record position (the object's other keys are skipped); any other
//! value is a record.

use std::io::{self, Read};

/// A wrapper path: the keys leading from an object to the array of records, e.g.
/// `&["hits", "hits"]`.
pub type WrapperPath = &'static [&'static str];

/// One record as found in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// The record's bytes, from its first to its last byte.
    pub bytes: &'a [u8],
    /// Byte offset of the record's first byte in the (decompressed) input.
    pub offset: u64,
    /// 0-based index of the record in the input.
    pub index: u64,
    /// The record is not complete (`incomplete` says why).
    pub truncated: bool,
    /// Why the record is not complete; `None` for a complete one.
    pub incomplete: Option<Incomplete>,
}

/// Why a record is not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Incomplete {
    /// The input ended inside the record.
    EndOfInput,
    /// Line-delimited input: the line ended inside the record (the next line is read afresh).
    EndOfLine,
    /// The input ended inside `depth` open arrays or wrapper objects; the outermost was opened
    /// at byte `opened_at`. The record is empty and sits at the end of the input.
    Container { depth: usize, opened_at: u64 },
}

impl std::fmt::Display for Incomplete {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Incomplete::EndOfInput => f.write_str("the input ends inside this record (truncated file?)"),
            Incomplete::EndOfLine => {
                f.write_str("the line ends inside this record (a line cut short; the next line is read afresh)")
            }
            Incomplete::Container { depth: 1, opened_at } => write!(
                f,
                "the input ends inside the array or page opened at byte {opened_at}: a truncated file, or records missing after the last one read"
            ),
            Incomplete::Container { depth, opened_at } => write!(
                f,
                "the input ends inside {depth} open arrays or pages, the outermost opened at byte {opened_at}: a truncated or malformed file"
            ),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error("read failed: {0}")]
    Io(#[from] io::Error),
    #[error("a single record is larger than {limit} bytes (at byte {offset})")]
    TooLarge { offset: u64, limit: usize },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// Inside an array whose elements are in record position, opened at this stream offset.
    Array { at: u64 },
    /// Inside `depth` nested wrapper objects (the outermost opened at `at`); when the array ends,
    /// their remaining keys are skipped.
    Wrapper { depth: usize, at: u64 },
}

impl Frame {
    fn at(self) -> u64 {
        match self {
            Frame::Array { at } | Frame::Wrapper { at, .. } => at,
        }
    }
}

/// Arrays in record position nested deeper than this are handed out as records.
pub const MAX_NESTING: usize = 64;

/// Streams records out of a reader. See the crate docs for what counts as a record.
pub struct Splitter<R> {
    reader: R,
    buf: Vec<u8>,
    /// First unconsumed byte in `buf`.
    pos: usize,
    /// Stream offset of `buf[0]`.
    base: u64,
    eof: bool,
    stack: Vec<Frame>,
    wrappers: &'static [WrapperPath],
    index: u64,
    max_record: usize,
    chunk: usize,
    /// A wrapper object ended with the input before its closing brace (reported once, at the end).
    unclosed_wrapper: Option<u64>,
    /// The wrappers' first keys, quoted, sought in a record while its end is found (built on
    /// first use; `None`: too many first bytes to seek at once, each key is sought on its own).
    key_filter: Option<Option<KeyFilter>>,
}

const DEFAULT_CHUNK: usize = 256 * 1024;
/// Records larger than this are refused rather than buffered without end.
pub const DEFAULT_MAX_RECORD: usize = 256 * 1024 * 1024;

enum Probe {
    NeedMore,
    /// Line-delimited: the line ends (at this index, relative to the probe start) inside the object.
    Cut(usize),
    /// Not a wrapper: the object ends at this index (exclusive), relative to the probe start.
    Record(usize),
    /// A wrapper: the array's `[` is at this index; `depth` objects are open around it.
    Wrapper {
        open: usize,
        depth: usize,
    },
}

impl<R: Read> Splitter<R> {
    pub fn new(reader: R, wrappers: &'static [WrapperPath]) -> Self {
        Splitter {
            reader,
            buf: Vec::new(),
            pos: 0,
            base: 0,
            eof: false,
            stack: Vec::new(),
            wrappers,
            index: 0,
            max_record: DEFAULT_MAX_RECORD,
            chunk: DEFAULT_CHUNK,
            unclosed_wrapper: None,
            key_filter: None,
        }
    }

    /// A splitter whose input starts with `head` (already in memory, say a whole file read and
    /// decompressed in one call) and goes on with what `reader` gives (`std::io::empty()` when
    /// `head` is all of it). `head` becomes the splitter's buffer: it is not copied, and
    /// [`Splitter::into_buffer`] gives it back for reuse.
    pub fn with_head(head: Vec<u8>, reader: R, wrappers: &'static [WrapperPath]) -> Self {
        let mut s = Splitter::new(reader, wrappers);
        s.buf = head;
        s
    }

    /// The buffer, emptied, to reuse its allocation.
    pub fn into_buffer(self) -> Vec<u8> {
        let mut buf = self.buf;
        buf.clear();
        buf
    }

    /// Sets the largest record accepted (default [`DEFAULT_MAX_RECORD`]).
    pub fn max_record(mut self, limit: usize) -> Self {
        self.max_record = limit;
        self
    }

    /// Sets the read size (tests use tiny chunks to exercise refills).
    pub fn chunk_size(mut self, chunk: usize) -> Self {
        self.chunk = chunk.max(1);
        self
    }

    /// Bytes consumed so far (a progress measure).
    pub fn consumed(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Reads more input. Returns false at end of input.
    fn fill(&mut self) -> Result<bool, SplitError> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 && (self.pos >= self.buf.len() / 2 || self.buf.len() - self.pos < self.chunk) {
            self.buf.drain(..self.pos);
            self.base += self.pos as u64;
            self.pos = 0;
        }
        if self.buf.len() - self.pos > self.max_record {
            return Err(SplitError::TooLarge { offset: self.consumed(), limit: self.max_record });
        }
        let old = self.buf.len();
        self.buf.resize(old + self.chunk, 0);
        let n = loop {
            match self.reader.read(&mut self.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(e.into());
                }
            }
        };
        self.buf.truncate(old + n);
        if n == 0 {
            self.eof = true;
        }
        Ok(n > 0)
    }

    /// Reads more for a value at `pos` that is not complete yet: at least as much again as is
    /// buffered of it, so a value scanned anew after each read costs time linear in its size
    /// (one chunk at a time, a 256 MB record was scanned a thousand times). `false` at the end
    /// of the input.
    fn fill_more(&mut self) -> Result<bool, SplitError> {
        let had = self.buf.len() - self.pos;
        let want = had.max(self.chunk);
        let mut read = false;
        while self.buf.len() - self.pos - had < want {
            if !self.fill()? {
                return Ok(read);
            }
            read = true;
        }
        Ok(true)
    }

    /// Skips white space, NUL padding and UTF-8 byte order marks (at the start, and where files
    /// that each began with one were concatenated). Returns the next byte, or `None` at the end
    /// of the input.
    fn peek_non_ws(&mut self) -> Result<Option<u8>, SplitError> {
        loop {
            while let Some(&b) = self.buf.get(self.pos) {
                if matches!(b, b' ' | b'\n' | b'\r' | b'\t' | 0) {
                    self.pos += 1;
                } else if b == 0xEF {
                    while self.buf.len() - self.pos < 3 && self.fill()? {}
                    if self.buf[self.pos..].starts_with(&[0xEF, 0xBB, 0xBF]) {
                        self.pos += 3;
                    } else {
                        return Ok(Some(b));
                    }
                } else {
                    return Ok(Some(b));
                }
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// The next record, or `None` at the end of the input.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, SplitError> {
        loop {
            let Some(b) = self.peek_non_ws()? else {
                return Ok(self.end_of_input());
            };
            match self.stack.last().copied() {
                Some(Frame::Array { .. }) if b == b',' => {
                    self.pos += 1;
                    continue;
                }
                Some(Frame::Array { .. }) if b == b']' => {
                    self.pos += 1;
                    self.stack.pop();
                    if let Some(Frame::Wrapper { depth, at }) = self.stack.last().copied() {
                        self.stack.pop();
                        if !self.skip_to_close(depth)? {
                            self.unclosed_wrapper = Some(at);
                        }
                    }
                    continue;
                }
                _ => {}
            }
            match b {
                b'[' if self.stack.len() < MAX_NESTING => {
                    self.stack.push(Frame::Array { at: self.consumed() });
                    self.pos += 1;
                }
                b'[' => {
                    // Too deep to be a container of records: one value, which its parser rejects.
                    return match self.value_extent(container_end)? {
                        Some(len) => Ok(Some(self.emit(len, None))),
                        None => Ok(Some(self.emit_tail())),
                    };
                }
                b'{' => {
                    let line = self.stack.is_empty() && self.line_delimited()?;
                    let at = self.consumed();
                    match self.probe_object(line)? {
                        Probe::Wrapper { open, depth } => {
                            self.pos += open + 1;
                            self.stack.push(Frame::Wrapper { depth, at });
                            self.stack.push(Frame::Array { at: self.consumed() - 1 });
                        }
                        Probe::Record(len) => return Ok(Some(self.emit(len, None))),
                        Probe::Cut(len) => {
                            // The line without its CR; then past the newline.
                            let mut n = len;
                            while n > 0 && self.buf[self.pos + n - 1] == b'\r' {
                                n -= 1;
                            }
                            let start = self.pos;
                            self.pos += len + 1;
                            let index = self.index;
                            self.index += 1;
                            return Ok(Some(Record {
                                bytes: &self.buf[start..start + n],
                                offset: self.base + start as u64,
                                index,
                                truncated: true,
                                incomplete: Some(Incomplete::EndOfLine),
                            }));
                        }
                        Probe::NeedMore => return Ok(Some(self.emit_tail())),
                    }
                }
                _ => {
                    let in_array = matches!(self.stack.last(), Some(Frame::Array { .. }));
                    let (len, truncated) = self.scalar_extent(in_array)?;
                    if truncated {
                        return Ok(Some(self.emit_tail()));
                    }
                    return Ok(Some(self.emit(len, None)));
                }
            }
        }
    }

    /// The input ended inside the value at `pos`: the rest is one record, and the
    /// containers around it are closed (they are not reported again).
    fn emit_tail(&mut self) -> Record<'_> {
        self.stack.clear();
        self.unclosed_wrapper = None;
        let len = self.buf.len() - self.pos;
        self.emit(len, Some(Incomplete::EndOfInput))
    }

    /// At the end of the input: an empty record for containers left open, else nothing.
    fn end_of_input(&mut self) -> Option<Record<'_>> {
        let opened_at = match (self.stack.first(), self.unclosed_wrapper) {
            (Some(f), _) => f.at(),
            (None, Some(at)) => at,
            (None, None) => return None,
        };
        let depth = self.stack.iter().filter(|f| matches!(f, Frame::Array { .. })).count().max(1);
        self.stack.clear();
        self.unclosed_wrapper = None;
        self.pos = self.buf.len();
        Some(self.emit(0, Some(Incomplete::Container { depth, opened_at })))
    }

    /// Whether the top-level object at `pos` is on one line: its `{` is followed, on the same
    /// line, by something other than white space (a pretty-printed object's `{` ends its line).
    fn line_delimited(&mut self) -> Result<bool, SplitError> {
        loop {
            let rest = &self.buf[self.pos + 1..];
            match rest.iter().position(|&c| !matches!(c, b' ' | b'\t')) {
                Some(i) => return Ok(!matches!(rest[i], b'\n' | b'\r')),
                None => {
                    if !self.fill()? {
                        return Ok(false);
                    }
                }
            }
        }
    }

    /// The extent of the value at `pos` by `end`, reading more as needed; `None` at the end of
    /// the input.
    fn value_extent(&mut self, end: fn(&[u8]) -> Option<usize>) -> Result<Option<usize>, SplitError> {
        loop {
            if let Some(n) = end(&self.buf[self.pos..]) {
                return Ok(Some(n));
            }
            if !self.fill_more()? {
                return Ok(None);
            }
        }
    }

    fn emit(&mut self, len: usize, incomplete: Option<Incomplete>) -> Record<'_> {
        let start = self.pos;
        self.pos += len;
        let index = self.index;
        self.index += 1;
        Record {
            bytes: &self.buf[start..start + len],
            offset: self.base + start as u64,
            index,
            truncated: incomplete.is_some(),
            incomplete,
        }
    }

    /// Decides whether the object at `pos` is a wrapper or a record, reading more as needed.
    /// `line`: the object's first line holds more than its brace (line-delimited input): when that
    /// line ends inside the object and the next line that holds anything starts a new object at
    /// its first byte, the line was cut short ([`Probe::Cut`]).
    fn probe_object(&mut self, mut line: bool) -> Result<Probe, SplitError> {
        // A value inside an array (a CloudTrail record in `Records`) is almost never a wrapper:
        // when it is all buffered, find its end in one fast scan, and walk its keys only if a
        // wrapper's first key appears in it at all (`"Records"`, quotes included: a key that
        // names a wrapper is one). What it gives is what the walk gives: without such a key the
        // walk finds no wrapper and ends the object where `container_end` does. Otherwise, and
        // for a value not yet buffered whole (a page inside an array is opened as soon as its
        // key is read, not buffered whole first), the walk decides.
        if !self.stack.is_empty() {
            let rest = &self.buf[self.pos..];
            match self.key_filter.get_or_insert_with(|| KeyFilter::new(self.wrappers)) {
                Some(keys) => {
                    if let Some((n, false)) = container_end_keys(rest, keys) {
                        return Ok(Probe::Record(n));
                    }
                }
                None => {
                    if let Some(n) = container_end(rest)
                        && !names_a_wrapper(self.wrappers, &rest[..n])
                    {
                        return Ok(Probe::Record(n));
                    }
                }
            }
        }
        loop {
            let rest = &self.buf[self.pos..];
            if line && let Some(nl) = memchr::memchr(b'\n', rest) {
                match probe_wrapper(&rest[..nl], self.wrappers) {
                    Probe::NeedMore => match next_line_starts_object(&rest[nl + 1..]) {
                        Some(true) => return Ok(Probe::Cut(nl)),
                        // An object over several lines (`{"a": 1,\n "b": 2}`): read it whole.
                        Some(false) => line = false,
                        None => {
                            if !self.fill_more()? {
                                line = false;
                            }
                            continue;
                        }
                    },
                    probe => return Ok(probe),
                }
            }
            let probe = probe_wrapper(&self.buf[self.pos..], self.wrappers);
            if !matches!(probe, Probe::NeedMore) {
                return Ok(probe);
            }
            if !self.fill_more()? {
                return Ok(Probe::NeedMore);
            }
        }
    }

    /// Extent of a non-container value (a string, number, literal or garbage). Garbage runs to
    /// the end of the line at the top level, or to the next `,`/`]` inside an array.
    fn scalar_extent(&mut self, in_array: bool) -> Result<(usize, bool), SplitError> {
        loop {
            let rest = &self.buf[self.pos..];
            let found = if rest.first() == Some(&b'"') {
                string_end(rest, 1).map(|e| e + 1)
            } else if in_array {
                rest.iter().position(|&c| matches!(c, b',' | b']' | b'\n'))
            } else {
                memchr::memchr(b'\n', rest)
            };
            match found {
                Some(n) => {
                    // Trim trailing whitespace of garbage.
                    let mut n = n;
                    while n > 0 && rest[n - 1].is_ascii_whitespace() {
                        n -= 1;
                    }
                    return Ok((n.max(1), false));
                }
                None => {
                    if !self.fill_more()? {
                        let rest = &self.buf[self.pos..];
                        let quoted_open = rest.first() == Some(&b'"');
                        return Ok((rest.len(), quoted_open));
                    }
                }
            }
        }
    }

    /// Skips the rest of `depth` open objects (their remaining keys after a wrapper array).
    /// `false` when the input ends first.
    fn skip_to_close(&mut self, depth: usize) -> Result<bool, SplitError> {
        loop {
            if let Some(n) = close_extent(&self.buf[self.pos..], depth) {
                self.pos += n;
                return Ok(true);
            }
            if !self.fill_more()? {
                self.pos = self.buf.len();
                return Ok(false);
            }
        }
    }
}

/// Whether `record` holds one of the wrappers' first keys in quotes, anywhere (what
/// [`container_end_keys`] tells of the record it ends; its reference, and the search where
/// [`KeyFilter`] cannot be used).
fn names_a_wrapper(wrappers: &[WrapperPath], record: &[u8]) -> bool {
    wrappers
        .iter()
        .filter_map(|w| w.first())
        .any(|k| memchr::memmem::find(record, format!("\"{k}\"").as_bytes()).is_some())
}

/// The wrappers' first keys in quotes (`"Records"`), sought while a record's end is found
/// ([`container_end_keys`]): a quote followed by one of the keys' first bytes (found with the
/// quotes and brackets, in the same 64-byte masks) is compared with each key in full.
#[derive(Debug, Clone)]
struct KeyFilter {
    patterns: Vec<Vec<u8>>,
    /// The byte after the opening quote of each pattern (a key's first byte, or `"` for an
    /// empty key), each once.
    leads: Vec<u8>,
}

/// At most this many distinct first bytes are sought in the masks.
const MAX_LEADS: usize = 8;

impl KeyFilter {
    const NONE: KeyFilter = KeyFilter { patterns: Vec::new(), leads: Vec::new() };

    fn new(wrappers: &[WrapperPath]) -> Option<KeyFilter> {
        let patterns: Vec<Vec<u8>> =
            wrappers.iter().filter_map(|w| w.first()).map(|k| format!("\"{k}\"").into_bytes()).collect();
        let mut leads: Vec<u8> = patterns.iter().filter_map(|p| p.get(1).copied()).collect();
        leads.sort_unstable();
        leads.dedup();
        (leads.len() <= MAX_LEADS).then_some(KeyFilter { patterns, leads })
    }

    /// Just past the shortest pattern that starts at `b[p]`, if any.
    fn match_end(&self, b: &[u8], p: usize) -> Option<usize> {
        let rest = b.get(p..)?;
        self.patterns.iter().filter(|k| rest.starts_with(k)).map(|k| p + k.len()).min()
    }
}

/// Whether the first line of `b` that holds anything starts with `{` at its first byte (`None`:
/// `b` ends first).
fn next_line_starts_object(b: &[u8]) -> Option<bool> {
    let mut at_start = true;
    for &c in b {
        match c {
            b'\n' => at_start = true,
            b' ' | b'\t' | b'\r' | 0 => at_start = false,
            _ => return Some(c == b'{' && at_start),
        }
    }
    None
}

/// Index of the closing quote of a string whose body starts at `from`, or `None` if incomplete.
///
/// Most strings in log records are short (keys, names, times: some 10 to 40 bytes), where a
/// call to a vector search costs more than it saves: the first 64 bytes are looked at eight at
/// a time in a `u64` (SWAR), longer strings go on with `memchr2`.
fn string_end(b: &[u8], from: usize) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    let short_until = from.saturating_add(64);
    while i < short_until {
        let Some(word) = b.get(i..).and_then(|r| r.first_chunk::<8>()) else { break };
        let x = u64::from_le_bytes(*word);
        let (q, s) = (x ^ (LO * u64::from(b'"')), x ^ (LO * u64::from(b'\\')));
        // A byte is flagged where it is a quote or a backslash; the lowest flag is exact (a
        // borrow only ever flags bytes above a true match).
        let found = ((q.wrapping_sub(LO) & !q) | (s.wrapping_sub(LO) & !s)) & HI;
        if found == 0 {
            i += 8;
            continue;
        }
        let j = i + (found.trailing_zeros() / 8) as usize;
        if b[j] == b'"' {
            return Some(j);
        }
        i = j + 2;
        if i > b.len() {
            return None;
        }
    }
    loop {
        let j = i + memchr::memchr2(b'"', b'\\', b.get(i..)?)?;
        if b[j] == b'"' {
            return Some(j);
        }
        i = j + 2;
        if i > b.len() {
            return None;
        }
    }
}

/// Given `b[0]` is `{` or `[`, the index just past its matching close, or `None` if incomplete.
///
/// Reads 64 bytes at a time: bit masks of the bytes that matter (quotes, backslashes, opening
/// and closing brackets; [`classify`]). A block without a backslash (nearly all of them) is
/// taken whole: which bytes lie inside strings is the running parity of the quotes before them
/// ([`prefix_xor`]), so only the brackets outside strings are counted, and only looked at one
/// by one when there are as many closing ones as the depth (else the block cannot end the
/// value). A block with a backslash is read one interesting byte at a time, in order, with the
/// state of a byte-by-byte scan (inside a string or not, nesting depth): a backslash inside a
/// string skips the byte after it, brackets inside strings do not count, a backslash outside a
/// string is nothing. This is the splitter's hottest loop (a CloudTrail record is ~1.2 KB with
/// ~60 short strings); it gives what [`container_end_bytewise`] gives (property-tested).
pub fn container_end(b: &[u8]) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if avx512() {
        // SAFETY: the CPU has AVX-512BW, POPCNT and BMI1 (checked just above).
        return unsafe { scan_avx512::<false>(b, &KeyFilter::NONE) }.map(|(n, _)| n);
    }
    scan_container::<false>(b, &KeyFilter::NONE, classify64).map(|(n, _)| n)
}

/// [`container_end`], and whether the value holds one of `keys`' patterns anywhere in its
/// bytes (what [`names_a_wrapper`] says of them), found in the same pass: a record inside a
/// `Records` array is walked key by key only when it names a wrapper.
fn container_end_keys(b: &[u8], keys: &KeyFilter) -> Option<(usize, bool)> {
    #[cfg(target_arch = "x86_64")]
    if avx512() {
        // SAFETY: the CPU has AVX-512BW, POPCNT and BMI1 (checked just above).
        return unsafe { scan_avx512::<true>(b, keys) };
    }
    scan_container::<true>(b, keys, classify64)
}

/// Whether [`scan_avx512`] can run: AVX-512BW, and the bit counts it does per block as one
/// instruction each (the x86_64 baseline has no `popcnt`, and counts bits with a dozen).
#[cfg(target_arch = "x86_64")]
fn avx512() -> bool {
    std::arch::is_x86_feature_detected!("avx512bw")
        && std::arch::is_x86_feature_detected!("popcnt")
        && std::arch::is_x86_feature_detected!("bmi1")
}

/// [`scan_container`] compiled for AVX-512BW, whose compares give the 64-bit masks at once
/// ([`classify64_avx512`]), with POPCNT and BMI1. Callers check that the CPU has them.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw,popcnt,bmi1")]
fn scan_avx512<const KEYS: bool>(b: &[u8], keys: &KeyFilter) -> Option<(usize, bool)> {
    scan_container::<KEYS>(b, keys, |block, leads| classify64_avx512(block, leads))
}

#[inline(always)]
fn scan_container<const KEYS: bool>(
    b: &[u8],
    keys: &KeyFilter,
    classify64: impl Fn(&[u8; 64], &[u8]) -> Classes,
) -> Option<(usize, bool)> {
    let mut depth = 0usize;
    let mut in_string = false;
    // Just past the first pattern found (they are all found, in order of their start).
    let mut named = usize::MAX;
    let mut i = 0;
    while i < b.len() {
        let end = (i + 64).min(b.len());
        let leads: &[u8] = if KEYS { &keys.leads } else { &[] };
        let m = match b[i..].first_chunk::<64>() {
            Some(full) => classify64(full, leads),
            None => classify(&b[i..end], leads, &classify64),
        };
        if KEYS {
            // A quote followed by a pattern's second byte (bit 63: the next block's first byte).
            let mut candidates = m.quote & (m.lead >> 1);
            if m.quote >> 63 != 0 && b.get(i + 64).is_some_and(|c| keys.leads.contains(c)) {
                candidates |= 1 << 63;
            }
            while candidates != 0 && named == usize::MAX {
                let k = candidates.trailing_zeros() as usize;
                candidates &= candidates - 1;
                if let Some(e) = keys.match_end(b, i + k) {
                    named = e;
                }
            }
        }
        if m.backslash == 0 {
            let inside = prefix_xor(m.quote) ^ if in_string { !0 } else { 0 };
            in_string ^= m.quote.count_ones() & 1 == 1;
            let (opens, closes) = (m.open & !inside, m.close & !inside);
            if (closes.count_ones() as usize) < depth {
                // The depth cannot reach 0 in this block.
                depth = depth + opens.count_ones() as usize - closes.count_ones() as usize;
            } else {
                let mut brackets = opens | closes;
                while brackets != 0 {
                    let k = brackets.trailing_zeros() as usize;
                    brackets &= brackets - 1;
                    if opens & (1u64 << k) != 0 {
                        depth += 1;
                    } else {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            return Some((i + k + 1, named <= i + k + 1));
                        }
                    }
                }
            }
            i = end;
            continue;
        }
        let mut bits = m.quote | m.backslash | m.open | m.close;
        let mut resume = end;
        while bits != 0 {
            let k = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let p = i + k;
            match (in_string, b[p]) {
                (true, b'"') => in_string = false,
                (true, b'\\') => {
                    // The escaped byte is not looked at.
                    if k < 63 {
                        bits &= !(1u64 << (k + 1));
                    } else {
                        resume = p + 2;
                        // Nor classified with a block: a pattern may still start there.
                        if KEYS
                            && named == usize::MAX
                            && let Some(e) = keys.match_end(b, p + 1)
                        {
                            named = e;
                        }
                    }
                }
                (true, _) => {}
                (false, b'"') => in_string = true,
                (false, b'{' | b'[') => depth += 1,
                (false, b'}' | b']') => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        return Some((p + 1, named <= p + 1));
                    }
                }
                (false, _) => {}
            }
        }
        i = resume;
    }
    None
}

/// Bit `k` of the result is the parity of the bits of `x` up to and including bit `k`: of a
/// quote mask, whether byte `k` is inside a string (its opening quote counted, its closing one
/// not) when the block starts outside strings and holds no escape.
fn prefix_xor(mut x: u64) -> u64 {
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    x
}

/// Where the bytes of a block (at most 64) are quotes, backslashes, `{`/`[`, `}`/`]` and one of
/// the `leads` given to [`classify`]: bit `k` of each mask for `block[k]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Classes {
    quote: u64,
    backslash: u64,
    open: u64,
    close: u64,
    lead: u64,
}

/// The masks of a block of at most 64 bytes by `classify64`, the block padded with zeros.
#[inline(always)]
fn classify(block: &[u8], leads: &[u8], classify64: impl Fn(&[u8; 64], &[u8]) -> Classes) -> Classes {
    let mut padded = [0u8; 64];
    let full: &[u8; 64] = match block.first_chunk::<64>() {
        Some(full) => full,
        None => {
            let n = block.len().min(64);
            padded[..n].copy_from_slice(&block[..n]);
            &padded
        }
    };
    classify64(full, leads)
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn classify64(block: &[u8; 64], leads: &[u8]) -> Classes {
    use std::arch::x86_64::*;
    // SSE2 is part of x86_64 itself. `{`/`[` and `}`/`]` differ only in bit 0x20, which no
    // other byte can be ORed into them with.
    let mut c = Classes::default();
    for (lane, bytes) in block.chunks_exact(16).enumerate() {
        // SAFETY: SSE2 is always there on x86_64 (the intrinsics are `unsafe` only as
        // `#[target_feature]` functions); `bytes` is 16 readable bytes and the load needs no
        // alignment.
        let (q, s, o, e, l) = unsafe {
            let x = _mm_loadu_si128(bytes.as_ptr().cast());
            let folded = _mm_or_si128(x, _mm_set1_epi8(0x20));
            let mut lead = _mm_setzero_si128();
            for &c in leads {
                lead = _mm_or_si128(lead, _mm_cmpeq_epi8(x, _mm_set1_epi8(c as i8)));
            }
            (
                _mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8))),
                _mm_movemask_epi8(_mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8))),
                _mm_movemask_epi8(_mm_cmpeq_epi8(folded, _mm_set1_epi8(b'{' as i8))),
                _mm_movemask_epi8(_mm_cmpeq_epi8(folded, _mm_set1_epi8(b'}' as i8))),
                _mm_movemask_epi8(lead),
            )
        };
        let at = 16 * lane;
        c.lead |= u64::from(l as u16) << at;
        c.quote |= u64::from(q as u16) << at;
        c.backslash |= u64::from(s as u16) << at;
        c.open |= u64::from(o as u16) << at;
        c.close |= u64::from(e as u16) << at;
    }
    c
}

/// [`classify64`] with AVX-512BW: one load, one compare per class straight into a 64-bit mask.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512bw")]
#[inline]
fn classify64_avx512(block: &[u8; 64], leads: &[u8]) -> Classes {
    use std::arch::x86_64::*;
    // SAFETY: `block` is 64 readable bytes; the load needs no alignment.
    let x = unsafe { _mm512_loadu_si512(block.as_ptr().cast()) };
    let folded = _mm512_or_si512(x, _mm512_set1_epi8(0x20));
    let mut lead = 0u64;
    for &c in leads {
        lead |= _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(c as i8));
    }
    Classes {
        quote: _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(b'"' as i8)),
        backslash: _mm512_cmpeq_epi8_mask(x, _mm512_set1_epi8(b'\\' as i8)),
        open: _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8(b'{' as i8)),
        close: _mm512_cmpeq_epi8_mask(folded, _mm512_set1_epi8(b'}' as i8)),
        lead,
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn classify64(block: &[u8; 64], leads: &[u8]) -> Classes {
    classify_bytewise(block, leads)
}

/// [`classify64`] one byte at a time (its reference, and the code where there is no SIMD).
#[cfg_attr(target_arch = "x86_64", cfg(test))]
fn classify_bytewise(block: &[u8; 64], leads: &[u8]) -> Classes {
    let mut c = Classes::default();
    for (k, b) in block.iter().enumerate() {
        let bit = 1u64 << k;
        if leads.contains(b) {
            c.lead |= bit;
        }
        match b {
            b'"' => c.quote |= bit,
            b'\\' => c.backslash |= bit,
            b'{' | b'[' => c.open |= bit,
            b'}' | b']' => c.close |= bit,
            _ => {}
        }
    }
    c
}

/// [`container_end`] one byte at a time: the reference it is tested against.
#[cfg(test)]
fn container_end_bytewise(b: &[u8]) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => i = string_end(b, i + 1)?,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

/// Index just past the close of the `depth`-th enclosing container, starting inside it.
fn close_extent(b: &[u8], depth: usize) -> Option<usize> {
    let mut depth = depth;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'"' => i = string_end(b, i + 1)?,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn skip_ws(b: &[u8], mut i: usize) -> Option<usize> {
    while i < b.len() {
        if !matches!(b[i], b' ' | b'\n' | b'\r' | b'\t') {
            return Some(i);
        }
        i += 1;
    }
    None
}

/// Probes the object at `b[0] == '{'` for a wrapper path.
fn probe_wrapper(b: &[u8], wrappers: &[WrapperPath]) -> Probe {
    if wrappers.is_empty() {
        return match container_end(b) {
            Some(n) => Probe::Record(n),
            None => Probe::NeedMore,
        };
    }
    let level = if wrappers.iter().all(|w| !w.is_empty()) {
        probe_level(b, 0, wrappers, 1)
    } else {
        let candidates: Vec<&[&str]> = wrappers.iter().map(|w| &w[..]).filter(|w| !w.is_empty()).collect();
        probe_level(b, 0, &candidates, 1)
    };
    match level {
        Level::Found { open, depth } => Probe::Wrapper { open, depth },
        Level::NeedMore => Probe::NeedMore,
        // The walk over the keys found where the object ends: no second scan.
        Level::NotFound { end: Some(n) } => Probe::Record(n),
        Level::NotFound { end: None } | Level::Malformed => match container_end(b) {
            Some(n) => Probe::Record(n),
            None => Probe::NeedMore,
        },
    }
}

enum Level {
    Found {
        open: usize,
        depth: usize,
    },
    /// No path: `end` is the index just past the object's `}` when every value in it was a
    /// string, a container or a plain scalar (no quote or bracket inside its bytes), where
    /// [`container_end`] would end it too; `None` otherwise (it decides).
    NotFound {
        end: Option<usize>,
    },
    NeedMore,
    Malformed,
}

/// Walks the keys of the object starting at `b[at] == '{'`, looking for one of the paths.
fn probe_level(b: &[u8], at: usize, paths: &[&[&str]], depth: usize) -> Level {
    let mut i = at + 1;
    let mut clean = true;
    loop {
        let Some(j) = skip_ws(b, i) else { return Level::NeedMore };
        match b[j] {
            b'}' => return Level::NotFound { end: clean.then_some(j + 1) },
            b',' => {
                i = j + 1;
                continue;
            }
            b'"' => {}
            _ => return Level::Malformed,
        }
        let Some(kend) = string_end(b, j + 1) else { return Level::NeedMore };
        let key = &b[j + 1..kend];
        let Some(colon) = skip_ws(b, kend + 1) else { return Level::NeedMore };
        if b[colon] != b':' {
            return Level::Malformed;
        }
        let Some(v) = skip_ws(b, colon + 1) else { return Level::NeedMore };
        if paths.iter().any(|p| p[0].as_bytes() == key) {
            let matching: Vec<&[&str]> = paths.iter().filter(|p| p[0].as_bytes() == key).map(|p| &p[1..]).collect();
            if b[v] == b'[' && matching.iter().any(|p| p.is_empty()) {
                return Level::Found { open: v, depth };
            }
            if b[v] == b'{' {
                let deeper: Vec<&[&str]> = matching.into_iter().filter(|p| !p.is_empty()).collect();
                if !deeper.is_empty() {
                    match probe_level(b, v, &deeper, depth + 1) {
                        Level::NotFound { .. } => {}
                        other => return other,
                    }
                }
            }
        }
        // Skip this value.
        let end = match b[v] {
            b'{' | b'[' => match container_end(&b[v..]) {
                Some(n) => v + n,
                None => return Level::NeedMore,
            },
            b'"' => match string_end(b, v + 1) {
                Some(e) => e + 1,
                None => return Level::NeedMore,
            },
            _ => match b[v..].iter().position(|&c| matches!(c, b',' | b'}' | b']')) {
                Some(n) => {
                    clean &= !b[v..v + n].iter().any(|c| matches!(c, b'"' | b'{' | b'['));
                    v + n
                }
                None => return Level::NeedMore,
            },
        };
        i = end;
    }
}

#[cfg(test)]
mod tests;
