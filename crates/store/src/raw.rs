//! Raw records are kept deflate-compressed: raw JSON in SQLite costs an order of magnitude in
//! insert rate and size (design.md, measured facts), and the compression runs on the parse
//! workers, not on the single writer.

use flate2::Compression;
use flate2::read::DeflateDecoder;
use flate2::write::DeflateEncoder;
use std::io::{Read, Write};

/// Compresses a raw record for [`crate::Batch::insert_aws`] / [`crate::Batch::insert_idp`].
pub fn compress(raw: &[u8]) -> Vec<u8> {
    let mut enc = DeflateEncoder::new(Vec::with_capacity(raw.len() / 3 + 16), Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(raw);
    enc.finish().unwrap_or_default()
}

pub fn decompress(blob: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(blob.len() * 4);
    DeflateDecoder::new(blob).read_to_end(&mut out)?;
    Ok(out)
}
