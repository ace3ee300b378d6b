//! Correlation over a simulated organisation (every source and path, as `scripts/bench.sh`
//! makes its day): with `--db PATH` absent, simulates `--users` × `--days` (seed 7, the bench's
//! noise ratios unless given), imports every source into PATH and stops; with PATH present, judges
//! it and prints the time split and peak RSS. Copies of one filled store judged by two builds give
//! an interleaved A/B; `sqlite3 PATH "SELECT console_login_event_id, version, record,
//! content_sha256 FROM verdicts ORDER BY console_login_event_id" | sha256sum` compares their
//! verdicts. With `SIM_PER_SLICE=1` set, the peak RSS is printed after each slice too (which
//! slice sets the peak), with the heap's peak during the slice and what it leaves live.
//!
//! cargo run --release -p trailproof-pipeline --example sim_correlate -- --users 10000 --db /tmp/s.db

use std::path::PathBuf;
use std::time::Instant;
use trailproof_correlate::Compiled;
use trailproof_ingest::{ImportOptions, collect_inputs, import};
use trailproof_simulate::{SOURCE_DIRS, SimOptions, simulate};
use trailproof_store::Store;

mod common;
use common::{Counting, vm_hwm_kb};

#[global_allocator]
static HEAP: Counting = Counting::new();

fn main() -> anyhow::Result<()> {
    // As the binary does (trailproof_pipeline::memory).
    trailproof_pipeline::memory::release_freed_memory_promptly();
    let mut opts =
        SimOptions { users: 10_000, days: 1, noise_ratio: 0.995, idp_noise_per_user_day: 40, ..Default::default() };
    let mut db: Option<PathBuf> = None;
    let mut slice: Option<u64> = None;
    let mut slice_mb: Option<u64> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().ok_or_else(|| anyhow::anyhow!("{a} needs a value"))?;
        match a.as_str() {
            "--users" => opts.users = v.parse()?,
            "--days" => opts.days = v.parse()?,
            "--seed" => opts.seed = v.parse()?,
            "--noise-ratio" => opts.noise_ratio = v.parse()?,
            "--idp-noise" => opts.idp_noise_per_user_day = v.parse()?,
            "--slice-sessions" => slice = Some(v.parse()?),
            "--slice-mb" => slice_mb = Some(v.parse()?),
            "--db" => db = Some(PathBuf::from(v)),
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let path = db.ok_or_else(|| anyhow::anyhow!("--db PATH is required"))?;
    let cfg_path = path.with_extension("toml");
    if !path.exists() {
        let t = Instant::now();
        let dir = tempfile::tempdir_in(path.parent().unwrap_or(std::path::Path::new(".")))?;
        let sim = dir.path().join("sim");
        simulate(&opts, &sim, &mut |_| {})?;
        std::fs::copy(sim.join("org.toml"), &cfg_path)?;
        let mut store = Store::open(&path)?;
        for (source, sub) in SOURCE_DIRS {
            let (inputs, manifests) = collect_inputs(&[sim.join(sub)])?;
            import(&mut store, &inputs, &manifests, &ImportOptions::new(source), &mut |_| {})?;
        }
        eprintln!("filled {} in {:.1}s (config {})", path.display(), t.elapsed().as_secs_f64(), cfg_path.display());
        return Ok(());
    }
    let cfg: trailproof_model::config::Config = toml::from_str(&std::fs::read_to_string(&cfg_path)?)?;
    let cfg = Compiled::new(&cfg)?;
    let mut store = Store::open(&path)?;
    let mut jo = trailproof_pipeline::JudgeOptions::default();
    if let Some(n) = slice {
        jo.slice_sessions = n;
    }
    if let Some(mb) = slice_mb {
        jo.slice_bytes = mb.saturating_mul(1_000_000);
    }
    let t = Instant::now();
    let per_slice = std::env::var_os("SIM_PER_SLICE").is_some();
    let s = trailproof_pipeline::judge_with(&mut store, &cfg, None, i64::MAX - 1, &jo, &mut |_, n| {
        if per_slice {
            eprintln!(
                "slice done: {n} sessions, peak RSS {} MB, heap peak {:.1} MB, left live {:.1} MB",
                vm_hwm_kb() / 1024,
                HEAP.take_peak() as f64 / 1e6,
                HEAP.live() as f64 / 1e6
            );
        }
    })?;
    let secs = t.elapsed().as_secs_f64();
    println!(
        "sessions {} in {secs:.3}s = {:.0}/s; snapshot {:.3}s engine {:.3}s write {:.3}s; slices {}; new {} changed {} unchanged {}; peak RSS {} MB",
        s.sessions,
        s.sessions as f64 / secs,
        s.timings.snapshot.as_secs_f64(),
        s.timings.engine.as_secs_f64(),
        s.timings.write.as_secs_f64(),
        s.slices,
        s.changes.new,
        s.changes.changed,
        s.changes.unchanged,
        vm_hwm_kb() / 1024
    );
    Ok(())
}
