//! The README's first command, small: the demo runs the whole pipeline on a simulated organisation
//! and every verdict matches the simulator's ground truth.

use std::process::Command;

#[test]
fn demo_runs_end_to_end_and_every_verdict_matches_the_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("demo");
    let o = Command::new(env!("CARGO_BIN_EXE_trailproof"))
        .args(["--quiet", "demo", "--users", "60", "--days", "1", "--seed", "3", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    let line = stdout.lines().find(|l| l.contains("verdicts match")).expect("agreement line");
    let (got, rest) = line.split_once('/').unwrap();
    let want: String = rest.chars().take_while(char::is_ascii_digit).collect();
    assert_eq!(got.trim(), want, "{line}");
    assert!(want.parse::<u32>().unwrap() > 20, "{line}");
    // Collected through the real collectors, reported, ticketed.
    let tickets = stdout.lines().find(|l| l.starts_with("tickets: ")).expect("tickets line");
    let sent: u32 = tickets["tickets: ".len()..].split_whitespace().next().unwrap().parse().unwrap();
    assert!(sent > 0 && tickets.contains("HMAC verified"), "{tickets}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("<svg id=\"chart\""));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["summary"]["sessions"].to_string(), want);
    let verdicts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("verdicts.json")).unwrap()).unwrap();
    assert_eq!(verdicts.as_array().unwrap().len().to_string(), want);
    // The new shapes reached the verdicts: AD FS (imported from its Azure Monitor export),
    // Identity Center's own directory, an Entra sign-in that states no outcome.
    let idps: Vec<&str> = verdicts.as_array().unwrap().iter().filter_map(|v| v["identity"]["idp"].as_str()).collect();
    for idp in ["okta", "entra", "google", "adfs", "identity_center", "aws"] {
        assert!(idps.contains(&idp), "no verdict with identity at {idp}: {idps:?}");
    }
    assert!(verdicts.as_array().unwrap().iter().any(|v| v["reason"] == "idp_outcome_unknown"));
    // A session can be looked up from the database the demo leaves behind.
    let id = verdicts[0]["console_login_event_id"].as_str().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_trailproof"))
        .arg("--db")
        .arg(out.join("trailproof.db"))
        .args(["lookup", id])
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("timeline"));
}
