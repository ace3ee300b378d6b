//! Okta's parser on any bytes: no panic; a kept record names its id and holds events.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailproof_model::Parsed;

fuzz_target!(|data: &[u8]| {
    if let Ok(Parsed::Relevant { native_id, events }) = trailproof_source_okta::parse_record(data) {
        assert!(!native_id.is_empty() && !events.is_empty());
    }
});
