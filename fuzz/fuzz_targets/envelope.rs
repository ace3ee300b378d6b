//! Envelope unwrapping and source detection on any bytes: no panic, bounded output.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailproof_envelope::{Item, MAX_TOTAL_DECODED, sniff, unwrap};

fuzz_target!(|data: &[u8]| {
    let _ = sniff(data);
    let u = unwrap(data);
    let mut total = 0usize;
    for item in &u.items {
        match item {
            Item::Record(r) => {
                total += r.bytes.len();
                assert!(r.via.len() <= trailproof_envelope::MAX_DEPTH + 1);
            }
            Item::Broken(b) => total += b.bytes.len(),
        }
    }
    // Records inside are the input's own bytes or decoded data within the budget.
    assert!(total <= data.len().saturating_mul(u.items.len().max(1)) + MAX_TOTAL_DECODED);
});
