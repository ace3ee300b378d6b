//! Raw records are kept deflate-compressed: raw JSON in SQLite costs an order of magnitude in
//! insert rate and size (design.md, measured facts), and the compression runs on the parse
//! workers, not on the single writer.

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use std::io::{Read, Write};

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
}

impl Block {
    /// Appends a record; returns its `(start, len)` in the block.
    pub fn push(&mut self, raw: &[u8]) -> (usize, usize) {
        let start = self.data.len();
        self.data.extend_from_slice(raw);
        (start, raw.len())
    }

    /// The compressed block, for [`crate::Batch::insert_block`].
    pub fn finish(self) -> Vec<u8> {
        compress(&self.data)
    }
}

pub fn decompress(blob: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(blob.len() * 4);
    DeflateDecoder::new(blob).read_to_end(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reused compressor must give every record its own complete stream, whatever came
    /// before it on the thread (sizes around the output buffer's growth steps included).
    #[test]
    fn compress_round_trips_records_of_every_size_one_after_another() {
        let mut seed = 7u64;
        for len in [0usize, 1, 10, 100, 1000, 4095, 4096, 70_000, 300_000, 5] {
            let raw: Vec<u8> = (0..len)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    b"{}\"abcdefghij0123456789:,"[(seed >> 59) as usize % 25]
                })
                .collect();
            assert_eq!(decompress(&compress(&raw)).unwrap(), raw, "length {len}");
        }
    }
}
