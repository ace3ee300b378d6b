//! Raw records are kept compressed: raw JSON in SQLite costs an order of magnitude in insert
//! rate and size (design.md, measured facts), and the compression runs on the parse workers,
//! not on the single writer.
//!
//! The codecs, told apart by a blob's first bytes, so every blob written before reads as it did:
//! - columns (migration 26): what [`Block::finish`] writes. The block's records laid out as
//!   columns (`crate::columns`), compressed with zstd, behind a header that is a zstd skippable
//!   frame: [`COLUMNS_IDS_HEADER`] when the records' native ids were zstd's dictionary (every
//!   record pushed with [`Block::push_id`]: an import's blocks, a prune's), [`COLUMNS_HEADER`]
//!   otherwise. The ids are not in the blob: the block's facts say them, and such a block is read
//!   with them (`decompress_block`).
//! - zstd (RFC 8878) of the records as they are: what blocks held from migration 18 to 25, and
//!   what the store's frames of facts and SSOs are (`compress_block`). A zstd frame starts with
//!   the magic number `28 B5 2F FD` (RFC 8878 §3.1.1).
//! - raw deflate (RFC 1951), without header: what blocks held before migration 18, what
//!   [`compress`] writes for a record stored alone ([`RawRef::Deflated`]) and for `raw_history`.
//!   No deflate stream begins with the zstd magic number: its first byte `0x28` would open a
//!   stored block that is not the last (BFINAL 0, BTYPE 00), whose next four bytes are LEN and
//!   its one's complement NLEN (RFC 1951 §3.2.4); `B5 2F` as LEN needs `4A D0` as NLEN, not
//!   `FD ..`. A decoder refuses such a stream, so no blob that ever read as deflate reads as zstd.
//!   Nor does one begin with the columns' headers (their first byte has BTYPE 11, reserved).

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use std::io::{Read, Write};
use trailproof_model::Source;

/// The first bytes of a zstd frame (RFC 8878 §3.1.1: magic number 0xFD2FB528, little-endian).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xB5, 0x2F, 0xFD];

/// What a block of records laid out as columns (migration 26, `crate::columns`) begins with,
/// before the zstd frame of its layout: a zstd skippable frame (RFC 8878 §3.1.2: magic number
/// 0x184D2A5E, little-endian, then the length of its content, 4) holding `TPC1`. No deflate
/// stream begins with it: its first byte `0x5E` has BTYPE 11 (bits 1-2), which RFC 1951 §3.2.3
/// reserves as an error; nor does a zstd frame of data (another magic number).
pub const COLUMNS_HEADER: [u8; 12] = [0x5E, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, b'T', b'P', b'C', b'1'];

/// What a block of columns compressed with its records' native ids as zstd's dictionary begins
/// with (`TPC2`; [`Block::push_id`]). The ids are not in the blob: its facts say them (every
/// record pushed into the block has an entry there, stored or not), so it is read with
/// `decompress_block`. Its zstd frame carries a checksum of its content, so a dictionary that
/// is not the one it was written with is an error, not other bytes.
pub const COLUMNS_IDS_HEADER: [u8; 12] = [0x5E, 0x2A, 0x4D, 0x18, 4, 0, 0, 0, b'T', b'P', b'C', b'2'];

/// The dictionary a block of [`COLUMNS_IDS_HEADER`] is compressed with: its records' native ids
/// in the order of their bytes (ties by id), each quoted and on a line of its own, as a column of
/// ids lays them out (`crate::columns`): a column of ids then compresses as a few long matches.
pub(crate) fn ids_dictionary<'a>(mut entries: Vec<(u64, std::borrow::Cow<'a, str>)>) -> Vec<u8> {
    entries.sort_unstable();
    let mut out = Vec::with_capacity(entries.iter().map(|(_, id)| id.len() + 3).sum());
    for (_, id) in entries {
        out.push(b'"');
        out.extend_from_slice(id.as_bytes());
        out.extend_from_slice(b"\"\n");
    }
    out
}

/// The largest stated size [`decompress`] inflates in one call (a block holds up to 1,024 records
/// of at most a few MB in practice; a larger stated size is streamed, growing as it goes).
const ONE_SHOT_MAX: usize = 256 << 20;

/// A block is closed once its records hold this many bytes, whatever their number (ingest's
/// chunks; large records make a block of fewer). About the most a block holds.
pub const BLOCK_BYTES: usize = 4 << 20;

/// The zstd level of blocks (measured: see migration 18).
pub const BLOCK_LEVEL: i32 = 3;

/// Compresses a raw record for [`crate::Batch::insert_aws`] / [`crate::Batch::insert_idp`].
///
/// Each thread keeps one compressor and resets it between records: setting up a deflate state
/// zeroes some 300 KB of tables, which cost more than compressing a 2 KB record (measured: a
/// third of an IdP import's parse-worker time before this).
pub fn compress(raw: &[u8]) -> Vec<u8> {
    use flate2::{Compress, FlushCompress, Status};
    thread_local! {
        static DEFLATE: std::cell::RefCell<Compress> = std::cell::RefCell::new(Compress::new(Compression::fast(), false));
    }
    let one_shot = || {
        let mut enc = DeflateEncoder::new(Vec::with_capacity(raw.len() / 3 + 16), Compression::fast());
        // Writing to a Vec cannot fail.
        let _ = enc.write_all(raw);
        enc.finish().unwrap_or_default()
    };
    DEFLATE.with(|cell| {
        let Ok(mut c) = cell.try_borrow_mut() else { return one_shot() };
        c.reset();
        let mut out = Vec::with_capacity(raw.len() / 2 + 64);
        loop {
            let consumed = c.total_in() as usize;
            match c.compress_vec(&raw[consumed.min(raw.len())..], &mut out, FlushCompress::Finish) {
                Ok(Status::StreamEnd) => return out,
                Ok(_) => out.reserve(out.capacity().max(64)),
                Err(_) => return one_shot(),
            }
        }
    })
}

thread_local! {
    /// Each thread's zstd compression context (as [`compress`] keeps its deflate state).
    static ZSTD: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        std::cell::RefCell::new(zstd::bulk::Compressor::new(BLOCK_LEVEL).ok());
}

thread_local! {
    /// Each thread's zstd context for blocks compressed with their ids ([`COLUMNS_IDS_HEADER`]):
    /// a dictionary stays loaded in a context until the next, so frames compressed without one
    /// use [`ZSTD`].
    static ZSTD_IDS: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        std::cell::RefCell::new(zstd::bulk::Compressor::new(BLOCK_LEVEL).ok());
    /// The same for reading them.
    static UNZSTD_IDS: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
        std::cell::RefCell::new(zstd::bulk::Decompressor::new().ok());
}

/// Compresses `data` with zstd at [`BLOCK_LEVEL`]; `None` should zstd fail.
fn zstd_block(data: &[u8]) -> Option<Vec<u8>> {
    ZSTD.with(|cell| cell.try_borrow_mut().ok()?.as_mut()?.compress(data).ok())
}

/// Compresses a frame's data (SSOs, facts) with zstd at [`BLOCK_LEVEL`]; should zstd fail, the
/// data is deflated instead, which reads back the same.
pub(crate) fn compress_block(data: &[u8]) -> Vec<u8> {
    zstd_block(data).unwrap_or_else(|| compress(data))
}

/// Where the writer finds a record's raw bytes.
#[derive(Debug, Clone, Copy)]
pub enum RawRef<'a> {
    /// The record compressed on its own by [`compress`].
    Deflated(&'a [u8]),
    /// Bytes `start..start + len` of a block's uncompressed data (see [`crate::Batch::insert_block`]).
    InBlock { block_id: i64, start: usize, len: usize },
}

impl<'a> From<&'a [u8]> for RawRef<'a> {
    fn from(b: &'a [u8]) -> RawRef<'a> {
        RawRef::Deflated(b)
    }
}

impl<'a> From<&'a Vec<u8>> for RawRef<'a> {
    fn from(b: &'a Vec<u8>) -> RawRef<'a> {
        RawRef::Deflated(b)
    }
}

/// A block of records being packed: [`Block::push`] each record's bytes, then compress the
/// whole with [`Block::finish`].
#[derive(Debug, Default)]
pub struct Block {
    data: Vec<u8>,
    /// Where each record pushed ends in `data`.
    ends: Vec<usize>,
    /// Each record's start and native id, when every record was pushed with one.
    ids: Vec<(u64, String)>,
}

impl Block {
    /// Appends a record; returns its `(start, len)` in the block.
    pub fn push(&mut self, raw: &[u8]) -> (usize, usize) {
        let start = self.data.len();
        self.data.extend_from_slice(raw);
        self.ends.push(self.data.len());
        (start, raw.len())
    }

    /// Appends a record with its native id; returns its `(start, len)` in the block. A block
    /// whose every record was pushed so is compressed with their ids as its dictionary
    /// ([`COLUMNS_IDS_HEADER`]); the store must then be told every record of it
    /// ([`crate::Batch::insert_block_of`]), stored or not.
    pub fn push_id(&mut self, raw: &[u8], native_id: &str) -> (usize, usize) {
        let place = self.push(raw);
        self.ids.push((place.0 as u64, native_id.to_string()));
        place
    }

    /// Bytes pushed so far (uncompressed).
    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The compressed block, for [`crate::Batch::insert_block`]: its records laid out as
    /// columns (`crate::columns`) behind [`COLUMNS_HEADER`], compressed with zstd (should
    /// zstd fail: the data deflated, as before migration 18). It reads back, with
    /// [`decompress`], as the records pushed, one after another.
    pub fn finish(self) -> Vec<u8> {
        // The layout and its compressed bytes go through buffers the thread keeps: fresh pages
        // for them at every block cost more than laying the records out (page faults).
        thread_local! {
            static BUFFERS: std::cell::RefCell<(Vec<u8>, Vec<u8>)> = const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
        }
        let by_id = !self.ids.is_empty() && self.ids.len() == self.ends.len();
        let pack = |laid: &mut Vec<u8>, z: &mut Vec<u8>| -> Option<Vec<u8>> {
            crate::columns::encode_into(&self.data, &self.ends, laid);
            z.clear();
            z.reserve(zstd::zstd_safe::compress_bound(laid.len()));
            let header = if by_id {
                let dict = ids_dictionary(self.ids.iter().map(|(s, id)| (*s, id.as_str().into())).collect());
                ZSTD_IDS.with(|cell| {
                    let mut c = cell.try_borrow_mut().ok()?;
                    let c = c.as_mut()?;
                    c.set_dictionary(BLOCK_LEVEL, &dict).ok()?;
                    c.set_parameter(zstd::zstd_safe::CParameter::ChecksumFlag(true)).ok()?;
                    c.compress_to_buffer(laid, z).ok()
                })?;
                COLUMNS_IDS_HEADER
            } else {
                ZSTD.with(|cell| cell.try_borrow_mut().ok()?.as_mut()?.compress_to_buffer(laid, z).ok())?;
                COLUMNS_HEADER
            };
            let mut out = Vec::with_capacity(header.len() + z.len());
            out.extend_from_slice(&header);
            out.extend_from_slice(z);
            // A block of a few huge records does not pin its size on the thread.
            if laid.capacity() > 4 * BLOCK_BYTES {
                *laid = Vec::new();
                *z = Vec::new();
            }
            Some(out)
        };
        let packed = BUFFERS.with(|cell| match cell.try_borrow_mut() {
            Ok(mut b) => {
                let (laid, z) = &mut *b;
                pack(laid, z)
            }
            Err(_) => pack(&mut Vec::new(), &mut Vec::new()),
        });
        packed.unwrap_or_else(|| compress(&self.data))
    }
}

/// Where a record was read, as an import names it: `record N at byte M` for a record of a file
/// of records (kept as its two numbers), any other text (a record inside an envelope, an API
/// page) as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Location {
    At { record: i64, byte: i64 },
    Text(String),
}

impl Location {
    pub(crate) fn parse(text: &str) -> Location {
        let numbers = text
            .strip_prefix("record ")
            .and_then(|rest| rest.split_once(" at byte "))
            .and_then(|(n, m)| Some((n.parse::<i64>().ok()?, m.parse::<i64>().ok()?)));
        match numbers {
            // Only what the numbers give back exactly is kept as numbers.
            Some((record, byte)) if format!("record {record} at byte {byte}") == text => Location::At { record, byte },
            _ => Location::Text(text.to_string()),
        }
    }

    pub(crate) fn text(&self) -> String {
        match self {
            Location::At { record, byte } => format!("record {record} at byte {byte}"),
            Location::Text(t) => t.clone(),
        }
    }
}

/// What a block says of one record stored in it (migration 25): its native id, where its bytes
/// lie in the block's data and where the record was read; since migration 27 its source too, so
/// that the block's records are found by their key (`raw_records_key`) from its facts alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fact {
    /// `None` only in facts written before migration 27 (which writes every block's again).
    pub(crate) source: Option<Source>,
    pub(crate) native_id: NativeId,
    /// Bytes `start..start + len` of the block's data; `None`: all of it (a record stored
    /// alone, [`RawRef::Deflated`], is a block of its own).
    pub(crate) span: Option<(u64, u64)>,
    pub(crate) loc: Location,
}

impl Fact {
    /// The record's bytes within its block's (decompressed) `data`.
    pub(crate) fn bytes<'d>(&self, data: &'d [u8]) -> Result<&'d [u8], String> {
        let Some((start, len)) = self.span else { return Ok(data) };
        usize::try_from(start)
            .ok()
            .zip(usize::try_from(len).ok())
            .and_then(|(s, l)| data.get(s..s.checked_add(l)?))
            .ok_or_else(|| format!("bytes {start}+{len} lie outside its block of {}", data.len()))
    }

    /// The bytes of the record (uncompressed) out of the block's `data_len`.
    pub(crate) fn len_in(&self, data_len: usize) -> u64 {
        self.span.map_or(data_len as u64, |(_, len)| len)
    }
}

/// The facts of a block's records, a slot each (`raw_blocks.facts`, migration 25). A record's
/// row names its block and slot. A block whose records were pushed with their ids
/// ([`Facts::of_pushed`], an import's) has a slot for every record pushed, in the order of their
/// bytes, and a record stored takes the slot of its bytes ([`Facts::place`]); others' slots are
/// given in the order records are stored ([`Facts::push`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Facts {
    slots: Vec<Entry>,
    /// The slots were made from the records pushed ([`Facts::of_pushed`]): a record stored takes
    /// its own, and one not pushed is an error (the block reads only with its ids).
    pushed: bool,
}

/// A slot of a block's facts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    Stored(Fact),
    /// A record pushed into the block and not stored (an import's copy of a record stored
    /// before): its span and native id, which a block compressed with its ids
    /// ([`COLUMNS_IDS_HEADER`]) needs. No row names this slot.
    Unstored((u64, u64), NativeId),
}

/// The first byte of a facts frame's data, before compression: the encoding's version. 1:
/// migration 25 (slots only); 2: migration 26 (entries without a slot too, written with slot
/// number 0 and the others with theirs plus one); 3: migration 27 (every slot in slot order,
/// each with whether it is stored, its source code ([`NO_SOURCE`] for none) and its location's
/// byte offset less the previous located record's length).
const FACTS_VERSION: u8 = 3;

/// The source code a fact without a source is written with (`blocks::source_code` gives the
/// others).
const NO_SOURCE: u8 = u8::MAX;

/// A fact as written: offsets and numbers as differences from the slot before, so a block of
/// records read one after another from a file costs a few bytes a record.
#[derive(serde::Serialize, serde::Deserialize)]
enum WireSpan {
    Whole,
    /// `start` less the end of the previous slot's span, and the length.
    Part(i64, u64),
}

/// A record's native id as its block's facts keep it: a UUID in its usual text (lower-case hex,
/// hyphens at 8-4-4-4-12), as Okta and Entra give theirs, as its 16 bytes (made text only when
/// asked); anything else as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NativeId {
    Uuid([u8; 16]),
    Text(Box<str>),
}

impl NativeId {
    pub(crate) fn new(id: &str) -> NativeId {
        match uuid_bytes(id) {
            Some(b) => NativeId::Uuid(b),
            None => NativeId::Text(id.into()),
        }
    }

    pub(crate) fn text(&self) -> String {
        match self {
            NativeId::Text(t) => t.to_string(),
            NativeId::Uuid(b) => {
                let h = hex::encode(b);
                format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
            }
        }
    }

    /// Whether this is the id `id`.
    pub(crate) fn is(&self, id: &str) -> bool {
        match self {
            NativeId::Text(t) => &**t == id,
            NativeId::Uuid(b) => uuid_bytes(id).as_ref() == Some(b),
        }
    }
}

/// The 16 bytes of a UUID written in its usual text, `None` for any other text.
fn uuid_bytes(id: &str) -> Option<[u8; 16]> {
    let b = id.as_bytes();
    let hyphens = [8, 13, 18, 23];
    let shaped = b.len() == 36
        && b.iter().enumerate().all(|(i, c)| {
            if hyphens.contains(&i) { *c == b'-' } else { c.is_ascii_digit() || (b'a'..=b'f').contains(c) }
        });
    if !shaped {
        return None;
    }
    // The 32 hex digits without the hyphens, two to a byte (no copy of the text: this runs for
    // every record an import stores).
    let mut digits = b.iter().filter(|c| **c != b'-');
    let mut out = [0u8; 16];
    for byte in &mut out {
        let (hi, lo) = (digits.next()?, digits.next()?);
        let value = |c: u8| if c.is_ascii_digit() { c - b'0' } else { c - b'a' + 10 };
        *byte = value(*hi) << 4 | value(*lo);
    }
    Some(out)
}

/// A native id as written ([`NativeId`]).
#[derive(serde::Serialize, serde::Deserialize)]
enum WireId<'a> {
    Uuid([u8; 16]),
    Text(&'a str),
}

#[derive(serde::Serialize, serde::Deserialize)]
enum WireLoc<'a> {
    /// Record number and byte offset less the previous numbered location's.
    At(i64, i64),
    Text(&'a str),
}

/// A slot of a version-3 facts frame as written: whether a record is stored there, its source
/// code, its native id, its span and its location.
type WireSlot<'a> = (bool, u8, WireId<'a>, WireSpan, WireLoc<'a>);

/// Reads a [`WireSlot`] off the front of `b` as `postcard::take_from_bytes` reads it, and what
/// follows it. Postcard's wire format (https://postcard.jamesmunns.com/wire-format): a bool is
/// a byte 0 or 1; a u8 its byte; an enum its variant's index as a varint, then its fields; a
/// u64 a LEB128 varint, an i64 a zigzag one; a `[u8; 16]` its 16 bytes; a str its length as a
/// varint, then its UTF-8 bytes. Correlation reads the ids of nearly every block of its days,
/// and postcard's serde path took some 45-55 ns a slot; read here directly, some 25 ns
/// (BENCHMARKS.md). It refuses all that postcard refuses, and also a variant index not written in
/// one byte, which postcard never writes (property-tested against postcard, on slots and on
/// damaged frames).
fn take_slot(b: &[u8]) -> Result<(WireSlot<'_>, &[u8]), String> {
    use integer_encoding::VarInt;
    struct Wire<'a>(&'a [u8]);
    impl<'a> Wire<'a> {
        fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
            if n > self.0.len() {
                return Err("a slot is cut short".into());
            }
            let (taken, rest) = self.0.split_at(n);
            self.0 = rest;
            Ok(taken)
        }
        fn byte(&mut self) -> Result<u8, String> {
            Ok(self.take(1)?[0])
        }
        /// An enum's variant: 0 or 1.
        fn second(&mut self) -> Result<bool, String> {
            match self.byte()? {
                0 => Ok(false),
                1 => Ok(true),
                other => Err(format!("a slot holds {other} where 0 or 1 is written")),
            }
        }
        fn u64(&mut self) -> Result<u64, String> {
            let (v, n) = u64::decode_var(self.0).ok_or("a slot's number is cut short or too long")?;
            self.0 = &self.0[n..];
            Ok(v)
        }
        fn i64(&mut self) -> Result<i64, String> {
            let (v, n) = i64::decode_var(self.0).ok_or("a slot's number is cut short or too long")?;
            self.0 = &self.0[n..];
            Ok(v)
        }
        fn str(&mut self) -> Result<&'a str, String> {
            let len = usize::try_from(self.u64()?).map_err(|e| e.to_string())?;
            std::str::from_utf8(self.take(len)?).map_err(|e| format!("a slot's text is not UTF-8: {e}"))
        }
    }
    let mut w = Wire(b);
    let stored = w.second()?;
    let source = w.byte()?;
    let id = if w.second()? {
        WireId::Text(w.str()?)
    } else {
        WireId::Uuid(w.take(16)?.try_into().map_err(|_| "a slot's id is cut short")?)
    };
    let span = if w.second()? { WireSpan::Part(w.i64()?, w.u64()?) } else { WireSpan::Whole };
    let loc = if w.second()? { WireLoc::Text(w.str()?) } else { WireLoc::At(w.i64()?, w.i64()?) };
    Ok(((stored, source, id, span, loc), w.0))
}

impl Facts {
    /// The facts of a block whose records were pushed with their ids ([`Block::push_id`]):
    /// `(native id, start, len)` of each, none stored yet: a slot each, in the order of their
    /// bytes.
    pub(crate) fn of_pushed<'a>(pushed: impl Iterator<Item = (&'a str, u64, u64)>) -> Facts {
        let mut slots: Vec<Entry> =
            pushed.map(|(id, start, len)| Entry::Unstored((start, len), NativeId::new(id))).collect();
        slots.sort_by_key(|e| e.span());
        Facts { slots, pushed: true }
    }

    /// Adds a record's fact in a slot of its own; returns its slot.
    pub(crate) fn push(&mut self, fact: Fact) -> i64 {
        self.slots.push(Entry::Stored(fact));
        self.slots.len() as i64 - 1
    }

    /// Stores a record's fact: in the slot of its bytes for a block of [`Facts::of_pushed`],
    /// which must have pushed it (same bytes, same id, not stored yet); else as [`Facts::push`].
    /// Returns its slot.
    pub(crate) fn place(&mut self, fact: Fact) -> Result<i64, String> {
        if !self.pushed {
            return Ok(self.push(fact));
        }
        let span = fact.span.ok_or("a record of a block of pushed records names no bytes of it")?;
        let from = self.slots.partition_point(|e| e.span() < Some(span));
        let at = (from..self.slots.len())
            .take_while(|i| self.slots[*i].span() == Some(span))
            .find(|i| matches!(&self.slots[*i], Entry::Unstored(_, id) if *id == fact.native_id));
        let at = at.ok_or_else(|| {
            format!("record {} at bytes {}+{} was not pushed into its block", fact.native_id.text(), span.0, span.1)
        })?;
        self.slots[at] = Entry::Stored(fact);
        Ok(at as i64)
    }

    /// The records pushed into the block that have no slot of a stored record, by span.
    #[cfg(test)]
    pub(crate) fn unstored(&self) -> Vec<((u64, u64), NativeId)> {
        let mut out: Vec<_> = self
            .slots
            .iter()
            .filter_map(|e| match e {
                Entry::Unstored(span, id) => Some((*span, id.clone())),
                Entry::Stored(_) => None,
            })
            .collect();
        out.sort_by_key(|a| a.0);
        out
    }

    /// The dictionary a block of [`COLUMNS_IDS_HEADER`] was compressed with ([`ids_dictionary`]
    /// of every record pushed into it, stored or not).
    pub(crate) fn dictionary(&self) -> Vec<u8> {
        let entries = self.slots.iter().filter_map(|e| match e {
            Entry::Stored(f) => Some((f.span?.0, f.native_id.text().into())),
            Entry::Unstored((start, _), id) => Some((*start, id.text().into())),
        });
        ids_dictionary(entries.collect())
    }

    /// The fact of slot `slot`, `None` when it has none or no stored record.
    pub(crate) fn get(&self, slot: i64) -> Option<&Fact> {
        match usize::try_from(slot).ok().and_then(|s| self.slots.get(s))? {
            Entry::Stored(f) => Some(f),
            Entry::Unstored(..) => None,
        }
    }

    /// Every slot's native id, in slot order (a slot without a stored record too).
    pub(crate) fn native_ids(&self) -> impl Iterator<Item = &NativeId> {
        self.slots.iter().map(|e| match e {
            Entry::Stored(f) => &f.native_id,
            Entry::Unstored(_, id) => id,
        })
    }

    /// The slots of stored records and their facts, in slot order.
    pub(crate) fn stored(&self) -> impl Iterator<Item = (i64, &Fact)> {
        self.slots.iter().enumerate().filter_map(|(i, e)| match e {
            Entry::Stored(f) => Some((i as i64, f)),
            Entry::Unstored(..) => None,
        })
    }

    fn stored_mut(&mut self) -> impl Iterator<Item = &mut Fact> {
        self.slots.iter_mut().filter_map(|e| match e {
            Entry::Stored(f) => Some(f),
            Entry::Unstored(..) => None,
        })
    }

    /// The number of stored records.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.stored().count()
    }

    /// Gives slot `slot`'s record its source; `false` when no record is stored in that slot.
    pub(crate) fn set_source(&mut self, slot: i64, source: Source) -> bool {
        match usize::try_from(slot).ok().and_then(|s| self.slots.get_mut(s)) {
            Some(Entry::Stored(f)) => {
                f.source = Some(source);
                true
            }
            _ => false,
        }
    }

    /// Gives every stored record without a source `source`.
    pub(crate) fn fill_sources(&mut self, source: Source) {
        for f in self.stored_mut() {
            f.source.get_or_insert(source);
        }
    }

    /// These facts with their slots in the order of their records' bytes (a record stored
    /// alone, without a span, first), as an import's block has them since migration 27, and the
    /// slots of stored records that moved: `(slot before, slot now)`.
    pub(crate) fn in_byte_order(&self) -> (Facts, Vec<(i64, i64)>) {
        let mut order: Vec<usize> = (0..self.slots.len()).collect();
        order.sort_by_key(|i| (self.slots[*i].span(), *i));
        let mut moved = Vec::new();
        let mut slots = Vec::with_capacity(order.len());
        for (now, before) in order.into_iter().enumerate() {
            if now != before && matches!(self.slots[before], Entry::Stored(_)) {
                moved.push((before as i64, now as i64));
            }
            slots.push(self.slots[before].clone());
        }
        (Facts { slots, pushed: self.pushed }, moved)
    }

    /// These facts as a frame written before migration 27 says them: no record's source.
    #[cfg(test)]
    pub(crate) fn without_sources(&self) -> Facts {
        let mut facts = self.clone();
        for f in facts.stored_mut() {
            f.source = None;
        }
        facts
    }

    /// The compressed frame `raw_facts.facts` holds: every slot in slot order (which is the
    /// order of the records' bytes in an import's block), each with whether a record is stored
    /// there, offsets and locations as differences from the slot before, so a block of records
    /// read one after another from a file costs a few bytes a record (see BENCHMARKS.md).
    pub(crate) fn encode(&self) -> Result<Vec<u8>, String> {
        let failed = |e: postcard::Error| format!("a block's facts could not be encoded: {e}");
        let mut data = vec![FACTS_VERSION];
        data = postcard::to_extend(&(self.slots.len() as u64), data).map_err(failed)?;
        let mut at = Deltas::default();
        let no_loc = Location::Text(String::new());
        let mut source = NO_SOURCE;
        for entry in &self.slots {
            let (stored, native_id, span, loc) = match entry {
                Entry::Stored(f) => {
                    source = f.source.map_or(NO_SOURCE, |s| crate::blocks::source_code(s) as u8);
                    (true, &f.native_id, f.span, &f.loc)
                }
                // A record not stored repeats the source before it (free once compressed).
                Entry::Unstored(span, id) => (false, id, Some(*span), &no_loc),
            };
            let id = match native_id {
                NativeId::Uuid(b) => WireId::Uuid(*b),
                NativeId::Text(t) => WireId::Text(t),
            };
            let (span, loc) = at.write(span, loc);
            data = postcard::to_extend(&(stored, source, id, span, loc), data).map_err(failed)?;
        }
        Ok(compress_block(&data))
    }

    /// The native id of each slot of block `block`'s facts, in slot order, as
    /// [`Facts::decode`]`(..).native_ids()` gives them, without the rest of the facts: what
    /// correlation reads of them (see [`crate::blocks::NativeIds`]). The frame is checked as
    /// that decode checks it.
    pub(crate) fn native_ids_of(frame: &[u8], block: i64) -> Result<Vec<NativeId>, String> {
        let corrupt = |why: String| format!("the facts of raw block {block}: {why}");
        let data = decompress(frame).map_err(|e| corrupt(e.to_string()))?;
        if data.first() != Some(&FACTS_VERSION) {
            return Ok(Facts::decode(frame, block)?.native_ids().cloned().collect());
        }
        let (n, mut rest) = postcard::take_from_bytes::<u64>(&data[1..]).map_err(|e| corrupt(e.to_string()))?;
        let n = usize::try_from(n)
            .ok()
            .filter(|n| n.saturating_mul(4) <= rest.len())
            .ok_or_else(|| corrupt(format!("they claim {n} slots")))?;
        let mut ids = Vec::with_capacity(n);
        for slot in 0..n {
            let ((stored, source, id, span, _), next) = take_slot(rest).map_err(corrupt)?;
            rest = next;
            if stored {
                source_of(source).map_err(|why| corrupt(format!("slot {slot}: {why}")))?;
            } else if matches!(span, WireSpan::Whole) {
                return Err(corrupt(format!("slot {slot}: a record not stored has no place")));
            }
            ids.push(NativeId::of_wire(id));
        }
        if !rest.is_empty() {
            return Err(corrupt(format!("{} bytes follow the last slot", rest.len())));
        }
        Ok(ids)
    }

    /// The facts of block `block` (named in errors) from its frame.
    pub(crate) fn decode(frame: &[u8], block: i64) -> Result<Facts, String> {
        let corrupt = |why: String| format!("the facts of raw block {block}: {why}");
        let data = decompress(frame).map_err(|e| corrupt(e.to_string()))?;
        let Some((&version, rest)) = data.split_first() else {
            return Err(corrupt("they are empty".into()));
        };
        if !(1..=FACTS_VERSION).contains(&version) {
            return Err(corrupt(format!("encoding version {version} is not known to this trailproof")));
        }
        let (n, mut rest) = postcard::take_from_bytes::<u64>(rest).map_err(|e| corrupt(e.to_string()))?;
        // Each slot takes at least four bytes: a count past the bytes left is a lie, not a
        // reason to allocate.
        let n = usize::try_from(n)
            .ok()
            .filter(|n| n.saturating_mul(4) <= rest.len())
            .ok_or_else(|| corrupt(format!("they claim {n} slots")))?;
        if version == 3 {
            let mut slots = Vec::with_capacity(n);
            let mut at = Deltas::default();
            for slot in 0..n {
                let ((stored, source, id, span, loc), next) = take_slot(rest).map_err(corrupt)?;
                rest = next;
                let (span, loc) = at.read(span, loc);
                let native_id = NativeId::of_wire(id);
                slots.push(if stored {
                    let source = source_of(source).map_err(|why| corrupt(format!("slot {slot}: {why}")))?;
                    Entry::Stored(Fact { source, native_id, span, loc })
                } else {
                    let span = span.ok_or_else(|| corrupt(format!("slot {slot}: a record not stored has no place")))?;
                    Entry::Unstored(span, native_id)
                });
            }
            if !rest.is_empty() {
                return Err(corrupt(format!("{} bytes follow the last slot", rest.len())));
            }
            return Ok(Facts { slots, pushed: false });
        }
        // Versions 1 and 2: entries in the order of their bytes, each with its slot; records
        // not stored (version 2, slot code 0) come after the stored ones' slots.
        let mut slots: Vec<Option<Fact>> = vec![None; n];
        let mut unstored = Vec::new();
        let mut at = Deltas::before_27();
        for _ in 0..n {
            let ((code, id, span, loc), next) =
                postcard::take_from_bytes::<(u64, WireId<'_>, WireSpan, WireLoc<'_>)>(rest)
                    .map_err(|e| corrupt(e.to_string()))?;
            rest = next;
            let (span, loc) = at.read(span, loc);
            let native_id = NativeId::of_wire(id);
            // Version 1 gives every entry's slot; version 2 the slot plus one, 0 for a record
            // not stored.
            let slot = match (version, code) {
                (1, slot) => slot,
                (_, 0) => {
                    let span = span.ok_or_else(|| corrupt("a record not stored has no place in the block".into()))?;
                    unstored.push(Entry::Unstored(span, native_id));
                    continue;
                }
                (_, code) => code - 1,
            };
            let place = usize::try_from(slot).ok().and_then(|s| slots.get_mut(s)).filter(|p| p.is_none());
            let place = place.ok_or_else(|| corrupt(format!("slot {slot} is out of range or given twice")))?;
            *place = Some(Fact { source: None, native_id, span, loc });
        }
        if !rest.is_empty() {
            return Err(corrupt(format!("{} bytes follow the last slot", rest.len())));
        }
        // Each slot given once and in range: the first `n - unstored` are all there.
        let stored = n - unstored.len();
        if slots[..stored].iter().any(Option::is_none) {
            return Err(corrupt(format!("slots are missing: {stored} stored records, slots up to {n}")));
        }
        unstored.sort_by_key(Entry::span);
        let slots = slots.into_iter().flatten().map(Entry::Stored).chain(unstored).collect();
        Ok(Facts { slots, pushed: false })
    }
}

impl Entry {
    fn span(&self) -> Option<(u64, u64)> {
        match self {
            Entry::Stored(f) => f.span,
            Entry::Unstored(span, _) => Some(*span),
        }
    }
}

impl NativeId {
    fn of_wire(id: WireId<'_>) -> NativeId {
        match id {
            WireId::Uuid(b) => NativeId::Uuid(b),
            WireId::Text(t) => NativeId::Text(t.into()),
        }
    }
}

/// The source of a code written in a facts frame.
fn source_of(code: u8) -> Result<Option<Source>, String> {
    match code {
        NO_SOURCE => Ok(None),
        code => crate::blocks::source_of_code(i64::from(code))
            .map(Some)
            .ok_or_else(|| format!("source code {code} is not known")),
    }
}

/// The running values a facts frame's offsets and locations are written against: the end of
/// the previous slot's bytes; the previous numbered location; and, since version 3, the length
/// of that location's record, which its next one's byte offset is written less (records read
/// one after another from a file lie a separator apart).
#[derive(Default)]
struct Deltas {
    end: u64,
    record: i64,
    byte: i64,
    len: i64,
    /// Versions 1 and 2: the byte offset less the previous one's only.
    without_len: bool,
}

impl Deltas {
    fn before_27() -> Deltas {
        Deltas { without_len: true, ..Deltas::default() }
    }

    fn write<'a>(&mut self, span: Option<(u64, u64)>, loc: &'a Location) -> (WireSpan, WireLoc<'a>) {
        let span = match span {
            None => WireSpan::Whole,
            Some((start, len)) => {
                let gap = (start as i64).wrapping_sub(self.end as i64);
                self.end = start.wrapping_add(len);
                WireSpan::Part(gap, len)
            }
        };
        let loc = match loc {
            Location::At { record, byte } => {
                let w =
                    WireLoc::At(record.wrapping_sub(self.record), byte.wrapping_sub(self.byte).wrapping_sub(self.len));
                self.located(*record, *byte, &span);
                w
            }
            Location::Text(t) => WireLoc::Text(t),
        };
        (span, loc)
    }

    fn read(&mut self, span: WireSpan, loc: WireLoc<'_>) -> (Option<(u64, u64)>, Location) {
        let wire = span;
        let span = match &wire {
            WireSpan::Whole => None,
            WireSpan::Part(gap, len) => {
                let start = (self.end as i64).wrapping_add(*gap) as u64;
                self.end = start.wrapping_add(*len);
                Some((start, *len))
            }
        };
        let loc = match loc {
            WireLoc::At(dr, db) => {
                let (record, byte) = (self.record.wrapping_add(dr), self.byte.wrapping_add(db).wrapping_add(self.len));
                self.located(record, byte, &wire);
                Location::At { record, byte }
            }
            WireLoc::Text(t) => Location::Text(t.to_string()),
        };
        (span, loc)
    }

    fn located(&mut self, record: i64, byte: i64, span: &WireSpan) {
        (self.record, self.byte) = (record, byte);
        if !self.without_len {
            self.len = match span {
                WireSpan::Part(_, len) => *len as i64,
                WireSpan::Whole => 0,
            };
        }
    }
}

/// The bytes of raw block `blob`, whose facts are `facts` (needed by a block of
/// [`COLUMNS_IDS_HEADER`] only; any other blob reads as [`decompress`] reads it).
pub(crate) fn decompress_block(blob: &[u8], facts: Option<&Facts>) -> std::io::Result<Vec<u8>> {
    let Some(z) = blob.strip_prefix(&COLUMNS_IDS_HEADER) else { return decompress(blob) };
    let facts = facts.ok_or_else(|| std::io::Error::other("a block compressed with its records' ids has no facts"))?;
    let size = zstd::zstd_safe::get_frame_content_size(z)
        .ok()
        .flatten()
        .and_then(|s| usize::try_from(s).ok())
        .filter(|s| *s <= ONE_SHOT_MAX)
        .ok_or_else(|| std::io::Error::other("a block compressed with its records' ids does not state its size"))?;
    let dict = facts.dictionary();
    let laid = UNZSTD_IDS
        .with(|cell| -> std::io::Result<Vec<u8>> {
            let mut d = cell.try_borrow_mut().map_err(std::io::Error::other)?;
            let d = d.as_mut().ok_or_else(|| std::io::Error::other("no zstd context"))?;
            d.set_dictionary(&dict)?;
            d.decompress(z, size)
        })
        .map_err(|e| std::io::Error::other(format!("a block does not read back with its records' ids: {e}")))?;
    if laid.len() != size {
        return Err(std::io::Error::other("a block compressed with its records' ids is shorter than it says"));
    }
    crate::columns::decode(&laid).map_err(std::io::Error::other)
}

/// The bytes of a block or of a record stored alone, whichever codec wrote them (see the top
/// of this module), but a block of [`COLUMNS_IDS_HEADER`] (`decompress_block`).
pub fn decompress(blob: &[u8]) -> std::io::Result<Vec<u8>> {
    if blob.starts_with(&COLUMNS_IDS_HEADER) {
        return Err(std::io::Error::other(
            "a block compressed with its records' ids as dictionary is read with its facts (decompress_block)",
        ));
    }
    if let Some(z) = blob.strip_prefix(&COLUMNS_HEADER) {
        if !z.starts_with(&ZSTD_MAGIC) {
            return Err(std::io::Error::other("a block of columns holds no zstd frame"));
        }
        let laid = decompress(z)?;
        return crate::columns::decode(&laid).map_err(std::io::Error::other);
    }
    if blob.starts_with(&ZSTD_MAGIC) {
        // A block written by [`Block::finish`] is one frame that states its size (zstd's
        // one-shot compression writes it): it is inflated in one call into a buffer of exactly
        // that size. Streaming it through a reader cost about twice as much (copies through the
        // reader's buffer, a growing output): half of a prune's inflating (BENCHMARKS.md).
        // Anything else (no size stated, several frames, a size past the bound) is streamed.
        // Each thread keeps one decompression context: setting one up cost as much as inflating
        // a block's facts (a fifth of a correlation's reading of them, measured).
        thread_local! {
            static UNZSTD: std::cell::RefCell<Option<zstd::bulk::Decompressor<'static>>> =
                std::cell::RefCell::new(zstd::bulk::Decompressor::new().ok());
        }
        if let Ok(Some(size)) = zstd::zstd_safe::get_frame_content_size(blob)
            && let Ok(size) = usize::try_from(size)
            && size <= ONE_SHOT_MAX
        {
            let once = || -> Option<Vec<u8>> {
                UNZSTD.with(|cell| cell.try_borrow_mut().ok()?.as_mut()?.decompress(blob, size).ok())
            };
            if let Some(out) = once().or_else(|| zstd::bulk::decompress(blob, size).ok())
                && out.len() == size
            {
                return Ok(out);
            }
        }
        return zstd::stream::decode_all(blob);
    }
    let mut out = Vec::with_capacity(blob.len() * 4);
    DeflateDecoder::new(blob).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn noise(seed: &mut u64, len: usize, alphabet: &[u8]) -> Vec<u8> {
        (0..len)
            .map(|_| {
                *seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                alphabet[(*seed >> 40) as usize % alphabet.len()]
            })
            .collect()
    }

    /// The reused compressor must give every record its own complete stream, whatever came
    /// before it on the thread (sizes around the output buffer's growth steps included).
    #[test]
    fn compress_round_trips_records_of_every_size_one_after_another() {
        let mut seed = 7u64;
        for len in [0usize, 1, 10, 100, 1000, 4095, 4096, 70_000, 300_000, 5] {
            let raw = noise(&mut seed, len, b"{}\"abcdefghij0123456789:,");
            assert_eq!(decompress(&compress(&raw)).unwrap(), raw, "length {len}");
        }
    }

    /// Blocks are zstd frames; each record reads back from its place, whatever its bytes: none,
    /// one, binary (every byte value, NULs), a record of several MiB, one after another on the
    /// reused context.
    #[test]
    fn blocks_are_columns_and_every_record_reads_back_from_its_place() {
        let mut seed = 11u64;
        let all_bytes: Vec<u8> = (0..=255u8).collect();
        let records: Vec<Vec<u8>> = vec![
            Vec::new(),
            b"x".to_vec(),
            noise(&mut seed, 1000, &all_bytes),
            br#"{"uuid":"a","published":"2026-11-01T00:00:00Z"}"#.to_vec(),
            Vec::new(),
            noise(&mut seed, 5 << 20, b"{}\"abc:,0123456789 "),
            vec![0u8; 70_000],
        ];
        for round in 0..2 {
            let mut block = Block::default();
            assert!(block.is_empty());
            let places: Vec<(usize, usize)> = records.iter().map(|r| block.push(r)).collect();
            assert_eq!(block.len(), records.iter().map(Vec::len).sum::<usize>());
            let packed = block.finish();
            assert!(packed.starts_with(&COLUMNS_HEADER), "round {round}");
            assert!(packed[COLUMNS_HEADER.len()..].starts_with(&ZSTD_MAGIC), "round {round}");
            let data = decompress(&packed).unwrap();
            for (r, (start, len)) in records.iter().zip(places) {
                assert_eq!(&data[start..start + len], r.as_slice(), "round {round}");
            }
        }
        // An empty block too.
        assert_eq!(decompress(&Block::default().finish()).unwrap(), b"");
    }

    /// A block written before migration 18 (deflate, no header) reads back as it did.
    #[test]
    fn a_deflate_block_of_before_reads_back() {
        let data = br#"{"a":1}{"b":2}"#.repeat(500);
        let mut enc = DeflateEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(&data).unwrap();
        let old = enc.finish().unwrap();
        assert!(!old.starts_with(&ZSTD_MAGIC));
        assert_eq!(decompress(&old).unwrap(), data);
    }

    /// A deflate stream that begins with the zstd magic number is refused by the deflate
    /// decoder (its stored-block lengths disagree), so the first bytes tell the codecs apart.
    #[test]
    fn the_zstd_magic_number_is_no_valid_deflate_start() {
        let mut blob = ZSTD_MAGIC.to_vec();
        blob.extend_from_slice(&[0u8; 64]);
        let mut out = Vec::new();
        assert!(DeflateDecoder::new(blob.as_slice()).read_to_end(&mut out).is_err());
    }

    /// Damaged blobs are errors, not panics or wrong bytes.
    #[test]
    fn a_damaged_block_is_an_error() {
        let mut block = Block::default();
        block.push(&br#"{"k":"v"}"#.repeat(1000));
        let packed = block.finish();
        assert!(decompress(&packed[..packed.len() / 2]).is_err());
        assert!(decompress(&ZSTD_MAGIC).is_err());
        assert!(decompress(&COLUMNS_HEADER).is_err());
        // The header before a frame of plain data: the layout is refused, not read as records.
        let plain = compress_block(&br#"{"k":"v"}"#.repeat(1000));
        assert!(decompress(&[&COLUMNS_HEADER[..], &plain].concat()).is_err());
        // The header before a deflate stream is refused too.
        assert!(decompress(&[&COLUMNS_HEADER[..], &compress(b"{}")].concat()).is_err());
    }

    /// No deflate stream begins with the header of a block of columns (its first byte's BTYPE
    /// is 11, reserved), so the first bytes tell the three codecs apart.
    #[test]
    fn the_columns_header_is_no_valid_deflate_start() {
        assert_eq!((COLUMNS_HEADER[0] >> 1) & 0b11, 0b11);
        let mut out = Vec::new();
        assert!(DeflateDecoder::new(&COLUMNS_HEADER[..]).read_to_end(&mut out).is_err());
        assert!(!COLUMNS_HEADER.starts_with(&ZSTD_MAGIC));
    }

    /// Every file of the repository's fixtures (real vendor records, hostile and broken files),
    /// packed whole and line by line, reads back byte for byte from a block of columns.
    #[test]
    fn every_fixture_reads_back_from_a_block_of_columns() {
        fn files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    files(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut all = Vec::new();
        files(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures"), &mut all);
        assert!(all.len() > 100, "the fixtures were not found: {} files", all.len());
        let (mut block, mut records) = (Block::default(), Vec::new());
        for path in &all {
            let bytes = std::fs::read(path).unwrap();
            for rec in std::iter::once(&bytes[..]).chain(bytes.split_inclusive(|b| *b == b'\n')) {
                records.push((path, block.push(rec), rec.to_vec()));
            }
        }
        let data = decompress(&block.finish()).unwrap();
        for (path, (start, len), rec) in records {
            assert_eq!(&data[start..start + len], rec.as_slice(), "{}", path.display());
        }
    }

    /// A block pushed with its records' ids reads back only with its facts, which name every
    /// record pushed (stored or not, the facts written and read again): byte for byte with
    /// them, an error without them or with another id among them (never other bytes).
    #[test]
    fn a_block_compressed_with_its_ids_reads_back_with_its_facts_only() {
        let mut block = Block::default();
        let mut pushed = Vec::new();
        for i in 0..300 {
            let id = if i % 3 == 0 { format!("{:08x}-0000-4000-8000-{:012x}", i * 7919, i) } else { format!("g/{i}") };
            let rec = format!(r#"{{"id":"{id}","n":{i},"user":"u{}"}}"#, i % 17);
            let (start, len) = block.push_id(rec.as_bytes(), &id);
            pushed.push((id, start, len, rec));
        }
        let packed = block.finish();
        assert!(packed.starts_with(&COLUMNS_IDS_HEADER));
        assert!(decompress(&packed).is_err(), "not without its facts");
        let mut facts = Facts::of_pushed(pushed.iter().map(|(id, s, l, _)| (id.as_str(), *s as u64, *l as u64)));
        // Every other record stored (in another order than pushed), the rest copies not stored.
        for (id, start, len, _) in pushed.iter().rev().step_by(2) {
            let slot = facts
                .place(Fact {
                    source: Some(Source::Google),
                    native_id: NativeId::new(id),
                    span: Some((*start as u64, *len as u64)),
                    loc: Location::At { record: 1, byte: *start as i64 },
                })
                .unwrap();
            assert_eq!(pushed[slot as usize].0, *id, "a record stored takes the slot of its bytes");
        }
        // A record not pushed, or pushed and stored already, has no slot to take.
        let again = Fact {
            source: Some(Source::Google),
            native_id: NativeId::new(&pushed[1].0),
            span: Some((pushed[1].1 as u64, pushed[1].2 as u64)),
            loc: Location::Text(String::new()),
        };
        assert!(facts.place(again.clone()).is_err());
        assert!(facts.place(Fact { native_id: NativeId::new("g/999"), ..again }).is_err());
        let facts = Facts::decode(&facts.encode().unwrap(), 1).unwrap();
        assert_eq!(facts.len(), 150);
        let data = decompress_block(&packed, Some(&facts)).unwrap();
        for (_, start, len, rec) in &pushed {
            assert_eq!(&data[*start..start + len], rec.as_bytes());
        }
        let mut other = Facts::of_pushed(pushed.iter().map(|(id, s, l, _)| (id.as_str(), *s as u64, *l as u64)));
        other.push(Fact {
            source: None,
            native_id: NativeId::new("g/999"),
            span: Some((1 << 40, 1)),
            loc: Location::Text(String::new()),
        });
        assert!(decompress_block(&packed, Some(&other)).is_err(), "another dictionary is an error");
        assert!(decompress_block(&packed, None).is_err());
    }

    /// A facts frame of migration 25 (version 1: a slot for every entry) reads as before.
    #[test]
    fn facts_of_version_1_read_as_before() {
        let mut data = vec![1u8];
        data = postcard::to_extend(&2u64, data).unwrap();
        data = postcard::to_extend(&(1u64, WireId::Text("b"), WireSpan::Part(0, 5), WireLoc::At(1, 0)), data).unwrap();
        data = postcard::to_extend(&(0u64, WireId::Uuid([7; 16]), WireSpan::Part(0, 3), WireLoc::Text("page 2")), data)
            .unwrap();
        let facts = Facts::decode(&compress_block(&data), 3).unwrap();
        assert_eq!(facts.get(1).unwrap().span, Some((0, 5)));
        assert_eq!(facts.get(0).unwrap().span, Some((5, 3)));
        assert_eq!(facts.get(0).unwrap().native_id, NativeId::Uuid([7; 16]));
        assert_eq!(facts.get(1).unwrap().loc, Location::At { record: 1, byte: 0 });
        assert!(facts.unstored().is_empty());
        assert!(facts.get(0).unwrap().source.is_none(), "version 1 names no source");
    }

    /// A facts frame of migration 26 (version 2: slot plus one, 0 for a record not stored)
    /// reads as before, without sources; version 3 gives each stored record's.
    #[test]
    fn facts_of_version_2_read_as_before_and_3_with_sources() {
        let mut data = vec![2u8];
        data = postcard::to_extend(&2u64, data).unwrap();
        data = postcard::to_extend(&(1u64, WireId::Text("b"), WireSpan::Part(0, 5), WireLoc::At(1, 0)), data).unwrap();
        data = postcard::to_extend(&(0u64, WireId::Text("c"), WireSpan::Part(0, 3), WireLoc::Text("")), data).unwrap();
        let facts = Facts::decode(&compress_block(&data), 3).unwrap();
        assert_eq!(facts.len(), 1);
        assert_eq!(facts.get(0).unwrap().span, Some((0, 5)));
        assert!(facts.get(0).unwrap().source.is_none());
        assert_eq!(facts.unstored(), vec![((5, 3), NativeId::new("c"))]);
        let ids = |frame: &[u8]| Facts::native_ids_of(frame, 3).unwrap();
        assert_eq!(ids(&compress_block(&data)), [NativeId::new("b"), NativeId::new("c")]);

        // Version 3: every slot in order, whether stored, its source; a byte offset less the
        // previous located record's length.
        let mut data = vec![3u8];
        data = postcard::to_extend(&3u64, data).unwrap();
        data = postcard::to_extend(&(true, 2u8, WireId::Text("b"), WireSpan::Part(0, 5), WireLoc::At(1, 10)), data)
            .unwrap();
        data = postcard::to_extend(&(false, 2u8, WireId::Text("x"), WireSpan::Part(0, 4), WireLoc::Text("")), data)
            .unwrap();
        data = postcard::to_extend(&(true, 1u8, WireId::Text("c"), WireSpan::Part(0, 3), WireLoc::At(1, 2)), data)
            .unwrap();
        let facts = Facts::decode(&compress_block(&data), 3).unwrap();
        assert_eq!(facts.get(0).unwrap().source, Some(Source::Google));
        assert_eq!(facts.get(0).unwrap().loc, Location::At { record: 1, byte: 10 });
        assert!(facts.get(1).is_none(), "slot 1 holds a record not stored");
        assert_eq!(facts.unstored(), vec![((5, 4), NativeId::new("x"))]);
        assert_eq!(facts.get(2).unwrap().source, Some(Source::Entra));
        assert_eq!(facts.get(2).unwrap().span, Some((9, 3)));
        assert_eq!(facts.get(2).unwrap().loc, Location::At { record: 2, byte: 10 + 5 + 2 });
        assert_eq!(Facts::decode(&facts.encode().unwrap(), 3).unwrap(), facts);
        // Version, count, the first slot's stored flag, its source.
        let mut unknown = data.clone();
        assert_eq!(unknown[..4], [3, 3, 1, 2]);
        unknown[3] = 77;
        assert!(Facts::decode(&compress_block(&unknown), 3).unwrap_err().contains("source code 77"));
        // The ids alone: every slot's, stored or not; the same checks.
        assert_eq!(ids(&compress_block(&data)), [NativeId::new("b"), NativeId::new("x"), NativeId::new("c")]);
        assert!(Facts::native_ids_of(&compress_block(&unknown), 3).unwrap_err().contains("source code 77"));
    }

    /// Records of one shape come out smaller as columns than compressed one after another.
    #[test]
    fn columns_are_smaller_than_the_records_compressed_as_they_are() {
        let mut seed = 5u64;
        let mut block = Block::default();
        for i in 0..1000 {
            let user = noise(&mut seed, 8, b"abcdefghijklmnop");
            let id = noise(&mut seed, 32, b"0123456789abcdef");
            block.push(
                format!(
                    r#"{{"uuid":"{}","published":"2026-11-01T00:{:02}:{:02}.000Z","actor":{{"alternateId":"{}@example.com"}},"outcome":{{"result":"{}"}}}}"#,
                    String::from_utf8_lossy(&id),
                    i / 60 % 60,
                    i % 60,
                    String::from_utf8_lossy(&user),
                    if i % 7 == 0 { "FAILURE" } else { "SUCCESS" }
                )
                .as_bytes(),
            );
        }
        let plain = compress_block(&block.data).len();
        let columns = block.finish().len();
        assert!(columns < plain * 95 / 100, "columns {columns} bytes, as they are {plain}");
    }

    /// What the one-shot path does not take is streamed as before: a frame that does not state
    /// its size, two frames one after the other, a frame whose stated size is a lie.
    #[test]
    fn frames_the_one_shot_path_does_not_take_read_as_before() {
        let data = br#"{"eventTime":"2026-12-06T10:00:00Z"}"#.repeat(500);
        let sized = compress_block(&data);
        assert_eq!(zstd::zstd_safe::get_frame_content_size(&sized).ok().flatten(), Some(data.len() as u64));
        assert_eq!(decompress(&sized).unwrap(), data);

        let mut enc = zstd::stream::Encoder::new(Vec::new(), BLOCK_LEVEL).unwrap();
        enc.write_all(&data).unwrap();
        let no_size = enc.finish().unwrap();
        assert_eq!(zstd::zstd_safe::get_frame_content_size(&no_size).ok().flatten(), None);
        assert_eq!(decompress(&no_size).unwrap(), data);

        let two = [sized.clone(), sized.clone()].concat();
        assert_eq!(decompress(&two).unwrap(), data.repeat(2));

        // The frame header's content size raised by one (RFC 8878 §3.1.1.1: after the magic
        // number, the descriptor; a window byte unless single-segment; the dictionary id; then
        // the size, stored less 256 in a 2-byte field): the one-shot inflate finds fewer bytes
        // than stated, and the stream reader refuses the frame too.
        let mut lying = compress_block(&[b'x'; 300]);
        let descriptor = lying[4];
        assert_eq!(descriptor >> 6, 1, "a 2-byte size field for 300 bytes");
        let window = usize::from(descriptor & 0x20 == 0);
        let dict = [0, 1, 2, 4][usize::from(descriptor & 3)];
        let at = 5 + window + dict;
        assert_eq!(u16::from_le_bytes([lying[at], lying[at + 1]]), 300 - 256);
        lying[at] += 1;
        assert_eq!(zstd::zstd_safe::get_frame_content_size(&lying).ok().flatten(), Some(301));
        assert!(decompress(&lying).is_err(), "a frame shorter than it says is an error");
    }

    fn location() -> impl Strategy<Value = Location> {
        prop_oneof![
            (any::<i64>(), any::<i64>()).prop_map(|(record, byte)| Location::At { record, byte }),
            ".{0,40}".prop_map(Location::Text),
        ]
    }

    fn native_id() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<[u8; 16]>().prop_map(|b| {
                let h = hex::encode(b);
                format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
            }),
            "[0-9a-fA-F-]{30,40}",
            ".{0,50}",
        ]
    }

    fn fact() -> impl Strategy<Value = Fact> {
        (
            prop::option::of(prop::sample::select(Source::ALL.to_vec())),
            native_id(),
            prop::option::of((any::<u64>(), any::<u64>())),
            location(),
        )
            .prop_map(|(source, native_id, span, loc)| Fact {
                source,
                native_id: NativeId::new(&native_id),
                span,
                loc,
            })
    }

    #[test]
    fn a_native_id_is_bytes_only_when_they_give_the_text_back() {
        let id = "7c226b41-9fbd-4cdb-8357-3f936f6347f5";
        assert!(matches!(NativeId::new(id), NativeId::Uuid(_)));
        assert_eq!(NativeId::new(id).text(), id);
        assert!(NativeId::new(id).is(id) && !NativeId::new(id).is(&id.to_uppercase()));
        for other in [
            "7C226B41-9FBD-4CDB-8357-3F936F6347F5",
            "7c226b41-9fbd-4cdb-8357-3f936f6347f",
            "7c226b41-9fbd-4cdb-8357-3f936f6347f5 ",
            "7c226b419fbd-4cdb-8357-3f936f6347f5-",
            "saml/2026-11-01T13:55:44.738Z/1531594925879249536",
            "",
        ] {
            assert!(matches!(NativeId::new(other), NativeId::Text(_)), "{other:?}");
            assert_eq!(NativeId::new(other).text(), other);
            assert!(NativeId::new(other).is(other) && !NativeId::new(other).is(id));
        }
    }

    #[test]
    fn a_location_is_numbers_only_when_they_give_the_text_back() {
        assert_eq!(Location::parse("record 3 at byte 120"), Location::At { record: 3, byte: 120 });
        for text in ["record 03 at byte 120", "record 3 at byte 120 ", "page 2, record 1", "", "record -0 at byte 1"] {
            assert_eq!(Location::parse(text), Location::Text(text.to_string()), "{text:?}");
            assert_eq!(Location::parse(text).text(), text);
        }
    }

    #[test]
    fn damaged_facts_are_an_error() {
        let mut facts = Facts::default();
        for i in 0..50u64 {
            facts.push(Fact {
                source: Some(Source::Google),
                native_id: NativeId::new(&format!("id-{i}")),
                span: Some((i * 900, 900)),
                loc: Location::At { record: i as i64, byte: (i * 901) as i64 },
            });
        }
        let frame = facts.encode().unwrap();
        let data = decompress(&frame).unwrap();
        for cut in 0..data.len() {
            assert!(Facts::decode(&compress_block(&data[..cut]), 7).is_err(), "cut at {cut}");
            assert!(Facts::native_ids_of(&compress_block(&data[..cut]), 7).is_err(), "cut at {cut}");
        }
        let mut longer = data.clone();
        longer.push(0);
        assert!(Facts::decode(&compress_block(&longer), 7).unwrap_err().contains("follow the last slot"));
        assert!(Facts::native_ids_of(&compress_block(&longer), 7).unwrap_err().contains("follow the last slot"));
        let mut version = data.clone();
        version[0] = 9;
        assert!(Facts::decode(&compress_block(&version), 7).unwrap_err().contains("version 9"));
        assert!(Facts::decode(b"not a frame", 7).is_err());
        assert_eq!(Facts::decode(&frame, 7).unwrap(), facts);
        // A slot given twice (and so another missing) is refused.
        // (version 2, where each entry gives its slot).
        let mut twice = vec![2u8];
        twice = postcard::to_extend(&2u64, twice).unwrap();
        for _ in 0..2 {
            let entry = (1u64, WireId::Text("x"), WireSpan::Whole, WireLoc::Text(""));
            twice = postcard::to_extend(&entry, twice).unwrap();
        }
        assert!(Facts::decode(&compress_block(&twice), 7).unwrap_err().contains("given twice"));
    }

    #[test]
    fn a_fact_names_its_bytes_or_the_whole_block() {
        let data = b"0123456789";
        assert_eq!(
            Fact { source: None, native_id: NativeId::new(""), span: Some((2, 3)), loc: Location::Text(String::new()) }
                .bytes(data)
                .unwrap(),
            b"234"
        );
        assert_eq!(
            Fact { source: None, native_id: NativeId::new(""), span: None, loc: Location::Text(String::new()) }
                .bytes(data)
                .unwrap(),
            data
        );
        for span in [(8, 3), (11, 0), (u64::MAX, 2), (2, u64::MAX)] {
            assert!(
                Fact {
                    source: None,
                    native_id: NativeId::new(""),
                    span: Some(span),
                    loc: Location::Text(String::new())
                }
                .bytes(data)
                .is_err(),
                "{span:?}"
            );
        }
    }

    /// A slot as written, with a few bytes after it.
    fn wire_slot() -> impl Strategy<Value = Vec<u8>> {
        (
            any::<bool>(),
            any::<u8>(),
            prop_oneof![any::<[u8; 16]>().prop_map(Ok), ".{0,40}".prop_map(Err)],
            prop::option::of((any::<i64>(), any::<u64>())),
            prop_oneof![(any::<i64>(), any::<i64>()).prop_map(Ok), ".{0,40}".prop_map(Err)],
            prop::collection::vec(any::<u8>(), 0..4),
        )
            .prop_map(|(stored, source, id, span, loc, after)| {
                let id = match &id {
                    Ok(b) => WireId::Uuid(*b),
                    Err(t) => WireId::Text(t),
                };
                let span = span.map_or(WireSpan::Whole, |(a, b)| WireSpan::Part(a, b));
                let loc = match &loc {
                    Ok((r, b)) => WireLoc::At(*r, *b),
                    Err(t) => WireLoc::Text(t),
                };
                let mut out = postcard::to_allocvec(&(stored, source, id, span, loc)).unwrap();
                out.extend(after);
                out
            })
    }

    /// What postcard reads of `b` and what [`take_slot`] reads, each as the slot written again
    /// and the bytes left.
    fn both_reads(b: &[u8]) -> [Option<(Vec<u8>, usize)>; 2] {
        let by_postcard = postcard::take_from_bytes::<WireSlot<'_>>(b)
            .ok()
            .map(|(slot, rest)| (postcard::to_allocvec(&slot).unwrap(), rest.len()));
        let by_hand = take_slot(b).ok().map(|(slot, rest)| (postcard::to_allocvec(&slot).unwrap(), rest.len()));
        [by_postcard, by_hand]
    }

    proptest! {
        /// `take_slot` reads every slot as postcard does.
        #[test]
        fn a_slot_reads_as_postcard_reads_it(b in wire_slot()) {
            let [by_postcard, by_hand] = both_reads(&b);
            prop_assert!(by_postcard.is_some());
            prop_assert_eq!(by_hand, by_postcard);
        }

        /// Damaged (a byte changed, the end cut), a slot `take_slot` reads is read the same by
        /// postcard: it never reads one otherwise.
        #[test]
        fn a_damaged_slot_is_never_read_otherwise(b in wire_slot(), at in any::<prop::sample::Index>(), to in any::<u8>(), cut in any::<prop::sample::Index>()) {
            let mut b = b;
            let i = at.index(b.len());
            b[i] = to;
            let b = &b[..cut.index(b.len() + 1)];
            let [by_postcard, by_hand] = both_reads(b);
            if by_hand.is_some() {
                prop_assert_eq!(by_hand, by_postcard);
            }
        }

        #[test]
        fn facts_round_trip(slots in prop::collection::vec(fact(), 0..60)) {
            let mut facts = Facts::default();
            for f in slots.iter().cloned() {
                facts.push(f);
            }
            let back = Facts::decode(&facts.encode().unwrap(), 1).unwrap();
            prop_assert_eq!(back.len(), slots.len());
            for (i, f) in slots.iter().enumerate() {
                prop_assert_eq!(back.get(i as i64), Some(f));
            }
            prop_assert_eq!(back.get(slots.len() as i64), None);
            prop_assert_eq!(back.get(-1), None);
        }

        /// A block of pushed records, some stored (in any order) and some not: each stored record
        /// keeps the slot of its bytes, the others their span and id, and the dictionary stays
        /// the one the block was compressed with.
        #[test]
        fn pushed_facts_round_trip(
            records in prop::collection::vec((native_id(), 1u64..5000, location(), any::<bool>(), any::<u32>()), 0..60)
        ) {
            let mut start = 0;
            let pushed: Vec<(String, u64, u64)> = records
                .iter()
                .map(|(id, len, ..)| {
                    let at = (id.clone(), start, *len);
                    start += len + 1;
                    at
                })
                .collect();
            let mut facts = Facts::of_pushed(pushed.iter().map(|(id, s, l)| (id.as_str(), *s, *l)));
            let dictionary = facts.dictionary();
            let mut order: Vec<usize> = (0..records.len()).collect();
            order.sort_by_key(|i| records[*i].4);
            let mut stored = Vec::new();
            for i in order.into_iter().filter(|i| records[*i].3) {
                let fact = Fact {
                    source: Some(Source::ALL[i % Source::ALL.len()]),
                    native_id: NativeId::new(&pushed[i].0),
                    span: Some((pushed[i].1, pushed[i].2)),
                    loc: records[i].2.clone(),
                };
                prop_assert_eq!(facts.place(fact.clone()).unwrap(), i as i64);
                stored.push((i, fact));
            }
            prop_assert_eq!(facts.dictionary(), dictionary.clone());
            let frame = facts.encode().unwrap();
            let back = Facts::decode(&frame, 1).unwrap();
            prop_assert_eq!(&back, &Facts { pushed: false, ..facts });
            // The ids alone, as correlation reads them: every slot's, in the order of the bytes.
            let ids: Vec<NativeId> = pushed.iter().map(|(id, ..)| NativeId::new(id)).collect();
            prop_assert_eq!(Facts::native_ids_of(&frame, 1).unwrap(), ids);
            prop_assert_eq!(back.dictionary(), dictionary);
            prop_assert_eq!(back.len(), stored.len());
            for (i, fact) in &stored {
                prop_assert_eq!(back.get(*i as i64), Some(fact));
            }
        }

        #[test]
        fn any_records_round_trip_through_a_block(records in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..3000), 0..40)) {
            let mut block = Block::default();
            let places: Vec<(usize, usize)> = records.iter().map(|r| block.push(r)).collect();
            let data = decompress(&block.finish()).unwrap();
            for (r, (start, len)) in records.iter().zip(places) {
                prop_assert_eq!(&data[start..start + len], r.as_slice());
            }
        }

        #[test]
        fn a_record_compressed_alone_is_deflate_and_round_trips(raw in prop::collection::vec(any::<u8>(), 0..5000)) {
            let blob = compress(&raw);
            prop_assert!(!blob.starts_with(&ZSTD_MAGIC));
            prop_assert_eq!(decompress(&blob).unwrap(), raw);
        }
    }
}
