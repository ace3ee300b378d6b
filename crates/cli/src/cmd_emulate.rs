//! `trailproof emulate`.

use anyhow::Context;
use std::process::ExitCode;
use trailproof_emulate::{ClockMode, EmulatorConfig, Faults, serve};

use crate::args::{EmulateArgs, Global};

pub fn run(_g: &Global, a: &EmulateArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        a.data.is_dir(),
        "--data {}: not a directory (write one with `trailproof simulate --out DIR`)",
        a.data.display()
    );
    let faults = Faults::parse(&a.faults).map_err(|e| anyhow::anyhow!("--fault: {e}"))?;
    let clock = ClockMode::parse(&a.clock).map_err(|e| anyhow::anyhow!("--clock: {e}"))?;
    let cfg = EmulatorConfig {
        data: a.data.clone(),
        listen: a.listen,
        faults,
        seed: a.seed,
        rate_limits: a.rate_limits,
        clock,
        ..Default::default()
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    rt.block_on(async {
        let mut em = serve(cfg.clone()).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let url = em.url();
        println!("emulating on {url} (data {})", a.data.display());
        println!("  okta      {url}/api/v1/logs            token (SSWS): {}", cfg.okta_token);
        println!(
            "  entra     {url}/{}/oauth2/v2.0/token   client id {} / secret {} ; graph {url}/beta/auditLogs/signIns",
            cfg.entra.tenant, cfg.entra.client_id, cfg.entra.client_secret
        );
        println!("  google    {url}/token (JWT bearer; signature unchecked unless a key is configured) ; {url}/admin/reports/v1/activity/users/all/applications/login");
        println!("  cloudtrail LookupEvents at {url}/ (AWS JSON 1.1; any credentials)");
        println!("  these are emulator credentials, not secrets. Ctrl-C stops.");
        tokio::select! {
            _ = em.wait() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        em.shutdown().await;
        Ok::<_, anyhow::Error>(())
    })?;
    Ok(ExitCode::SUCCESS)
}
