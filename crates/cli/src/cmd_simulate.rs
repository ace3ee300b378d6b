//! `trailproof simulate`.

use std::process::ExitCode;
use trailproof_simulate::{SimOptions, simulate};

use crate::args::{Global, SimulateArgs};
use crate::util;

pub fn run(g: &Global, a: &SimulateArgs) -> anyhow::Result<ExitCode> {
    let mut opts = SimOptions {
        seed: a.seed,
        users: a.users,
        days: a.days,
        noise_ratio: a.noise_ratio,
        idp_noise_per_user_day: a.idp_noise,
        accounts: a.accounts,
        ..Default::default()
    };
    if let Some(s) = &a.start {
        opts.start_ms = trailproof_model::parse_time(s).map_err(|e| anyhow::anyhow!("--start: {e}"))?;
    }
    let quiet = g.quiet;
    let s = simulate(&opts, &a.out, &mut |line| {
        if !quiet {
            eprintln!("{line}");
        }
    })?;
    let records: Vec<String> = s.records.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!(
        "simulated {} users over {} days into {}: {} console logins ({} labelled sessions), records: {}; {} files, {}",
        a.users,
        a.days,
        a.out.display(),
        s.console_logins,
        s.labels,
        records.join(", "),
        s.files,
        util::human_bytes(s.bytes)
    );
    let scen: Vec<String> = s.scenarios.iter().map(|(k, v)| format!("{k} {v}")).collect();
    println!("scenarios: {}", scen.join(", "));
    if !s.mismatches.is_empty() {
        anyhow::bail!(
            "the generator's own labels disagree with its scenarios (a simulator bug): {}",
            s.mismatches.join("; ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
