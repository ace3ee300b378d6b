//! Test tool: runs one `collect` and exits. Used by the kill test, which SIGKILLs it at random
//! moments and then checks the store.
//!
//! `trailproof-collect-harness DB CONFIG.json NOW_MS [PAGE_SIZE [WINDOW_MS]]`
//!
//! Exit status: 0 when every source succeeded, 1 when one failed, 2 on bad arguments or when
//! nothing could run.

use std::path::PathBuf;
use std::process::ExitCode;

use trailproof_collect::{CollectOptions, LineReporter, collect};
use trailproof_model::config::Config;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [db, cfg_path, now, rest @ ..] = args.as_slice() else {
        eprintln!("usage: trailproof-collect-harness DB CONFIG.json NOW_MS [PAGE_SIZE [WINDOW_MS]]");
        return ExitCode::from(2);
    };
    let cfg: Config = match std::fs::read(cfg_path)
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cannot read {cfg_path}: {e}");
            return ExitCode::from(2);
        }
    };
    let Ok(now) = now.parse::<i64>() else {
        eprintln!("NOW_MS must be an integer");
        return ExitCode::from(2);
    };
    let mut opts = CollectOptions::new(now);
    if let Some(p) = rest.first().and_then(|s| s.parse().ok()) {
        opts.tuning.page_size = Some(p);
    }
    if let Some(w) = rest.get(1).and_then(|s| s.parse().ok()) {
        opts.tuning.window_ms = w;
    }
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let reporter = LineReporter::new(Box::new(std::io::stderr()), std::time::Duration::from_secs(3600));
    let db = PathBuf::from(db);
    match rt.block_on(collect(&db, &cfg, &opts, &reporter)) {
        Ok(s) if !s.failed() => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(2)
        }
    }
}
