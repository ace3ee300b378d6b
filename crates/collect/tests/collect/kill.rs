//! SIGKILL at random moments, then a clean run: the store holds exactly the emulator's records.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;

const HARNESS: &str = env!("CARGO_BIN_EXE_trailproof-collect-harness");

fn harness(db: &Path, cfg: &Path, now: i64) -> Command {
    let mut c = Command::new(HARNESS);
    c.arg(db).arg(cfg).arg(now.to_string()).arg("40").arg((6 * HOUR).to_string());
    c.stdout(Stdio::null()).stderr(Stdio::null());
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_then_a_clean_run_leaves_exactly_the_emulator_records() {
    let seed: u64 = std::env::var("KILL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
    });
    println!("KILL_SEED={seed}");
    let ds = dataset(1500, 1200, 1000, 3 * DAY);
    // Some server errors on top, so kills also land in retries.
    let emu = emulator(ds.dir.path(), &["5xx:0.03,status=500", "slow:2ms"]).await;
    let c = creds();
    let cfg = config(
        vec![okta_source(&emu.url(), &c)],
        vec![entra_source(&emu.url(), &c)],
        vec![google_source(&emu.url(), &c)],
    );
    let cfg_path = c.dir.path().join("cfg.json");
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();
    let now = t0() + 4 * DAY;

    let mut kills = 0;
    let mut rng = seed;
    for epoch in 0..3 {
        let db = c.dir.path().join(format!("kill-{epoch}.db"));
        let t = Instant::now();
        for _ in 0..8 {
            rng = splitmix(rng);
            let delay = Duration::from_millis(5 + rng % 140);
            let mut child = harness(&db, &cfg_path, now).spawn().unwrap();
            tokio::time::sleep(delay).await;
            match child.try_wait().unwrap() {
                Some(status) => assert!(status.success(), "seed {seed}: a run failed: {status}"),
                None => {
                    child.kill().unwrap();
                    child.wait().unwrap();
                    kills += 1;
                    let n = raw_count(&db, "okta") + raw_count(&db, "entra") + raw_count(&db, "google");
                    println!("epoch {epoch}: killed after {delay:?} with {n} records stored");
                }
            }
        }
        let status = harness(&db, &cfg_path, now).status().unwrap();
        assert!(status.success(), "seed {seed}: the clean run failed: {status}");
        assert_eq!(stored_ids(&db, "okta"), ds.okta_ids, "seed {seed}");
        assert_eq!(stored_ids(&db, "entra"), ds.entra_ids, "seed {seed}");
        assert_eq!(stored_ids(&db, "google"), ds.google_ids, "seed {seed}");
        let start = now - 96 * HOUR;
        assert_eq!(
            coverage(&db),
            vec![
                ("entra".to_string(), TENANT.to_string(), start, now - 1),
                ("google".to_string(), CUSTOMER.to_string(), start, now - 1),
                ("okta".to_string(), "*".to_string(), start, now - 1),
            ],
            "seed {seed}"
        );
        println!("epoch {epoch}: {:?}", t.elapsed());
    }
    assert!(kills >= 8, "seed {seed}: only {kills} runs were killed mid-way");
}
