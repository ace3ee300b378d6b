//! Collection benchmark against the local emulators.
//!
//! ```text
//! cargo run --release -p trailproof-collect --example bench_collect -- throughput [RECORDS]
//! cargo run --release -p trailproof-collect --example bench_collect -- rate [SECONDS [vendor]]
//! ```
//!
//! `throughput`: RECORDS (default 100,000) real-shaped records per source over three days,
//! emulator rate limits off and no pacing; each source collected alone into a fresh database
//! (pages of 1000), then all three together. Prints records/s end to end and where the time
//! went: HTTP (request to last body byte, on the source task), ingest (parse + store on the
//! writer thread; the parse share is measured separately by parsing the same records without
//! storing them), commit.
//!
//! `rate`: the emulator enforces each vendor's fixed-window limit and the collector paces at
//! the same rate (Okta and Google 600/min, Entra 50 per 10 s, so that a run of SECONDS (default
//! 30) makes enough requests; with `vendor`, the documented defaults Okta 50/min, Entra 5 per
//! 10 s, Google 60/min); a long backfill in small pages must keep the request rate within 5% of
//! the allowed one, without 429s.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::{Duration, Instant};

use common::*;
use std::sync::atomic::{AtomicU64, Ordering};

use trailproof_collect::{CollectOptions, NullReporter, Reporter, SourceReport, collect};
use trailproof_emulate::{ClockMode, Limit, RateLimits, serve};
use trailproof_model::Source;
use trailproof_model::config::Config;

fn print_report(r: &SourceReport, parse_per_record: Duration) {
    let secs = r.elapsed.as_secs_f64();
    let parse = parse_per_record.mul_f64(r.records as f64);
    let store = r.ingest_time.saturating_sub(parse);
    let total = r.elapsed.as_secs_f64().max(1e-9);
    println!(
        "{:<12} {:>8} records {:>6} pages in {:>6.2} s = {:>8.0} records/s | HTTP {:>5.1}% parse {:>5.1}% store {:>5.1}% commit {:>5.1}% (sums of per-page times; HTTP overlaps the writer)",
        r.label,
        r.records,
        r.pages,
        secs,
        r.records as f64 / secs,
        100.0 * r.http.http_time.as_secs_f64() / total,
        100.0 * parse.as_secs_f64() / total,
        100.0 * store.as_secs_f64() / total,
        100.0 * r.commit_time.as_secs_f64() / total,
    );
}

/// Parse-only cost per record of each source, over the generated files.
fn parse_costs(ds: &DataSet) -> [(Source, Duration); 3] {
    let mut out = [(Source::Okta, Duration::ZERO), (Source::Entra, Duration::ZERO), (Source::Google, Duration::ZERO)];
    for (source, dir) in [(Source::Okta, "okta"), (Source::Entra, "entra"), (Source::Google, "google")] {
        let wrappers = trailproof_ingest::wrappers(source);
        let mut records: Vec<Vec<u8>> = Vec::new();
        for e in std::fs::read_dir(ds.dir.path().join(dir)).unwrap() {
            let bytes = std::fs::read(e.unwrap().path()).unwrap();
            let mut sp = trailproof_jsonrec::Splitter::new(&bytes[..], wrappers);
            while let Some(r) = sp.next_record().unwrap() {
                records.push(r.bytes.to_vec());
            }
        }
        let t = Instant::now();
        let mut relevant = 0usize;
        for r in &records {
            let ok = match source {
                Source::Okta => trailproof_source_okta::parse_record(r).is_ok(),
                Source::Entra => {
                    trailproof_source_entra::parse_record(r, trailproof_source_entra::Format::Graph).is_ok()
                }
                _ => trailproof_source_google::parse_record(r).is_ok(),
            };
            relevant += usize::from(ok);
        }
        let per = t.elapsed() / records.len().max(1) as u32;
        assert_eq!(relevant, records.len());
        for slot in out.iter_mut() {
            if slot.0 == source {
                slot.1 = per;
            }
        }
    }
    out
}

async fn throughput(n: usize) {
    println!("generating {n} records per source ...");
    let ds = dataset(n, n, n, 3 * DAY);
    let costs = parse_costs(&ds);
    let emu = emulator(ds.dir.path(), &[]).await;
    let c = creds();
    let url = emu.url();
    let now = t0() + 4 * DAY;
    let mut opts = CollectOptions::new(now);
    opts.tuning.page_size = Some(1000);
    let all = config(vec![okta_source(&url, &c)], vec![entra_source(&url, &c)], vec![google_source(&url, &c)]);
    for only in [Some(Source::Okta), Some(Source::Entra), Some(Source::Google), None] {
        let db = c.dir.path().join(format!("bench-{only:?}.db"));
        let o = CollectOptions { only, ..opts.clone() };
        let t = Instant::now();
        let s = collect(&db, &all, &o, &NullReporter).await.unwrap();
        let wall = t.elapsed();
        if only.is_none() {
            let total: u64 = s.sources.iter().map(|r| r.records).sum();
            println!(
                "all three    {total:>8} records in {:.2} s = {:.0} records/s (concurrently, one writer)",
                wall.as_secs_f64(),
                total as f64 / wall.as_secs_f64()
            );
        } else {
            for r in &s.sources {
                assert!(r.ok(), "{}", r.line());
                let per = costs.iter().find(|(s, _)| *s == r.source).map_or(Duration::ZERO, |c| c.1);
                print_report(r, per);
            }
        }
    }
    emu.shutdown().await;
}

/// Counts throttling notes (429s).
#[derive(Default)]
struct Count429(AtomicU64);

impl Reporter for Count429 {
    fn note(&self, _source: &str, message: &str) {
        if message.contains("throttled") {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

async fn rate(secs: u64, vendor: bool) {
    // (limit per window at the emulator and the collector's pacing) per source.
    let (okta_per_min, graph_per_10s, google_per_min) = if vendor { (50, 5, 60) } else { (600, 50, 600) };
    // Enough data that a backfill in pages of 10 outlasts the run.
    let ds = dataset(20_000, 20_000, 20_000, 3 * DAY);
    let mut ec = emulator_config(ds.dir.path(), &[], ClockMode::Wall);
    ec.rate_limits = true;
    ec.limits = RateLimits {
        okta: Limit { max: okta_per_min, window: Duration::from_secs(60) },
        graph: Limit { max: graph_per_10s, window: Duration::from_secs(10) },
        google: Limit { max: google_per_min, window: Duration::from_secs(60) },
        ..RateLimits::default()
    };
    let emu = serve(ec).await.unwrap();
    let c = creds();
    let url = emu.url();
    let mut okta = okta_source(&url, &c);
    okta.requests_per_minute = Some(okta_per_min);
    let mut entra = entra_source(&url, &c);
    entra.requests_per_10s = Some(graph_per_10s);
    let mut google = google_source(&url, &c);
    google.requests_per_minute = Some(google_per_min);
    let cfg: Config = config(vec![okta], vec![entra], vec![google]);
    let now = t0() + 4 * DAY;
    let mut o = CollectOptions::new(now);
    o.since = Some(t0());
    o.tuning.page_size = Some(10);
    o.tuning.window_ms = DAY;
    let db = c.dir.path().join("rate.db");
    let t = Instant::now();
    let count = Count429::default();
    let run = collect(&db, &cfg, &o, &count);
    let s = match tokio::time::timeout(Duration::from_secs(secs), run).await {
        Ok(s) => s.unwrap(),
        Err(_) => {
            // Time is up: read the emulator's counters (the collector was cut off mid-run).
            let elapsed = t.elapsed().as_secs_f64();
            for (ep, allowed) in [
                (trailproof_emulate::Endpoint::OktaLogs, f64::from(okta_per_min) / 60.0),
                (trailproof_emulate::Endpoint::GraphSignIns, f64::from(graph_per_10s) / 10.0),
                (trailproof_emulate::Endpoint::GoogleReports, f64::from(google_per_min) / 60.0),
            ] {
                let n = emu.requests(ep) as f64;
                println!(
                    "{:<16} {:>5} requests in {:.1} s = {:.3}/s, allowed {:.3}/s: {:.1}% of the limit",
                    ep.name(),
                    n,
                    elapsed,
                    n / elapsed,
                    allowed,
                    100.0 * n / elapsed / allowed
                );
            }
            println!("429 responses met: {}", count.0.load(Ordering::Relaxed));
            return;
        }
    };
    for r in &s.sources {
        println!("{} (finished early): {}", r.label, r.line());
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    match args.first().map(String::as_str) {
        Some("rate") => rt.block_on(rate(
            args.get(1).and_then(|s| s.parse().ok()).unwrap_or(30),
            args.get(2).is_some_and(|s| s == "vendor"),
        )),
        _ => rt.block_on(throughput(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(100_000))),
    }
}
