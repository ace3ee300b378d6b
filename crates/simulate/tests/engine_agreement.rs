//! End to end: simulate, import, judge with the engine, compare with the labels
//! (`trailproof_correlate::agreement`). Ignored by default: it checks the engine as much as the
//! simulator. Run with `cargo test -p trailproof-simulate --test engine_agreement -- --ignored`.

mod common;

use std::path::Path;

use common::*;
use trailproof_correlate::{Compiled, agreement};
use trailproof_ingest::{ImportOptions, collect_inputs, import};
use trailproof_model::Source;
use trailproof_simulate::SimOptions;
use trailproof_store::Store;

#[test]
#[ignore]
fn engine_verdicts_agree_with_labels() {
    let users: u32 = std::env::var("SIM_USERS").ok().and_then(|s| s.parse().ok()).unwrap_or(80);
    let days: u32 = std::env::var("SIM_DAYS").ok().and_then(|s| s.parse().ok()).unwrap_or(2);
    let seed: u64 = std::env::var("SIM_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(7);
    let (dir, _) = run(&SimOptions { seed, users, days, noise_ratio: 0.9, ..SimOptions::default() });
    let dir = dir.path();
    let mut store = Store::open_in_memory().unwrap();
    for (sub, source) in [
        ("AWSLogs", Source::Cloudtrail),
        ("okta", Source::Okta),
        ("entra", Source::Entra),
        ("google", Source::Google),
        ("adfs", Source::Adfs),
    ] {
        let (inputs, manifests) = collect_inputs(&[dir.join(sub)]).unwrap();
        import(&mut store, &inputs, &manifests, &ImportOptions::new(source), &mut |_| {}).unwrap();
    }
    let cfg: trailproof_model::config::Config =
        toml::from_str(&std::fs::read_to_string(dir.join("org.toml")).unwrap()).unwrap();
    let compiled = Compiled::new(&cfg).unwrap();
    let now = trailproof_model::parse_time(&truth(dir).end).unwrap() + 86_400_000;
    trailproof_pipeline::judge(&mut store, &compiled, None, now, &mut |_, _| {}).unwrap();
    let verdicts = store.verdicts(0, now).unwrap();
    let labels = labels(Path::new(dir));
    let a = agreement(&labels, &verdicts);
    for m in &a.mismatches {
        eprintln!("{} [{}]: {}", m.console_login_event_id, m.scenario, m.what);
    }
    assert!(a.all_match(), "{} of {} labels match; unlabelled {:?}", a.matched, a.labels, a.unlabelled);
}
