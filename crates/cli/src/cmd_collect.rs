//! `trailproof collect`: the IdP collectors (crate collect) and the CloudTrail collectors (crate
//! collect-cloudtrail), concurrently.

use anyhow::Context;
use std::process::ExitCode;
use trailproof_collect::{BarReporter, CollectOptions, LineReporter, NullReporter, Reporter, collect};
use trailproof_collect_cloudtrail::{CtOptions, collect_cloudtrail};
use trailproof_model::Source;
use trailproof_store::Store;

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
    let c = &cfg.collect;
    let want_idp = (only.is_none_or(|s| s != Source::Cloudtrail)
        && (!c.okta.is_empty() || !c.entra.is_empty() || !c.google.is_empty()))
        || !trailproof_collect::elastic::streams(c, only).is_empty();
    let want_ct = only.is_none_or(|s| s == Source::Cloudtrail) && !c.cloudtrail.is_empty();
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

/// What [`collect_all`] did: sources that completed and sources that failed.
#[derive(Debug, Clone, Copy, Default)]
pub struct Collected {
    pub ok: usize,
    pub failed: usize,
    /// `[[collect.elasticsearch]]` documents read from `event.original` and from ECS fields.
    pub elastic_read: (u64, u64),
}

/// The time window of a collection: incremental from the checkpoints (`since` unset) or a
/// backfill of `[since, until]`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub now: trailproof_model::Millis,
    pub since: Option<trailproof_model::Millis>,
    pub until: Option<trailproof_model::Millis>,
}

/// Runs every configured collector (or only `only`'s) into `g.db`, printing one line per source
/// and the errors with their fixes on stderr. Per-source failures are counted, not returned.
/// `ct_credentials` replaces the AWS credential chain (the demo's S3 server takes any).
pub fn collect_all(
    g: &Global,
    cfg: &trailproof_model::config::Config,
    w: &Window,
    only: Option<Source>,
    ct_credentials: Option<aws_sdk_cloudtrail::config::Credentials>,
    echo: bool,
) -> anyhow::Result<Collected> {
    let Window { now, since, until } = *w;
    let c = &cfg.collect;
    let want_idp = (only.is_none_or(|s| s != Source::Cloudtrail)
        && (!c.okta.is_empty() || !c.entra.is_empty() || !c.google.is_empty()))
        || !trailproof_collect::elastic::streams(c, only).is_empty();
    let want_ct = only.is_none_or(|s| s == Source::Cloudtrail) && !c.cloudtrail.is_empty();
    // Create the database (and its schema) before the collectors open their connections.
    drop(Store::open(&g.db).with_context(|| format!("opening {}", g.db.display()))?);
    let rep = reporter(g);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let mut out = Collected::default();
    rt.block_on(async {
        let idp = async {
            if !want_idp {
                return None;
            }
            let mut opts = CollectOptions::new(now);
            opts.only = only;
            opts.since = since;
            opts.until = until;
            Some(collect(&g.db, cfg, &opts, rep.as_ref()).await)
        };
        let ct = async {
            let mut out = Vec::new();
            if !want_ct {
                return out;
            }
            for src in &c.cloudtrail {
                let mut opts = CtOptions::from_config(c, now);
                opts.since = since;
                opts.until = until;
                opts.credentials = ct_credentials.clone();
                let r = match Store::open(&g.db) {
                    Ok(mut store) => {
                        collect_cloudtrail(&mut store, src, &opts, &mut |_| {}).await.map_err(|e| e.to_string())
                    }
                    Err(e) => Err(format!("cloudtrail:{}: opening {}: {e}", src.name, g.db.display())),
                };
                out.push(r);
            }
            out
        };
        let (idp, ct) = tokio::join!(idp, ct);
        match idp {
            Some(Ok(summary)) => {
                for s in &summary.sources {
                    out.elastic_read.0 += s.elastic_read.0;
                    out.elastic_read.1 += s.elastic_read.1;
                    if s.error.is_some() {
                        out.failed += 1;
                    } else {
                        out.ok += 1;
                    }
                    if echo {
                        println!("{}", util::inert_lines(&s.line()));
                    }
                    if let Some(e) = &s.error {
                        eprintln!("error: {}", util::inert_lines(&e.to_string()));
                    }
                    if let Some(fix) = &s.fix {
                        eprintln!("  fix: {}", util::inert_lines(fix));
                    }
                }
                if summary.failed() && out.failed == 0 {
                    out.failed = 1;
                }
            }
            Some(Err(e)) => {
                eprintln!("error: {e}");
                out.failed += 1;
            }
            None => {}
        }
        for r in ct {
            match r {
                Ok(s) => {
                    out.ok += 1;
                    if echo {
                        println!("{}", util::inert_lines(&s.line()));
                    }
                }
                Err(e) => {
                    eprintln!("error: {}", util::inert_lines(&e));
                    out.failed += 1;
                }
            }
        }
    });
    Ok(out)
}
