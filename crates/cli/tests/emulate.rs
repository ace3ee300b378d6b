//! `trailproof emulate` serves a simulated directory over the real protocols.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

fn get(addr: &str, path: &str, auth: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: {auth}\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, out)
}

#[test]
fn emulate_serves_simulated_okta_logs_and_refuses_bad_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let sim = tmp.path().join("sim");
    let bin = env!("CARGO_BIN_EXE_trailproof");
    let o = Command::new(bin)
        .args(["--quiet", "simulate", "--users", "50", "--days", "1", "--noise-ratio", "0.5", "--out"])
        .arg(&sim)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut child = Command::new(bin)
        .args(["emulate", "--listen", "127.0.0.1:0", "--data"])
        .arg(&sim)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    // Keep the pipe open while the emulator runs: it prints more lines after the first, and a
    // closed pipe would kill it with SIGPIPE (a race that made this test flaky under load).
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut first).unwrap();
    let addr =
        first.split("http://").nth(1).and_then(|r| r.split_whitespace().next()).expect("address line").to_string();
    let (status, body) = get(
        &addr,
        "/api/v1/logs?limit=5&since=2026-10-31T00:00:00Z&until=2026-11-02T00:00:00Z",
        "SSWS emulator-okta-token",
    );
    let (bad, bad_body) = get(&addr, "/api/v1/logs?limit=5", "SSWS wrong");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"uuid\""), "{body}");
    assert!(body.to_ascii_lowercase().contains("rel=\"next\""), "{body}");
    assert_eq!(bad, 401, "{bad_body}");
    assert!(bad_body.contains("E0000011"), "{bad_body}");
}
