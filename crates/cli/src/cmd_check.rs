//! `trailproof check`: credentials, reachability and permission of each configured source.

use anyhow::Context;
use std::process::ExitCode;
use trailproof_collect::check;
use trailproof_collect_cloudtrail::check_cloudtrail;

use crate::args::Global;
use crate::util;

pub fn run(g: &Global) -> anyhow::Result<ExitCode> {
    let Some(cfg_path) = g.config.as_deref() else {
        anyhow::bail!("check needs --config FILE naming the sources (see config/trailproof.example.toml)");
    };
    let cfg = util::load_config(Some(cfg_path))?;
    let rep = crate::cmd_collect::reporter(g);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let mut failed = false;
    let mut any = false;
    rt.block_on(async {
        for r in check(&cfg, rep.as_ref()).await {
            any = true;
            failed |= !r.ok;
            println!("{}", util::inert_lines(&r.to_string()));
        }
        for src in &cfg.collect.cloudtrail {
            for r in check_cloudtrail(src).await {
                any = true;
                failed |= !r.ok;
                println!(
                    "{} {} {} {}",
                    r.source,
                    r.what,
                    if r.ok { "ok" } else { "FAIL" },
                    util::inert_lines(&r.detail)
                );
                if let Some(fix) = &r.fix {
                    println!("  fix: {}", util::inert_lines(fix));
                }
            }
        }
    });
    if !any {
        anyhow::bail!("no source is configured in {}: nothing to check", cfg_path.display());
    }
    Ok(if failed { ExitCode::from(util::EXIT_FAILURE) } else { ExitCode::SUCCESS })
}
