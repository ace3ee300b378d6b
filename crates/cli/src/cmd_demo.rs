//! `trailproof demo`: simulate → import → correlate → report → check against the ground truth.
//!
//! Today the demo reads the simulated logs as exported files (the `import` path). Collecting them
//! through the real collectors from the in-process emulators, the HTML report and the ticket
//! feed join it with the batch-run issue.

use anyhow::Context;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;
use trailproof_correlate::{Compiled, agreement};
use trailproof_ingest::{ImportOptions, collect_inputs, import};
use trailproof_model::Source;
use trailproof_model::verdict::{Label, Verdict};
use trailproof_simulate::{SimOptions, simulate};
use trailproof_store::Store;

use crate::args::{DemoArgs, Global};
use crate::util;

pub fn run(g: &Global, a: &DemoArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let step = |what: &str| {
        if !g.quiet {
            eprintln!("[{:>5.1}s] {what}", started.elapsed().as_secs_f64());
        }
    };
    let sim_dir = a.out.join("sim");
    let db_path = a.out.join("trailproof.db");
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    for f in ["trailproof.db", "trailproof.db-wal", "trailproof.db-shm"] {
        let _ = std::fs::remove_file(a.out.join(f));
    }

    step(&format!("simulating an organisation of {} users over {} days (seed {})", a.users, a.days, a.seed));
    let opts = SimOptions { seed: a.seed, users: a.users, days: a.days, ..Default::default() };
    let sim = simulate(&opts, &sim_dir, &mut |_| {})?;
    step(&format!(
        "wrote {} files ({}): CloudTrail S3 tree, Okta, Entra ID and Google pages, labels",
        sim.files,
        util::human_bytes(sim.bytes)
    ));

    let mut store = Store::open(&db_path)?;
    for (source, dir) in
        [(Source::Cloudtrail, "AWSLogs"), (Source::Okta, "okta"), (Source::Entra, "entra"), (Source::Google, "google")]
    {
        let (inputs, manifests) = collect_inputs(&[sim_dir.join(dir)])?;
        let r = import(&mut store, &inputs, &manifests, &ImportOptions::new(source), &mut |_| {})?;
        anyhow::ensure!(
            r.failed_inputs.is_empty() && r.counts.quarantined == 0,
            "demo import of {source} was not clean: {r:?}"
        );
        step(&format!(
            "imported {source}: {} records read, {} stored, {} skipped as irrelevant",
            r.counts.read, r.counts.stored, r.counts.skipped
        ));
    }

    let config = util::load_config(Some(&sim_dir.join("org.toml")))?;
    let cfg = Compiled::new(&config)?;
    let summary = trailproof_pipeline::judge(&mut store, &cfg, None, i64::MAX - 1, &mut |_, _| {})?;
    step(&format!("judged {} console sessions", summary.sessions));

    let verdicts = store.verdicts(i64::MIN, i64::MAX)?;
    let json = serde_json::to_string_pretty(&verdicts)?;
    std::fs::write(a.out.join("verdicts.json"), json).context("writing verdicts.json")?;

    // Summary table: verdicts by path.
    let mut table: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    for v in &verdicts {
        *table.entry((v.path.as_str(), v.verdict.as_str())).or_default() += 1;
    }
    println!();
    println!("{:<18} {:>9} {:>13} {:>13} {:>8}", "path", "enforced", "not_enforced", "no_idp_login", "unknown");
    for path in ["saml", "identity_center", "federation_broker", "role_broker", "aws_native"] {
        let n = |v: Verdict| table.get(&(path, v.as_str())).copied().unwrap_or(0);
        println!(
            "{:<18} {:>9} {:>13} {:>13} {:>8}",
            path,
            n(Verdict::Enforced),
            n(Verdict::NotEnforced),
            n(Verdict::NoIdpLogin),
            n(Verdict::Unknown)
        );
    }
    println!();
    for want in [Verdict::NoIdpLogin, Verdict::NotEnforced, Verdict::Unknown] {
        if let Some(v) = verdicts.iter().find(|v| v.verdict == want) {
            println!("e.g. {:<13} {}", want.as_str(), util::inert(v.arn.as_deref().unwrap_or("-")));
            println!("     trailproof --db {} lookup {}", db_path.display(), v.console_login_event_id);
        }
    }

    let labels: Vec<Label> = std::fs::read_to_string(sim_dir.join("labels.ndjson"))?
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(serde_json::from_str)
        .collect::<Result<_, _>>()
        .context("reading labels.ndjson")?;
    let agree = agreement(&labels, &verdicts);
    println!();
    println!(
        "{}/{} verdicts match the simulator's ground truth ({} written to {})",
        agree.matched,
        agree.labels,
        verdicts.len(),
        a.out.join("verdicts.json").display()
    );
    println!(
        "(collection through the live collectors and emulators, the HTML report and tickets join the demo with the batch-run issue)"
    );
    step("done");
    if !agree.all_match() {
        for m in agree.mismatches.iter().take(10) {
            eprintln!("mismatch {} ({}): {}", m.console_login_event_id, m.scenario, m.what);
        }
        return Ok(ExitCode::from(util::EXIT_FAILURE));
    }
    Ok(ExitCode::SUCCESS)
}
