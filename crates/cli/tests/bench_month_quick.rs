//! The month benchmark at a tiny size (`scripts/bench-month.sh --quick`: 40 users, 5 days and the
//! look-back day, 2 kept), so the script cannot rot: every day is imported, judged, reported and
//! (in one store) pruned; the pruned store's verdicts equal the never-pruned store's; the prune
//! removed records; the chart, the JSON and the BENCHMARKS.md section are written, the rest of
//! BENCHMARKS.md kept. Some 10 seconds; the measured run is `scripts/bench-month.sh --users 1000`.

use std::path::Path;
use std::process::Command;

mod common;
use common::bench_tools;

/// `scripts/bench-month.sh --quick` and `more`, into `out` (its data under `out/data`); the
/// docs/bench-month.json it wrote, and the successful sessions of the simulated truth.
fn quick_month(out: &Path, more: &[&str]) -> (serde_json::Value, u64) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench-month.sh");
    let o = Command::new("bash")
        .arg(&script)
        .arg("--quick")
        .args(more)
        .args(["--bin", env!("CARGO_BIN_EXE_trailproof"), "--data"])
        .arg(out.join("data"))
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("docs/bench-month.json")).unwrap()).unwrap();
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("data/sim/truth.json")).unwrap()).unwrap();
    let sessions = truth["console_logins"]["successful"].as_array().unwrap().len() as u64;
    (r, sessions)
}

#[test]
fn bench_month_quick_run_prunes_and_keeps_every_verdict() {
    if !bench_tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let md = tmp.path().join("BENCHMARKS.md");
    std::fs::write(
        &md,
        "# Benchmarks\n\nThe day's figures.\n\n## A month of daily runs\n\nold figures\n\n\
         <!-- end of the section written by scripts/bench-month.sh; text below it is kept -->\n\n## Targets\n\nkept\n",
    )
    .unwrap();
    let (r, sessions) = quick_month(tmp.path(), &[]);
    let v = &r["verdicts"];
    assert_eq!(v["differ"], 0, "{v}");
    assert_eq!(v["pruned"], sessions, "{v}");
    assert_eq!(v["full"], sessions, "{v}");
    assert_eq!(v["sha256_pruned"], v["sha256_full"]);

    let days = r["days"].as_array().unwrap();
    assert_eq!(days.len(), 6, "the look-back day and 5 days");
    for d in days {
        for store in ["pruned", "full"] {
            assert!(d[store]["bytes"].as_u64().is_some_and(|b| b > 0), "{d}");
            for k in ["import_s", "correlate_s", "report_s", "total_s"] {
                assert!(d[store][k].as_f64().is_some_and(|x| x >= 0.0), "{store} {k}: {d}");
            }
        }
        assert!(d["pruned"]["prune_s"].as_f64().is_some_and(|x| x >= 0.0), "{d}");
        assert!(d["full"]["import_s"].as_f64().unwrap() > 0.0, "every day imports something: {d}");
    }
    // The store kept two days: the prune removed records, and the pruned store ends with fewer.
    let removed: u64 = days.iter().map(|d| d["pruned"]["removed_raw_records"].as_u64().unwrap()).sum();
    assert!(removed > 0, "nothing was pruned");
    let stored = &r["stored_records_at_end"];
    assert!(stored["pruned"].as_u64().unwrap() < stored["full"].as_u64().unwrap(), "{stored}");
    assert_eq!(
        stored["pruned"].as_u64().unwrap() + removed,
        stored["full"].as_u64().unwrap(),
        "each record is imported once: what the never-pruned store holds more is what was pruned"
    );

    let svg = std::fs::read_to_string(tmp.path().join("docs/bench-month.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.matches("<polyline").count() == 5, "{svg}");
    let md = std::fs::read_to_string(&md).unwrap();
    assert!(md.starts_with("# Benchmarks\n\nThe day's figures.\n"), "{md}");
    assert!(md.ends_with("## Targets\n\nkept\n"), "{md}");
    assert!(!md.contains("old figures"), "{md}");
    assert_eq!(md.matches("## A month of daily runs").count(), 1, "{md}");
    assert!(md.contains("all identical") && md.contains("| 5 | 20261105 |"), "{md}");
}

/// The same with verdicts kept three days (`--keep-verdict-days 3`): the pruned store ends with
/// the verdicts of the later sessions only, each equal to the never-pruned store's, and says so.
#[test]
fn bench_month_quick_run_with_verdicts_kept_three_days() {
    if !bench_tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let (r, sessions) = quick_month(tmp.path(), &["--keep-verdict-days", "3"]);
    let v = &r["verdicts"];
    assert_eq!(v["differ"], 0, "{v}");
    let kept = v["pruned"].as_u64().unwrap();
    assert!(kept > 0 && kept < sessions, "{kept} of {sessions} verdicts kept: {v}");
    assert_eq!(v["pruned"], v["full"], "{v}");
    assert_eq!(v["sha256_pruned"], v["sha256_full"]);
    let md = std::fs::read_to_string(tmp.path().join("BENCHMARKS.md")).unwrap();
    assert!(md.contains("--keep-verdict-days 3") && md.contains("Verdicts kept 3 days"), "{md}");
    // The cut is named in full (the end of a day, as the last prune gave it).
    assert!(md.contains("holds those of sessions from 2026-11-") && md.contains("T00:00:00Z on."), "{md}");
}
