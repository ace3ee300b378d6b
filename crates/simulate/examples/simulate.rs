//! `cargo run --release -p trailproof-simulate --example simulate -- OUT [USERS] [DAYS] [SEED] [NOISE_RATIO]`
//! Runs the simulator and prints the summary and the time it took.

use trailproof_simulate::{SimOptions, simulate};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(out) = args.first() else {
        eprintln!("usage: simulate OUT [USERS] [DAYS] [SEED] [NOISE_RATIO]");
        std::process::exit(2);
    };
    let mut opts = SimOptions::default();
    if let Some(u) = args.get(1).and_then(|s| s.parse().ok()) {
        opts.users = u;
    }
    if let Some(d) = args.get(2).and_then(|s| s.parse().ok()) {
        opts.days = d;
    }
    if let Some(s) = args.get(3).and_then(|s| s.parse().ok()) {
        opts.seed = s;
    }
    if let Some(r) = args.get(4).and_then(|s| s.parse().ok()) {
        opts.noise_ratio = r;
    }
    let started = std::time::Instant::now();
    match simulate(&opts, std::path::Path::new(out), &mut |line| eprintln!("{line}")) {
        Ok(s) => {
            println!("{s:#?}");
            println!("took {:.2?}", started.elapsed());
        }
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}
