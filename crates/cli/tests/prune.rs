//! `trailproof prune` as a process (issue 18): killed with SIGKILL at any moment it loses
//! nothing (every verdict and every record a verdict cites stays, the database is sound) and a
//! rerun finishes the job exactly as an uninterrupted prune does; the same when it also removes
//! old verdicts (only whole verdicts go, never what a kept one cites); a prune and an import
//! started together both finish and store everything.

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use trailproof_store::Store;

const NOW: &str = "2026-11-07T00:00:00Z";

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_trailproof"))
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A simulated organisation's five days imported and judged; returns the database.
fn judged_store(dir: &Path) -> std::path::PathBuf {
    let sim = dir.join("sim");
    ok(bin().args(["simulate", "--seed", "5", "--users", "200", "--days", "5", "--out"]).arg(&sim));
    let db = dir.join("tp.db");
    for (source, sub) in
        [("cloudtrail", "AWSLogs"), ("okta", "okta"), ("entra", "entra"), ("google", "google"), ("adfs", "adfs")]
    {
        ok(bin().arg("--db").arg(&db).args(["import", source]).arg(sim.join(sub)));
    }
    ok(bin().arg("--db").arg(&db).arg("--config").arg(sim.join("org.toml")).args(["correlate", "--now", NOW]));
    db
}

fn prune(db: &Path) -> Command {
    prune_with(db, &[])
}

fn prune_with(db: &Path, more: &[&str]) -> Command {
    let mut c = bin();
    c.arg("--db").arg(db).args(["prune", "--keep-days", "2", "--now", NOW]).args(more);
    c
}

/// Verdict records by session, and what the store holds, per table.
fn state(db: &Path) -> (Vec<(String, String)>, Vec<i64>) {
    let s = Store::open(db).unwrap();
    let c = s.conn();
    let ok: String = c.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap();
    assert_eq!(ok, "ok");
    let verdicts = c
        .prepare("SELECT console_login_event_id, record FROM verdicts ORDER BY 1")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<Vec<(String, String)>, _>>()
        .unwrap();
    let counts = [
        "count(*) FROM idp_events",
        "coalesce(sum(events), 0) FROM sso_blocks",
        "count(*) FROM aws_events",
        "count(*) FROM raw_records",
        "count(*) FROM raw_blocks",
        "count(*) FROM coverage",
        "count(*) FROM sso_baseline",
    ]
    .iter()
    .map(|q| c.query_row(&format!("SELECT {q}"), [], |r| r.get(0)).unwrap())
    .collect();
    // Every record a verdict cites reads back.
    for v in s.verdicts(i64::MIN, i64::MAX).unwrap() {
        for e in &v.evidence {
            let native = e.id.rsplit_once('#').map_or(e.id.as_str(), |(n, _)| n);
            assert!(
                s.raw_record(e.source, native).unwrap().is_some(),
                "{} cited by {}",
                e.id,
                v.console_login_event_id
            );
        }
    }
    (verdicts, counts)
}

#[test]
fn sigkill_during_prune_loses_nothing_and_a_rerun_finishes() {
    sigkill_then_rerun(&[]);
}

/// The same with verdicts removed too (sessions before 2026-11-04): after any kill, each
/// verdict is there as it was or gone, and a rerun ends where an uninterrupted prune does.
#[test]
fn sigkill_during_a_prune_of_verdicts_loses_nothing_and_a_rerun_finishes() {
    sigkill_then_rerun(&["--keep-verdict-days", "3"]);
}

fn sigkill_then_rerun(more: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let db = judged_store(dir.path());
    let reference = dir.path().join("ref.db");
    std::fs::copy(&db, &reference).unwrap();
    let before = state(&db);
    let said = ok(&mut prune_with(&reference, more));
    let done = state(&reference);
    assert!(done.1[0] < before.1[0] && done.1[2] < before.1[2], "{:?} vs {:?}", done.1, before.1);
    if more.is_empty() {
        assert_eq!(done.0, before.0);
        assert!(!said.contains("verdicts of sessions before"), "{said}");
    } else {
        assert!(
            !done.0.is_empty() && done.0.len() < before.0.len(),
            "{} of {} verdicts kept",
            done.0.len(),
            before.0.len()
        );
        assert!(done.0.iter().all(|v| before.0.contains(v)), "a kept verdict changed");
        let removed = before.0.len() - done.0.len();
        assert!(
            said.contains(&format!(
                "removed the verdicts of sessions before 2026-11-04T00:00:00Z: {removed} verdict(s)"
            )),
            "{said}"
        );
        // `lookup` of a removed session says why it has no verdict.
        let (gone, _) = before.0.iter().find(|v| !done.0.contains(v)).unwrap();
        let out = bin().arg("--db").arg(&reference).args(["lookup", gone]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains("before 2026-11-04T00:00:00Z were removed by retention"),
            "{err}"
        );
        // `status` says where retention stands; `report` notes what it no longer holds.
        let status: serde_json::Value =
            serde_json::from_str(&ok(bin().arg("--db").arg(&reference).args(["status", "--format", "json"]))).unwrap();
        assert_eq!(status["retention"]["verdicts_removed_before"], "2026-11-04T00:00:00Z", "{status}");
        assert_eq!(status["retention"]["sealed_before"], "2026-11-05T00:00:00Z", "{status}");
        let out = bin().arg("--db").arg(&reference).args(["report", "--format", "json"]).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && err.contains("sessions before 2026-11-04T00:00:00Z were removed by retention"),
            "{err}"
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["verdicts"].as_array().map(Vec::len), Some(done.0.len()));
    }

    let mut killed_midway = 0;
    for ms in [40, 120, 250, 400, 600] {
        let mut child = prune_with(&db, more).stdout(std::process::Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().unwrap_or(()); // SIGKILL
        child.wait().unwrap();
        let now = state(&db);
        // Every verdict the finished prune keeps is there, as it was; any other is as before or gone.
        assert!(done.0.iter().all(|v| now.0.contains(v)), "a kept verdict is gone after a kill at {ms} ms");
        assert!(now.0.iter().all(|v| before.0.contains(v)), "a verdict changed after a kill at {ms} ms");
        if !finished && now.1 != done.1 {
            killed_midway += 1;
        }
        if finished || now.1 == done.1 {
            break;
        }
    }
    assert!(killed_midway > 0, "no kill landed inside the prune: the test proved nothing");
    ok(&mut prune_with(&db, more));
    assert_eq!(state(&db), done);
}

/// Verdicts kept fewer days than the records is refused, saying what to do, and changes nothing.
#[test]
fn verdicts_kept_fewer_days_than_the_records_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("tp.db");
    trailproof_store::Store::open(&db).unwrap();
    let out = prune_with(&db, &["--keep-verdict-days", "1"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fewer than the 2 days of records kept") && err.contains("at least 2 days"), "{err}");
    let cfg = dir.path().join("tp.toml");
    std::fs::write(&cfg, "[retention]\nenabled = true\nkeep_days = 30\nverdict_keep_days = 7\n").unwrap();
    let out = bin().arg("--db").arg(&db).arg("--config").arg(&cfg).arg("prune").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[retention]: verdicts would be kept 7 days") && err.contains("tp.toml"), "{err}");
}

#[test]
fn prune_and_an_import_started_together_both_finish() {
    let dir = tempfile::tempdir().unwrap();
    let db = judged_store(dir.path());
    // A second organisation's Okta logs of the last two days (other ids; inside the window, so
    // the prune removes none of them), imported while the prune runs.
    let other = dir.path().join("other");
    ok(bin().args(["simulate", "--seed", "6", "--users", "200", "--days", "5", "--out"]).arg(&other));
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(other.join("okta"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("-20261104-") || p.to_string_lossy().contains("-20261105-"))
        .collect();
    assert!(!files.is_empty());
    let import = || {
        let mut c = bin();
        c.arg("--db").arg(&db).args(["import", "okta"]).args(&files);
        c
    };
    let before = state(&db);
    let a = prune(&db).spawn().unwrap();
    let b = import().spawn().unwrap();
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success(), "{a:?} {b:?}");
    let after = state(&db);
    assert_eq!(after.0, before.0);
    assert!(after.1[0] < before.1[0], "nothing was pruned: {:?} vs {:?}", after.1, before.1);
    // Importing the same files again stores nothing: the concurrent import stored them all.
    ok(&mut import());
    assert_eq!(state(&db).1[2], after.1[2], "a second import of the same files stored records");
}
