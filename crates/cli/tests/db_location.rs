//! `--db` names a SQLite file. A database server's URL is refused up front, with its password
//! masked, and nothing is created on disk (before, `postgres://user:secret@host/db` was taken for
//! a file name, and the error message repeated the password).

use std::process::Command;

#[test]
fn a_database_url_is_refused_without_showing_its_password() {
    let dir = tempfile::tempdir().unwrap();
    for (how, url) in [
        ("flag", "postgres://alice:hunter2@db.internal/tp"),
        ("env", "postgresql:///trailproof?host=/run/postgresql&password=hunter2"),
        ("flag", "mysql://alice:hunter2@db/tp"),
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trailproof"));
        cmd.current_dir(dir.path()).env_remove("TRAILPROOF_DB");
        match how {
            "flag" => cmd.args(["--db", url]),
            _ => cmd.env("TRAILPROOF_DB", url),
        };
        let o = cmd.args(["import", "okta", "-"]).output().unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{url}: {err}");
        assert!(err.contains("***") && err.contains("--db"), "{url}: {err}");
        assert!(!err.contains("hunter2") && !String::from_utf8_lossy(&o.stdout).contains("hunter2"), "{err}");
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "{url}: something was created");
    }
}
