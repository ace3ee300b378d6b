//! Late data: importing IdP records that arrive after a verdict was stored changes that verdict
//! (new version) and only that one; running the engine again on the same data changes nothing.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trailproof"))
}

fn case(name: &str, file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cases").join(name).join(file)
}

fn run(db: &Path, args: &[&str]) -> String {
    let out = bin().arg("--db").arg(db).arg("--quiet").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn verdicts(db: &Path) -> Vec<Value> {
    let v: Value = serde_json::from_str(&run(db, &["report", "--format", "json"])).unwrap();
    v["verdicts"].as_array().cloned().unwrap()
}

fn by_id<'a>(v: &'a [Value], id: &str) -> &'a Value {
    v.iter().find(|r| r["console_login_event_id"] == id).unwrap()
}

#[test]
fn late_idp_records_update_only_the_affected_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("late.db");
    let p = |n, f| case(n, f).display().to_string();
    let bob = "c2c2c2c2-0000-4000-8000-000000000002";
    let alice = "c1c1c1c1-0000-4000-8000-000000000001";
    run(
        &db,
        &[
            "import",
            "cloudtrail",
            &p("okta_password_only_not_enforced", "cloudtrail.json"),
            &p("okta_saml_mfa_enforced", "cloudtrail.json"),
        ],
    );
    // Okta first arrives without bob's session start, covering only from 10:15.
    run(
        &db,
        &[
            "import",
            "okta",
            &p("okta_logs_not_collected", "okta.json"),
            "--covers",
            "2026-11-02T10:15:00Z/2026-11-02T12:00:00Z",
        ],
    );
    run(
        &db,
        &[
            "import",
            "okta",
            &p("okta_saml_mfa_enforced", "okta.json"),
            "--covers",
            "2026-11-02T00:00:00Z/2026-11-02T10:15:00Z",
        ],
    );
    let cfg = p("okta_password_only_not_enforced", "config.toml");
    run(&db, &["--config", &cfg, "correlate", "--now", "2026-11-02T12:00:00Z"]);
    let first = verdicts(&db);
    assert_eq!(by_id(&first, bob)["verdict"], "unknown");
    assert_eq!(by_id(&first, bob)["version"], 1);
    assert_eq!(by_id(&first, alice)["version"], 1);

    // Same data again: nothing changes.
    let out = run(&db, &["--config", &cfg, "correlate", "--now", "2026-11-02T12:00:00Z"]);
    assert!(out.contains("0 new, 0 changed"), "{out}");
    assert_eq!(verdicts(&db), first);

    // The late export with the session start, covering the whole day.
    run(
        &db,
        &[
            "import",
            "okta",
            &p("okta_password_only_not_enforced", "okta.ndjson"),
            "--covers",
            "2026-11-02T00:00:00Z/2026-11-02T12:00:00Z",
        ],
    );
    let out = run(&db, &["--config", &cfg, "correlate", "--now", "2026-11-02T12:00:00Z"]);
    assert!(out.contains("0 new, 1 changed"), "{out}");
    let second = verdicts(&db);
    assert_eq!(by_id(&second, bob)["verdict"], "not_enforced");
    assert_eq!(by_id(&second, bob)["version"], 2);
    assert_eq!(by_id(&second, alice), by_id(&first, alice), "an unaffected verdict must not change");
}

#[test]
fn correlate_twice_gives_byte_identical_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (tmp.path().join("a.db"), tmp.path().join("b.db"));
    let p = |n, f| case(n, f).display().to_string();
    for db in [&a, &b] {
        run(db, &["import", "cloudtrail", &p("entra_previously_satisfied", "cloudtrail.ndjson")]);
        run(db, &["import", "entra", &p("entra_previously_satisfied", "entra.json")]);
        run(db, &["correlate", "--now", "2026-11-02T12:00:00Z"]);
    }
    let ra = run(&a, &["report", "--format", "ndjson"]);
    let rb = run(&b, &["report", "--format", "ndjson"]);
    assert!(!ra.is_empty());
    assert_eq!(ra, rb);
}
