//! A block of raw records (`trailproof_store::raw`) on any bytes: records packed into a block of
//! columns read back byte for byte, wherever they end; and any blob, as a damaged or hostile
//! store would hold it, decompresses or fails without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailproof_store::raw::{Block, COLUMNS_HEADER, decompress};

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else { return };
    // The first byte picks where records end: every `first % 16 + 1`-th newline or brace.
    let every = usize::from(first % 16) + 1;
    let mut block = Block::default();
    let mut records = Vec::new();
    let mut start = 0;
    let mut seen = 0;
    for (i, b) in input.iter().enumerate() {
        if matches!(b, b'\n' | b'}') {
            seen += 1;
            if seen % every == 0 {
                records.push((block.push(&input[start..=i]), start..=i));
                start = i + 1;
            }
        }
    }
    records.push((block.push(&input[start..]), start..=input.len().saturating_sub(1)));
    let packed = block.finish();
    let back = decompress(&packed).expect("a block just packed reads back");
    assert_eq!(back.len(), input.len(), "the block holds every byte pushed");
    for ((at, len), range) in records {
        if len > 0 {
            assert_eq!(&back[at..at + len], &input[range], "a record reads back from its place");
        }
    }
    // The input itself as a stored blob: as it is, and behind the header of a block of columns.
    let _ = decompress(input);
    let mut framed = COLUMNS_HEADER.to_vec();
    framed.extend_from_slice(input);
    let _ = decompress(&framed);
});
