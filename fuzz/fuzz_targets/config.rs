//! The configuration loader on any text: TOML into the configuration, then compiled as the
//! correlator does (regexes, CIDRs, names): an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(cfg) = toml::from_str::<trailproof_model::config::Config>(text) {
        let _ = trailproof_correlate::Compiled::new(&cfg);
    }
});
