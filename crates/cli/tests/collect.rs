//! `trailproof collect` end to end: simulate → `trailproof emulate` → `trailproof collect` (Okta
//! System Log and CloudTrail LookupEvents through the real collectors) stores exactly what
//! importing the same files stores.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trailproof"))
}

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?}\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn raw_counts(db: &Path) -> serde_json::Value {
    let out = run(bin().arg("--db").arg(db).args(["status", "--format", "json"]));
    serde_json::from_str::<serde_json::Value>(&out).unwrap()["raw_records"].clone()
}

#[test]
fn collect_from_the_emulators_stores_what_import_stores() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    // Three days ending today, so every record is inside the APIs' retention.
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let start = trailproof_model::format_ms(now_ms - now_ms.rem_euclid(86_400_000) - 3 * 86_400_000);
    run(bin()
        .args([
            "--quiet",
            "simulate",
            "--users",
            "40",
            "--days",
            "2",
            "--noise-ratio",
            "0.5",
            "--start",
            &start,
            "--out",
        ])
        .arg(&sim));

    let mut em = bin()
        .args(["emulate", "--listen", "127.0.0.1:0", "--data"])
        .arg(&sim)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    // Keep the pipe open while the emulator runs: it prints more lines after the first, and a
    // closed pipe would kill it with SIGPIPE (a race that made this test flaky under load).
    let mut out = BufReader::new(em.stdout.take().unwrap());
    out.read_line(&mut first).unwrap();
    let url = first.split_whitespace().nth(2).unwrap().to_string();
    let token = tmp.path().join("okta-token");
    std::fs::write(&token, "emulator-okta-token").unwrap();
    let cfg = tmp.path().join("collect.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[collect]
overlap_minutes = 0
initial_lookback_hours = 120
retry_initial_ms = 1
retry_max_ms = 20

[[collect.okta]]
name = "main"
url = "{url}"
token_file = "{token}"
requests_per_minute = 0

[[collect.cloudtrail]]
name = "lookup"
mode = "lookup"
regions = ["us-east-1", "eu-west-1"]
endpoint_url = "{url}"
requests_per_second = 0
"#,
            token = token.display()
        ),
    )
    .unwrap();
    let db = tmp.path().join("collected.db");
    let out = bin()
        .arg("--db")
        .arg(&db)
        .arg("--config")
        .arg(&cfg)
        .arg("--quiet")
        .arg("collect")
        .env("AWS_ACCESS_KEY_ID", "AKIDEMULATOR")
        .env("AWS_SECRET_ACCESS_KEY", "emulator-secret")
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    let _ = em.kill();
    let _ = em.wait();
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(!stdout.contains("emulator-okta-token"), "the token must never be printed: {stdout}");

    // The same data through file import.
    let imported = tmp.path().join("imported.db");
    run(bin().arg("--db").arg(&imported).args(["--quiet", "import", "okta"]).arg(sim.join("okta")));
    let collected = raw_counts(&db);
    let want = raw_counts(&imported);
    assert!(want["okta"].as_u64().unwrap() > 100, "{want}");
    assert_eq!(collected["okta"], want["okta"], "collected {collected}, imported {want}");
    // LookupEvents serves the sign-in records of the two regions read.
    assert!(collected["cloudtrail"].as_u64().unwrap_or(0) > 0, "{collected}\n{stdout}");
}
