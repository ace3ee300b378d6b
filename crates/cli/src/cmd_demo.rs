//! `trailproof demo`: the real pipeline on a built-in simulated organisation.
//!
//! simulate → emulators in-process on loopback → the real collectors (Okta System Log, Microsoft
//! Graph, Google Reports; CloudTrail from an S3 server when moto is installed, else the local
//! trail tree) and, for AD FS, which has no vendor API (its sign-ins reach customers through
//! Entra's diagnostic settings, as Azure Monitor exports), the import of the simulated export →
//! correlate → summary table, HTML and JSON reports → tickets to an in-process webhook sink →
//! every verdict checked against the simulator's labels.
//!
//! With `--elastic` the four sources are read instead through the emulator's Elasticsearch (the
//! Elastic integrations' data streams, Okta / Entra / Google from their ECS fields, CloudTrail
//! from `event.original`) by the real `[[collect.elasticsearch]]` source, and every verdict
//! version is written back into the same cluster by a `[[notify]] kind = "elasticsearch"` sink,
//! then read back (point in time + `search_after`) and counted.

use anyhow::Context;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;
use trailproof_correlate::{Compiled, agreement};
use trailproof_emulate::{EmulatorConfig, Limit, RateLimits, serve};
use trailproof_model::config::{
    CloudTrailSource, Config, ElasticSource, EntraSource, GoogleSource, NotifySink, OktaSource,
};
use trailproof_model::verdict::{Label, Verdict};
use trailproof_model::{DAY_MS as DAY, Millis, Source, format_ms};
use trailproof_pipeline::job::Window;
use trailproof_simulate::{SimOptions, simulate};
use trailproof_store::Store;

use crate::args::{DemoArgs, Global};
use crate::cmd_collect::collect_all;
use crate::util;

/// A throwaway RSA key for the demo's Google service account (the emulator does not check the
/// signature). Not a secret: it signs nothing outside this demo.
const DEMO_GOOGLE_KEY: &str = include_str!("../assets/demo-google-key.pem");
const DEMO_GOOGLE_SA: &str = "trailproof-demo@demo.iam.gserviceaccount.com";

/// The simulated organisation's Entra tenant and Google customer, and the periods each IdP's
/// logs were collected (its `coverage.json`).
struct SimIds {
    entra_tenant: String,
    google_customer: String,
    spans: Vec<(Source, Vec<trailproof_ingest::manifest::Entry>)>,
}

fn sim_ids(sim: &Path) -> anyhow::Result<SimIds> {
    let mut spans = Vec::new();
    for (source, dir) in [(Source::Okta, "okta"), (Source::Entra, "entra"), (Source::Google, "google")] {
        let m = trailproof_ingest::manifest::read_dir_manifest(&sim.join(dir))?
            .with_context(|| format!("the simulated {dir}/ has no coverage.json"))?;
        spans.push((source, m));
    }
    let scope = |s: Source| spans.iter().find(|(x, _)| *x == s).and_then(|(_, m)| m.first()).map(|e| e.scope.clone());
    Ok(SimIds {
        entra_tenant: scope(Source::Entra).context("no Entra coverage in the simulation")?,
        google_customer: scope(Source::Google).context("no Google coverage in the simulation")?,
        spans,
    })
}

struct Steps {
    started: Instant,
    quiet: bool,
}

impl Steps {
    fn say(&self, what: &str) {
        if !self.quiet {
            eprintln!("[{:>5.1}s] {what}", self.started.elapsed().as_secs_f64());
        }
    }
}

/// The demo's collector configuration: every source pointed at the in-process emulator (or the
/// S3 server), credentials in files under `creds`.
fn demo_config(org: &Path, url: &str, creds: &Path, ids: &SimIds, ct: CloudTrailSource) -> anyhow::Result<Config> {
    let mut config = util::load_config(Some(org))?;
    std::fs::create_dir_all(creds)?;
    let file = |name: &str, body: &str| -> anyhow::Result<String> {
        let p = creds.join(name);
        std::fs::write(&p, body).with_context(|| format!("writing {}", p.display()))?;
        Ok(p.to_string_lossy().into_owned())
    };
    let key = serde_json::json!({
        "type": "service_account", "project_id": "trailproof-demo", "private_key_id": "demo",
        "private_key": DEMO_GOOGLE_KEY, "client_email": DEMO_GOOGLE_SA,
        "token_uri": format!("{url}/token"),
    });
    let c = &mut config.collect;
    c.overlap_minutes = 0;
    c.retry_initial_ms = 10;
    c.retry_max_ms = 200;
    c.okta = vec![OktaSource {
        name: "demo".into(),
        url: url.into(),
        token_file: file("okta-token", trailproof_emulate::DEFAULT_OKTA_TOKEN)?,
        requests_per_minute: Some(0),
        ..Default::default()
    }];
    c.entra = vec![EntraSource {
        name: "demo".into(),
        tenant_id: ids.entra_tenant.clone(),
        client_id: trailproof_emulate::DEFAULT_ENTRA_CLIENT_ID.into(),
        client_secret_file: file("entra-secret", trailproof_emulate::DEFAULT_ENTRA_CLIENT_SECRET)?,
        authority_url: url.into(),
        graph_url: url.into(),
        requests_per_10s: Some(0),
        ..Default::default()
    }];
    c.google = vec![GoogleSource {
        name: "demo".into(),
        customer_id: ids.google_customer.clone(),
        service_account_key_file: file("google-key.json", &key.to_string())?,
        admin_email: "admin@example.com".into(),
        token_url: format!("{url}/token"),
        reports_url: url.into(),
        requests_per_minute: Some(0),
        ..Default::default()
    }];
    c.cloudtrail = vec![ct];
    Ok(config)
}

/// The demo's verdict data stream and alert copies in the emulated cluster.
const VERDICT_STREAM: &str = "logs-trailproof.verdict-default";
const ALERT_STREAM: &str = "logs-trailproof.alert-default";

/// `--elastic`: the four sources come from one `[[collect.elasticsearch]]` entry pointed at the
/// emulator's Elasticsearch, which keeps the Elastic integrations' defaults (`event.original`
/// only for CloudTrail).
fn elastic_collect(config: &mut Config, url: &str, creds: &Path) -> anyhow::Result<()> {
    let key = creds.join("es-api-key");
    std::fs::write(&key, trailproof_emulate::DEFAULT_ELASTIC_API_KEY)
        .with_context(|| format!("writing {}", key.display()))?;
    let c = &mut config.collect;
    c.okta.clear();
    c.entra.clear();
    c.google.clear();
    c.cloudtrail.clear();
    c.elasticsearch = vec![ElasticSource {
        name: "demo".into(),
        url: url.into(),
        api_key_file: key.to_string_lossy().into_owned(),
        ..Default::default()
    }];
    Ok(())
}

/// `--elastic`: every verdict version written into the emulated cluster by the real
/// `[[notify]] kind = "elasticsearch"` sink (alert copies at high and above), a second dispatch
/// writing nothing new, then the data stream read back and counted.
fn elastic_verdicts(config: &Config, store: &mut Store, url: &str, creds: &Path) -> anyhow::Result<String> {
    let mut cfg = config.clone();
    let key = creds.join("es-api-key");
    cfg.notify = vec![NotifySink {
        name: "demo-elasticsearch".into(),
        kind: "elasticsearch".into(),
        url: url.into(),
        secret_file: key.to_string_lossy().into_owned(),
        data_stream: VERDICT_STREAM.into(),
        alert_min_severity: "high".into(),
        alert_data_stream: ALERT_STREAM.into(),
        backfill: true,
        ..Default::default()
    }];
    let first = crate::cmd_notify::notify(&cfg, store, false)?;
    let s = first.sinks.first().context("the elasticsearch sink did not run")?;
    anyhow::ensure!(!first.failed(), "the elasticsearch sink failed: {}", s.line());
    let written = s.created;
    let again = crate::cmd_notify::notify(&cfg, store, false)?;
    let resent = again.sinks.first().map(|s| s.created).unwrap_or(0);
    anyhow::ensure!(!again.failed() && resent == 0, "a second dispatch wrote {resent} verdict documents again");
    let rt =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let (docs, ids) = rt.block_on(count_documents(&cfg, VERDICT_STREAM))?;
    let (alerts, _) = rt.block_on(count_documents(&cfg, ALERT_STREAM))?;
    anyhow::ensure!(
        docs == ids && docs == written,
        "the cluster holds {docs} verdict documents ({ids} distinct _id), the sink wrote {written}"
    );
    Ok(format!(
        "elasticsearch: {written} verdict documents written to {url} data stream {VERDICT_STREAM} \
         ({alerts} alert copies in {ALERT_STREAM}); read back: {docs} documents, {ids} distinct _id"
    ))
}

/// The documents of `index` and their distinct `_id`s, read through a point in time.
async fn count_documents(cfg: &Config, index: &str) -> anyhow::Result<(u64, u64)> {
    let entry = cfg.collect.elasticsearch.first().context("no [[collect.elasticsearch]] entry")?;
    let client = trailproof_collect::elastic::connect(entry, &cfg.collect, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    let scan = trailproof_elastic::Scan {
        index: index.into(),
        filter: vec![],
        sort_field: "event.ingested".into(),
        includes: vec!["event.id".into()],
        size: 1000,
        keep_alive: "1m".into(),
    };
    let mut cursor = trailproof_elastic::Cursor::default();
    let (mut n, mut ids) = (0u64, std::collections::BTreeSet::new());
    loop {
        let page = client.scan_page(&scan, &mut cursor).await.with_context(|| format!("searching {index}"))?;
        for h in &page.page.hits {
            n += 1;
            ids.insert(h.id.clone());
        }
        if page.done {
            return Ok((n, ids.len() as u64));
        }
    }
}

pub fn run(g: &Global, a: &DemoArgs) -> anyhow::Result<ExitCode> {
    let steps = Steps { started: Instant::now(), quiet: g.quiet };
    let sim_dir = a.out.join("sim");
    let db_path = a.out.join("trailproof.db");
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    for f in ["trailproof.db", "trailproof.db-wal", "trailproof.db-shm"] {
        let _ = std::fs::remove_file(a.out.join(f));
    }

    let now = util::now_ms();
    let start_ms = first_day(now, a.days);
    steps.say(&format!(
        "simulating an organisation of {} users over {} days from {} (seed {})",
        a.users,
        a.days,
        format_ms(start_ms),
        a.seed
    ));
    // A fresh organisation each time: the emulators serve every file under sim/.
    if sim_dir.exists() {
        anyhow::ensure!(
            sim_dir.join("truth.json").is_file(),
            "{} exists but was not written by `trailproof demo` or `simulate`; choose another --out",
            sim_dir.display()
        );
        std::fs::remove_dir_all(&sim_dir).with_context(|| format!("removing the previous {}", sim_dir.display()))?;
    }
    let opts = SimOptions { seed: a.seed, users: a.users, days: a.days, start_ms, ..Default::default() };
    let sim = simulate(&opts, &sim_dir, &mut |_| {})?;
    steps.say(&format!(
        "wrote {} files ({}): a CloudTrail S3 tree, Okta, Entra ID and Google API pages, an AD FS export, labels",
        sim.files,
        util::human_bytes(sim.bytes)
    ));

    let ids = sim_ids(&sim_dir)?;

    // The emulators and the webhook sink, on loopback, in a runtime of their own.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let em = rt
        .block_on(serve(EmulatorConfig {
            data: sim_dir.clone(),
            // Okta's X-Rate-Limit-Remaining would pause the collector: make it unreachable.
            limits: RateLimits {
                okta: Limit { max: 1_000_000, window: std::time::Duration::from_secs(60) },
                ..RateLimits::default()
            },
            entra: trailproof_emulate::EntraApp {
                tenant: ids.entra_tenant.clone(),
                client_id: trailproof_emulate::DEFAULT_ENTRA_CLIENT_ID.into(),
                client_secret: trailproof_emulate::DEFAULT_ENTRA_CLIENT_SECRET.into(),
            },
            ..EmulatorConfig::default()
        }))
        .map_err(|e| anyhow::anyhow!("starting the emulators: {e}"))?;
    let url = em.url();
    if a.elastic {
        let streams = em.elastic_streams();
        let listed: Vec<String> = streams.iter().map(|(s, n)| format!("{s} ({n})")).collect();
        steps.say(&format!("emulated Elasticsearch listening on {url}: {}", listed.join(", ")));
    } else {
        steps.say(&format!(
            "emulators listening on {url}: Okta System Log, Microsoft token + Graph, Google token + Reports"
        ));
    }

    // CloudTrail: the collector's `directory` mode reads the simulated trail tree (the same object
    // reader and parser as the S3 mode). With --s3 the S3 mode reads it from moto's S3 server.
    let moto = if a.s3 {
        match trailproof_emulate::moto::MotoS3::start() {
            Ok(m) => {
                steps.say(&format!("uploading the trail tree to moto at {} (slow: one PUT per file)", m.endpoint()));
                match m.upload(&sim_dir, "demo-trail", None) {
                    Ok(()) => Some(m),
                    Err(e) => {
                        steps.say(&format!("moto upload failed ({e}); reading the trail directory instead"));
                        None
                    }
                }
            }
            Err(e) => {
                steps.say(&format!(
                    "no S3 server ({e}); reading the trail directory instead \
                     (`bash crates/emulate/scripts/moto-s3.sh install` installs moto)"
                ));
                None
            }
        }
    } else {
        None
    };
    let (ct, ct_creds) = match &moto {
        Some(m) => {
            steps.say(&format!("CloudTrail: trail bucket s3://demo-trail on moto at {}", m.endpoint()));
            (
                CloudTrailSource {
                    name: "demo".into(),
                    mode: "s3".into(),
                    bucket: "demo-trail".into(),
                    endpoint_url: m.endpoint(),
                    ..Default::default()
                },
                Some(aws_sdk_cloudtrail::config::Credentials::new("AKIDDEMO", "demo-secret", None, None, "demo")),
            )
        }
        None => {
            if !a.elastic {
                steps.say(
                    "CloudTrail: the collector reads the simulated S3 trail tree from disk (directory mode; --s3 for moto)",
                );
            }
            (
                CloudTrailSource {
                    name: "demo".into(),
                    mode: "directory".into(),
                    directory: sim_dir.join("AWSLogs").to_string_lossy().into_owned(),
                    ..Default::default()
                },
                None,
            )
        }
    };
    let mut config = demo_config(&sim_dir.join("org.toml"), &url, &a.out.join("creds"), &ids, ct)?;
    if a.elastic {
        elastic_collect(&mut config, &url, &a.out.join("creds"))?;
    }

    // Collect. Each IdP is backfilled over the periods its simulated collector was running
    // (coverage.json): the simulated organisation lost some stretches of IdP logs, and the demo
    // must not claim them. Through Elasticsearch the same holds: a cluster cannot say a stretch
    // was never shipped, so each IdP is backfilled (on @timestamp) only over those spans.
    let cg = Global { db: db_path.clone(), config: None, quiet: true, verbose: g.verbose };
    drop(Store::open(&db_path)?);
    let mut failed = 0;
    let mut es_read = (0u64, 0u64);
    for (source, spans) in &ids.spans {
        let source = *source;
        for span in spans {
            let w = Window { now, since: Some(span.start_ms), until: Some(span.end_ms + 1) };
            let r = collect_all(&cg, &config, &w, Some(source), None, false)?;
            failed += r.failed;
            es_read = (es_read.0 + r.elastic_read.0, es_read.1 + r.elastic_read.1);
        }
    }
    let end_ms = start_ms + Millis::from(a.days) * DAY;
    let w = Window { now, since: Some(start_ms - DAY), until: Some(end_ms + DAY) };
    let r = collect_all(&cg, &config, &w, Some(Source::Cloudtrail), ct_creds, false)?;
    failed += r.failed;
    es_read = (es_read.0 + r.elastic_read.0, es_read.1 + r.elastic_read.1);
    anyhow::ensure!(failed == 0, "{failed} collector runs failed (see above)");
    let stats = em.stats();
    steps.say(&format!(
        "collected through the real collectors: {} API requests served",
        stats.requests.values().sum::<u64>()
    ));
    let es_line = a.elastic.then(|| {
        format!(
            "elasticsearch: {} documents read from {url} by [[collect.elasticsearch]]: {} from event.original, {} from ECS fields",
            es_read.0 + es_read.1,
            es_read.0,
            es_read.1
        )
    });

    let mut store = Store::open(&db_path)?;
    // AD FS has no API to collect from: Entra's diagnostic settings export its sign-ins
    // (ADFSSignInLogs) to an Event Hub or a storage account. The demo imports the simulated
    // export as `trailproof import adfs sim/adfs/` does, with its coverage.json.
    let (inputs, manifests) = trailproof_ingest::collect_inputs(&[sim_dir.join("adfs")])?;
    let r = trailproof_ingest::import(
        &mut store,
        &inputs,
        &manifests,
        &trailproof_ingest::ImportOptions::new(Source::Adfs),
        &mut |_| {},
    )?;
    anyhow::ensure!(
        r.counts.quarantined == 0 && r.failed_inputs.is_empty(),
        "the AD FS import quarantined {} records and failed {} inputs",
        r.counts.quarantined,
        r.failed_inputs.len()
    );
    steps.say(&format!(
        "imported {} AD FS sign-ins from the Azure Monitor export (AD FS has no API to collect from)",
        r.counts.stored
    ));

    let cfg = Compiled::new(&config)?;
    let summary = trailproof_pipeline::judge(&mut store, &cfg, None, now, &mut |_, _| {})?;
    steps.say(&format!("judged {} console sessions", summary.sessions));

    let verdicts = store.verdicts(i64::MIN, i64::MAX)?;
    let report_opts = trailproof_report::ReportOptions {
        color: false,
        generated_at: format_ms(util::now_ms()),
        title: "trailproof demo".into(),
        range: Some((format_ms(start_ms), format_ms(end_ms))),
    };
    let files = trailproof_pipeline::job::write_reports(
        &verdicts,
        &["html".to_string(), "json".to_string()],
        &a.out,
        "report",
        &report_opts,
    )?;
    trailproof_pipeline::job::write_atomic(
        &a.out.join("verdicts.json"),
        serde_json::to_string_pretty(&verdicts)?.as_bytes(),
    )?;
    let names: Vec<String> = files.iter().map(|p| p.display().to_string()).collect();
    steps.say(&format!("reports written: {}", names.join(", ")));

    let tickets = demo_tickets(&rt, &config, &mut store, &a.out.join("creds"))?;
    println!("{tickets}");
    if let Some(line) = &es_line {
        println!("{line}");
        println!("{}", elastic_verdicts(&config, &mut store, &url, &a.out.join("creds"))?);
    }
    drop(em);
    drop(moto);

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
    println!("open {} in a browser for the report", a.out.join("report.html").display());
    println!("{}/{} verdicts match the simulator's ground truth", agree.matched, agree.labels);
    steps.say("done");
    if !agree.all_match() {
        for m in agree.mismatches.iter().take(10) {
            eprintln!("mismatch {} ({}): {}", m.console_login_event_id, m.scenario, m.what);
        }
        return Ok(ExitCode::from(util::EXIT_FAILURE));
    }
    Ok(ExitCode::SUCCESS)
}

/// The start of the `days` simulated days: they end at the last midnight every source has settled
/// past, so every record is inside the APIs' retention (Entra keeps 30 days) and inside the
/// coverage the collectors claim. Coverage ends each source's settling time before `now`
/// (Google's is 4 hours): a demo run soon after midnight that simulated the day just ended would
/// find its last hours not collected yet, and judge their sessions "unknown" where the simulator
/// knows better. An hour more: the windows of the last sessions reach past midnight.
fn first_day(now: Millis, days: u32) -> Millis {
    let settled = now - longest_settling_ms() - HOUR;
    settled - settled.rem_euclid(DAY) - Millis::from(days) * DAY
}

const HOUR: Millis = 3_600_000;

/// The longest default settling time of the collected sources.
fn longest_settling_ms() -> Millis {
    let minutes = trailproof_model::config::SOURCE_LAGS.iter().map(|l| l.default_settling_minutes).max();
    Millis::from(minutes.unwrap_or(0)) * 60_000
}

/// The demo's ticket feed: a webhook sink pointed at the in-process receiver, every verdict the
/// demo judged (backfill), then a second dispatch that must send nothing.
fn demo_tickets(
    rt: &tokio::runtime::Runtime,
    config: &Config,
    store: &mut trailproof_store::Store,
    creds: &Path,
) -> anyhow::Result<String> {
    let key = "demo-webhook-signing-key";
    let sink = rt.block_on(crate::demo_sink::start(key.as_bytes())).context("starting the webhook receiver")?;
    std::fs::create_dir_all(creds)?;
    let key_file = creds.join("webhook-key");
    std::fs::write(&key_file, key)?;
    let mut cfg = config.clone();
    cfg.notify = vec![trailproof_model::config::NotifySink {
        name: "demo-webhook".into(),
        kind: "webhook".into(),
        url: sink.url(),
        secret_file: key_file.to_string_lossy().into_owned(),
        requests_per_minute: 0,
        backfill: true,
        ..Default::default()
    }];
    let first = crate::cmd_notify::notify(&cfg, store, false)?;
    let again = crate::cmd_notify::notify(&cfg, store, false)?;
    let got = sink.received();
    let created = first.sinks.first().map(|s| s.created).unwrap_or(0);
    let twice = got.by_key.values().filter(|n| **n > 1).count();
    anyhow::ensure!(!first.failed(), "the webhook sink failed: {}", first.sinks[0].line());
    anyhow::ensure!(
        got.bad_signatures == 0 && twice == 0 && got.by_key.len() as u64 == created,
        "webhook deliveries: {} tickets sent, {} received, {} twice, {} bad signatures",
        created,
        got.by_key.len(),
        twice,
        got.bad_signatures
    );
    let resent = again.sinks.first().map(|s| s.created + s.updated + s.closed).unwrap_or(0);
    anyhow::ensure!(resent == 0, "a second dispatch re-sent {resent} tickets");
    Ok(format!(
        "tickets: {created} sent to a webhook sink at {} (HMAC verified, one per session; a second dispatch sent none)",
        sink.url()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use trailproof_model::time::parse_time;

    /// Run at any time of day, the demo's days end before every source's coverage does: just
    /// after midnight (when Google's four hours of settling still reach into the day just ended)
    /// and late in the day alike.
    #[test]
    fn the_demo_days_end_where_every_source_has_settled() {
        // Google's four hours.
        assert_eq!(longest_settling_ms(), 4 * HOUR);
        for (now, first) in [
            ("2026-12-07T00:07:00Z", "2026-12-03T00:00:00Z"),
            ("2026-12-07T04:59:59Z", "2026-12-03T00:00:00Z"),
            ("2026-12-07T05:00:00Z", "2026-12-04T00:00:00Z"),
            ("2026-12-07T23:59:00Z", "2026-12-04T00:00:00Z"),
        ] {
            let now = parse_time(now).unwrap();
            let start = first_day(now, 3);
            assert_eq!(start, parse_time(first).unwrap(), "{}", format_ms(now));
            let end = start + 3 * DAY;
            assert!(
                end + HOUR <= now - longest_settling_ms(),
                "{}: the days end at {}",
                format_ms(now),
                format_ms(end)
            );
        }
    }
}
