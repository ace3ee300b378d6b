//! The record splitter on any bytes, in any read size: it never panics, hands out records in
//! order, inside the input, and never loses bytes silently (a record that does not end is
//! flagged).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailproof_jsonrec::{Incomplete, Splitter};

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else { return };
    // The first byte picks the read size (tiny reads exercise every refill path).
    let chunk = usize::from(first % 64) + 1;
    let mut s = Splitter::new(input, trailproof_envelope::PAGE_WRAPPERS).chunk_size(chunk).max_record(1 << 20);
    let mut last_end = 0u64;
    let mut index = 0u64;
    loop {
        match s.next_record() {
            Ok(Some(r)) => {
                assert_eq!(r.index, index, "indexes count up");
                index += 1;
                assert!(r.offset >= last_end, "records do not overlap");
                let end = r.offset + r.bytes.len() as u64;
                assert!(end <= input.len() as u64, "a record lies inside the input");
                assert_eq!(&input[r.offset as usize..end as usize], r.bytes, "bytes as found");
                assert_eq!(r.truncated, r.incomplete.is_some());
                if let Some(Incomplete::Container { opened_at, .. }) = r.incomplete {
                    assert!(r.bytes.is_empty() && opened_at < input.len() as u64);
                }
                if !r.truncated && r.bytes.first() == Some(&b'{') {
                    // It finds where values end by nesting, without matching bracket kinds (the
                    // parser rejects `{…]`): a complete object ends with a closing bracket.
                    assert!(matches!(r.bytes.last(), Some(b'}' | b']')), "a complete object ends with a closing bracket");
                }
                last_end = end;
            }
            Ok(None) => break,
            Err(_) => break,
        }
    }
});
