//! The CloudTrail prefilter and peek on any bytes (no panic, no JSON parse needed), and the
//! prefilter's promise on the native-format parse.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailproof_model::Parsed;
use trailproof_source_cloudtrail::{Format, parse_record, peek_time_scope, prefilter};

fuzz_target!(|data: &[u8]| {
    let (time, scope) = peek_time_scope(data);
    if let Some(s) = scope {
        assert!(s.contains('/'), "a scope is ACCOUNT/REGION");
    }
    let _ = time;
    if !prefilter(data) {
        assert!(!matches!(parse_record(data, Format::Auto), Ok(Parsed::Relevant { .. })));
    }
});
