//! `trailproof collect`: the IdP collectors (crate collect) and the CloudTrail collectors (crate
//! collect-cloudtrail), concurrently.

use std::process::ExitCode;
use trailproof_collect::{BarReporter, LineReporter, NullReporter, Reporter};
use trailproof_model::Source;
use trailproof_pipeline::job::{self, Collected, Window};

use crate::args::{CollectArgs, Global};
use crate::util;

pub fn reporter(g: &Global) -> Box<dyn Reporter> {
    if g.quiet {
        Box::new(NullReporter)
    } else if util::show_progress(false) {
        Box::new(BarReporter::new())
    } else {
        Box::new(LineReporter::stderr())
    }
}

pub fn run(g: &Global, a: &CollectArgs) -> anyhow::Result<ExitCode> {
    let Some(cfg_path) = g.config.as_deref() else {
        anyhow::bail!(
            "collect needs --config FILE naming the sources (see config/trailproof.example.toml, [collect] section)"
        );
    };
    let cfg = util::load_config(Some(cfg_path))?;
    let now = util::now_ms();
    let since = a.since.as_deref().map(|s| util::parse_time_or_ago(s, now)).transpose()?;
    let until = a
        .until
        .as_deref()
        .map(|s| trailproof_model::parse_time(s).map_err(|e| anyhow::anyhow!("--until: {e}")))
        .transpose()?;
    let only = a.source.map(|s| s.source());
    let (want_idp, want_ct) = job::collectors_wanted(&cfg.collect, only);
    if !want_idp && !want_ct {
        anyhow::bail!(
            "no {} source is configured in {}: add [[collect.okta]], [[collect.entra]], [[collect.google]], [[collect.cloudtrail]] or [[collect.elasticsearch]] entries",
            only.map(|s| s.as_str()).unwrap_or("collect"),
            cfg_path.display()
        );
    }
    let r = collect_all(g, &cfg, &Window { now, since, until }, only, None, true)?;
    Ok(if r.failed > 0 { ExitCode::from(util::EXIT_FAILURE) } else { ExitCode::SUCCESS })
}

/// [`job::collect_all`] into `g.db`, with `g`'s progress display, printing each source's line
/// (when `echo`) and the errors with their fixes on stderr.
pub fn collect_all(
    g: &Global,
    cfg: &trailproof_model::config::Config,
    w: &Window,
    only: Option<Source>,
    ct_credentials: Option<aws_sdk_cloudtrail::config::Credentials>,
    echo: bool,
) -> anyhow::Result<Collected> {
    let rep = reporter(g);
    Ok(job::collect_all(&g.db, cfg, w, only, ct_credentials, rep.as_ref(), &mut util::Printer { echo })?)
}
