//! The benchmark suite at a tiny size (`scripts/bench.sh --quick`), so the script and the code
//! paths it measures cannot rot: every stage runs and lands in bench-results.json with sane
//! figures. DuckDB is left out (it would need PyPI); the full suite is `just bench`.

use std::path::Path;
use std::process::Command;

mod common;

#[test]
fn bench_script_quick_run_reports_every_stage() {
    if !common::bench_tools() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench.sh");
    let o = Command::new("bash")
        .arg(&script)
        .args(["--quick", "--no-duckdb", "--bin", env!("CARGO_BIN_EXE_trailproof"), "--data"])
        .arg(tmp.path().join("data"))
        .arg("--out")
        .arg(tmp.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}\n{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("bench-results.json")).unwrap()).unwrap();
    for stage in
        ["gzip_dc", "import_cloudtrail", "import_okta", "import_entra", "import_google", "correlate", "report_html"]
    {
        let s = &r["stages"][stage];
        assert!(s["seconds"].as_f64().is_some_and(|x| x >= 0.0), "{stage}: {s}");
        assert!(s["peak_rss_mb"].as_f64().is_some_and(|x| x > 0.0), "{stage}: {s}");
    }
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(tmp.path().join("data/sim/truth.json")).unwrap()).unwrap();
    assert_eq!(r["corpus"]["cloudtrail_records"], truth["cloudtrail"]["records_written"]);
    assert_eq!(r["stages"]["correlate"]["sessions"], truth["console_logins"]["successful"].as_array().unwrap().len());
    assert!(r["stages"]["import_okta"]["records_per_s"].as_f64().unwrap() > 0.0);
    // correlate's own split (reading, judging, storing) is picked up from its output.
    for k in ["reading_s", "judging_s", "storing_s"] {
        assert!(
            r["stages"]["correlate"][k].as_f64().is_some_and(|x| x >= 0.0),
            "correlate {k}: {}",
            r["stages"]["correlate"]
        );
    }
    assert!(r["db_bytes_per_million_records"].as_f64().unwrap() > 0.0);
    let md = std::fs::read_to_string(tmp.path().join("BENCHMARKS.md")).unwrap();
    assert!(md.contains("import cloudtrail") && md.contains("whole day"), "{md}");
}
