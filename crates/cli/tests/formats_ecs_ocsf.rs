//! `report --format ecs` and `--format ocsf` on a demo-sized run (the demo's simulated
//! organisation, collected through the real collectors and judged): every ECS document validates
//! against docs/ecs-verdict.schema.json, every OCSF event carries what its class requires, one
//! document and one Detection Finding per verdict, and the findings' related events are the
//! Authentication events printed before them where the record is a sign-in.

use std::path::Path;
use std::process::Command;

fn report(db: &Path, format: &str) -> Vec<serde_json::Value> {
    let o = Command::new(env!("CARGO_BIN_EXE_trailproof"))
        .arg("--db")
        .arg(db)
        .args(["report", "--format", format])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn every_document_of_a_demo_run_is_valid_ecs_and_ocsf() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("demo");
    let o = Command::new(env!("CARGO_BIN_EXE_trailproof"))
        .args(["--quiet", "demo", "--users", "60", "--days", "1", "--seed", "3", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let db = out.join("trailproof.db");
    let verdicts: Vec<serde_json::Value> =
        serde_json::from_slice(&std::fs::read(out.join("verdicts.json")).unwrap()).unwrap();
    assert!(verdicts.len() > 20);

    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/ecs-verdict.schema.json");
    let schema: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(schema_path).unwrap()).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let ecs = report(&db, "ecs");
    assert_eq!(ecs.len(), verdicts.len(), "one document per verdict");
    for d in &ecs {
        let errors: Vec<String> = validator.iter_errors(d).map(|e| format!("{e} at {}", e.instance_path)).collect();
        assert!(errors.is_empty(), "{d}: {errors:#?}");
    }
    let mut ids: Vec<&str> = ecs.iter().map(|d| d["event"]["id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), verdicts.len(), "event.id is each session's ConsoleLogin");
    for v in ["enforced", "not_enforced", "no_idp_login", "unknown"] {
        assert!(ecs.iter().any(|d| d["trailproof"]["verdict"] == v), "no {v} document");
    }

    let ocsf = report(&db, "ocsf");
    for e in &ocsf {
        let p = trailproof_report::testdata::ocsf_problems(e);
        assert!(p.is_empty(), "{e}: {p:#?}");
    }
    let findings: Vec<&serde_json::Value> = ocsf.iter().filter(|e| e["class_uid"] == 2004).collect();
    let auths: Vec<&serde_json::Value> = ocsf.iter().filter(|e| e["class_uid"] == 3002).collect();
    assert_eq!(findings.len(), verdicts.len());
    // Every session's ConsoleLogin is stored: each finding's ConsoleLogin has its Authentication
    // event, and IdP sign-ins of several providers are among them.
    let auth_uids: std::collections::HashSet<&str> =
        auths.iter().map(|a| a["metadata"]["uid"].as_str().unwrap()).collect();
    assert_eq!(auth_uids.len(), auths.len(), "each sign-in once");
    for d in &ecs {
        assert!(auth_uids.contains(d["event"]["id"].as_str().unwrap()), "{}", d["event"]["id"]);
    }
    let vendors: std::collections::BTreeSet<&str> =
        auths.iter().filter_map(|a| a["metadata"]["product"]["vendor_name"].as_str()).collect();
    for v in ["AWS", "Okta", "Microsoft", "Google"] {
        assert!(vendors.contains(v), "no Authentication event from {v}: {vendors:?}");
    }
}
