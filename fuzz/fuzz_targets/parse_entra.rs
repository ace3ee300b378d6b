//! Entra's (and AD FS's) parser on any bytes, in every format: no panic; a kept record names its
//! id and holds events.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailproof_model::Parsed;
use trailproof_source_entra::{Format, parse_record};

fuzz_target!(|data: &[u8]| {
    for format in [Format::Auto, Format::Graph, Format::AzureMonitor, Format::LogAnalytics] {
        if let Ok(Parsed::Relevant { native_id, events }) = parse_record(data, format) {
            assert!(!native_id.is_empty() && !events.is_empty());
        }
    }
});
