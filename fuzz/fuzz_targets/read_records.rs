//! The import's read path (split, unwrap, detect the source, prefilter, parse, plausible times)
//! on any input, named and auto: no panic, and every record found has one outcome.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trailproof_ingest::{ImportOptions, RecordOutcome, read_records};
use trailproof_model::Source;

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else { return };
    let opts = match first % 6 {
        0 => ImportOptions::auto(),
        1 => ImportOptions::new(Source::Cloudtrail),
        2 => ImportOptions::new(Source::Okta),
        3 => ImportOptions::new(Source::Entra),
        4 => ImportOptions::new(Source::Adfs),
        _ => ImportOptions::new(Source::Google),
    };
    let out = read_records(&opts, input);
    for r in &out.records {
        assert!(!r.location.is_empty());
        if let RecordOutcome::Quarantined { reason, .. } = &r.outcome {
            assert!(!reason.is_empty(), "a quarantine says why");
        }
    }
});
