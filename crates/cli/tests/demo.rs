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

/// `demo --elastic`: the four sources read through the emulated Elasticsearch by
/// `[[collect.elasticsearch]]` (the IdPs from their ECS fields, CloudTrail from event.original),
/// every verdict matching the labels, and every verdict version written back into the cluster
/// once: the documents the demo reads back from the data stream equal the versions in the store.
#[test]
fn demo_through_elasticsearch_reads_the_four_sources_and_writes_every_verdict_version_back() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("demo");
    let o = Command::new(env!("CARGO_BIN_EXE_trailproof"))
        .args(["--quiet", "demo", "--elastic", "--users", "60", "--days", "1", "--seed", "3", "--out"])
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

    // Read: "N documents read from URL by [[collect.elasticsearch]]: A from event.original, B from ECS fields".
    let read = stdout.lines().find(|l| l.contains("by [[collect.elasticsearch]]")).expect("read line");
    let nums: Vec<u64> =
        read.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).filter_map(|s| s.parse().ok()).collect();
    let (total, original, ecs) = (nums[0], nums[nums.len() - 2], nums[nums.len() - 1]);
    assert!(read.ends_with(&format!("{original} from event.original, {ecs} from ECS fields")), "{read}");
    assert_eq!(total, original + ecs, "{read}");
    // The emulator keeps event.original for CloudTrail only (the integrations' default is none).
    assert!(original > 0 && ecs > original, "{read}");

    // Written: every verdict version in the store is one document in the data stream.
    let versions =
        trailproof_store::Store::open(&out.join("trailproof.db")).unwrap().outbox_after(0, 1_000_000).unwrap();
    assert!(versions.len() >= want.parse::<usize>().unwrap());
    let written = stdout.lines().find(|l| l.contains("verdict documents written to")).expect("write line");
    assert!(written.contains("data stream logs-trailproof.verdict-default"), "{written}");
    assert!(
        written
            .starts_with(&format!("elasticsearch: {} verdict documents written to http://127.0.0.1:", versions.len())),
        "{} versions in the store: {written}",
        versions.len()
    );
    assert!(
        written.contains(&format!("read back: {n} documents, {n} distinct _id", n = versions.len())),
        "{} versions in the store: {written}",
        versions.len()
    );
    // The alert copies: the verdicts other than enforced at high or critical severity.
    let verdicts: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("verdicts.json")).unwrap()).unwrap();
    let high = verdicts
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["verdict"] != "enforced" && matches!(v["risk"]["severity"].as_str(), Some("high" | "critical")))
        .count();
    assert!(written.contains(&format!("({high} alert copies in logs-trailproof.alert-default)")), "{high}: {written}");
}
