//! `trailproof prune` as a process (issue 18): killed with SIGKILL at any moment it loses
//! nothing (every verdict and every record a verdict cites stays, the database is sound) and a
//! rerun finishes the job exactly as an uninterrupted prune does; a prune and an import started
//! together both finish and store everything.

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
    let mut c = bin();
    c.arg("--db").arg(db).args(["prune", "--keep-days", "2", "--now", NOW]);
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
    let counts = ["idp_events", "aws_events", "raw_records", "raw_blocks", "coverage", "sso_baseline"]
        .iter()
        .map(|t| c.query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0)).unwrap())
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
    let dir = tempfile::tempdir().unwrap();
    let db = judged_store(dir.path());
    let reference = dir.path().join("ref.db");
    std::fs::copy(&db, &reference).unwrap();
    let before = state(&db);
    ok(&mut prune(&reference));
    let done = state(&reference);
    assert!(done.1[0] < before.1[0] && done.1[2] < before.1[2], "{:?} vs {:?}", done.1, before.1);
    assert_eq!(done.0, before.0);

    let mut killed_midway = 0;
    for ms in [40, 120, 250, 400, 600] {
        let mut child = prune(&db).stdout(std::process::Stdio::null()).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(ms));
        let finished = child.try_wait().unwrap().is_some();
        child.kill().unwrap_or(()); // SIGKILL
        child.wait().unwrap();
        let now = state(&db);
        assert_eq!(now.0, before.0, "verdicts changed after a kill at {ms} ms");
        if !finished && now.1 != done.1 {
            killed_midway += 1;
        }
        if finished || now.1 == done.1 {
            break;
        }
    }
    assert!(killed_midway > 0, "no kill landed inside the prune: the test proved nothing");
    ok(&mut prune(&db));
    assert_eq!(state(&db), done);
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
