//! `trailproof run`, the scheduled batch: stage lines, reports on disk, exit codes (findings,
//! failure, lock held) and the lock's message.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trailproof"))
}

fn case(name: &str, file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/cases").join(name).join(file).display().to_string()
}

fn ok(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "{cmd:?}\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}

/// A database with one not_enforced session (severity high) imported from the fixture case.
fn db_with_a_finding(dir: &Path) -> PathBuf {
    let db = dir.join("tp.db");
    let c = "okta_password_only_not_enforced";
    ok(bin().arg("--db").arg(&db).args(["--quiet", "import", "cloudtrail", &case(c, "cloudtrail.json")]));
    ok(bin().arg("--db").arg(&db).args([
        "--quiet",
        "import",
        "okta",
        &case(c, "okta.ndjson"),
        "--covers",
        "2026-11-02T00:00:00Z/2026-11-02T12:00:00Z",
    ]));
    db
}

fn config(dir: &Path, extra: &str) -> PathBuf {
    let base = std::fs::read_to_string(case("okta_password_only_not_enforced", "config.toml")).unwrap();
    let p = dir.join("trailproof.toml");
    let reports = dir.join("reports");
    std::fs::write(
        &p,
        format!(
            "{base}\n[run]\nreport_formats = [\"html\", \"json\", \"csv\"]\nreport_dir = \"{}\"\n{extra}",
            reports.display()
        ),
    )
    .unwrap();
    p
}

fn run(db: &Path, cfg: &Path, args: &[&str]) -> Output {
    bin()
        .arg("--db")
        .arg(db)
        .arg("--config")
        .arg(cfg)
        .args(["run", "--now", "2026-11-02T12:00:00Z"])
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn a_run_prints_a_line_per_stage_writes_the_reports_and_exits_4_on_a_high_finding() {
    let tmp = tempfile::tempdir().unwrap();
    let db = db_with_a_finding(tmp.path());
    let cfg = config(tmp.path(), "");
    let o = run(&db, &cfg, &["--no-collect"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(4), "{out}");
    for stage in ["collect   ok", "correlate ok", "report    ok", "notify    ok", "run       done"] {
        assert!(out.contains(stage), "missing {stage:?} in\n{out}");
    }
    assert!(out.contains("1 findings at or above high"), "{out}");
    let reports = tmp.path().join("reports");
    for ext in ["html", "json", "csv"] {
        assert!(reports.join(format!("latest.{ext}")).is_file(), "latest.{ext}\n{out}");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(reports.join("latest.json")).unwrap()).unwrap();
    assert_eq!(json["verdicts"][0]["verdict"], "not_enforced", "{json}");
    let stamped = std::fs::read_dir(&reports)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("report-2026"))
        .count();
    assert_eq!(stamped, 3, "one time-stamped file per format");

    // The same finding with the threshold off: success.
    let cfg = config(tmp.path(), "fail_on_severity = \"none\"\n");
    let o = run(&db, &cfg, &["--no-collect"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
}

#[test]
fn a_failed_stage_exits_1_and_the_later_stages_still_run() {
    let tmp = tempfile::tempdir().unwrap();
    let db = db_with_a_finding(tmp.path());
    // An Okta source on a port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(tmp.path().join("token"), "not-a-real-token").unwrap();
    let cfg = config(
        tmp.path(),
        &format!(
            "[collect]\nmax_retries = 1\nretry_initial_ms = 1\nretry_max_ms = 2\n\
             [[collect.okta]]\nname = \"down\"\nurl = \"http://127.0.0.1:{port}\"\ntoken_file = \"{}\"\n",
            tmp.path().join("token").display()
        ),
    );
    let o = run(&db, &cfg, &[]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "a failure outranks the findings code\n{out}");
    assert!(out.contains("collect   FAILED"), "{out}");
    assert!(out.contains("correlate ok") && out.contains("report    ok"), "{out}");
    assert!(!out.contains("not-a-real-token"), "a secret was printed\n{out}");
}

#[test]
fn a_second_run_on_a_locked_database_names_the_holder_and_exits_5() {
    let tmp = tempfile::tempdir().unwrap();
    let db = db_with_a_finding(tmp.path());
    let cfg = config(tmp.path(), "");
    let lock_path = tmp.path().join("tp.db.run-lock");
    std::fs::write(&lock_path, "pid 4242 on build-host, started 2026-11-02T11:59:00Z\n").unwrap();
    let lock = std::fs::OpenOptions::new().read(true).write(true).open(&lock_path).unwrap();
    lock.try_lock().unwrap();
    let o = run(&db, &cfg, &["--no-collect"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(5), "{out}");
    assert!(out.contains("pid 4242 on build-host"), "{out}");
    assert!(!tmp.path().join("reports").exists(), "a locked-out run must do nothing\n{out}");
    drop(lock);
    let o = run(&db, &cfg, &["--no-collect"]);
    assert_eq!(o.status.code(), Some(4), "the lock is free again\n{}", text(&o));
}

#[test]
fn a_dry_run_prints_the_tickets_it_would_send_and_sends_none() {
    let tmp = tempfile::tempdir().unwrap();
    let db = db_with_a_finding(tmp.path());
    // A webhook sink on a port nothing listens on: a real send would fail.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    std::fs::write(tmp.path().join("key"), "webhook-signing-key").unwrap();
    let cfg = config(
        tmp.path(),
        &format!(
            "[[notify]]\nname = \"hook\"\nkind = \"webhook\"\nurl = \"http://127.0.0.1:{port}/h\"\nsecret_file = \"{}\"\n\
             backfill = true\nmax_retries = 0\n",
            tmp.path().join("key").display()
        ),
    );
    let o = run(&db, &cfg, &["--no-collect", "--dry-run"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(4), "{out}");
    assert!(out.contains("hook: would create 444455556666:c2c2c2c2-0000-4000-8000-000000000002"), "{out}");
    assert!(out.contains("notify    ok") && out.contains("dry run: nothing sent"), "{out}");
    // For real, the sink is down: the notify stage fails, the ticket stays queued.
    let o = run(&db, &cfg, &["--no-collect"]);
    let out = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("notify    FAILED") && out.contains("1 left queued"), "{out}");
    assert!(!out.contains("webhook-signing-key"), "{out}");
}
