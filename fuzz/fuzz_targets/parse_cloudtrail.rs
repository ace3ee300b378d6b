//! CloudTrail's parser on any bytes, in every format: no panic, and the prefilter's promise
//! (`prefilter(r) == false` ⇒ `parse_record(r)` is not `Relevant`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailproof_model::Parsed;
use trailproof_source_cloudtrail::{Format, parse_record, peek_time_scope, prefilter};

fuzz_target!(|data: &[u8]| {
    let kept = prefilter(data);
    let _ = peek_time_scope(data);
    for format in Format::ALL {
        let parsed = parse_record(data, format);
        if !kept {
            assert!(!matches!(parsed, Ok(Parsed::Relevant { .. })), "the prefilter dropped a kept event ({format})");
        }
    }
});
