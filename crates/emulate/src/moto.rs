//! S3 is not emulated here: tests use moto's S3 server through `scripts/moto-s3.sh`.
//!
//! Setup (once; CI does it in `.ci/run`): `crates/emulate/scripts/moto-s3.sh install` creates
//! a venv with `moto[server]` under `target/moto-venv` (needs python3 with `venv` and PyPI).
//!
//! A test that needs S3 starts with
//! ```no_run
//! if !trailproof_emulate::moto::require_or_skip("my_s3_test") {
//!     return; // prints "SKIP my_s3_test: moto is not installed ..." on stderr
//! }
//! let moto = trailproof_emulate::moto::MotoS3::start().unwrap();
//! moto.upload(std::path::Path::new("sim"), "trail-bucket", Some("org")).unwrap();
//! // S3 client: endpoint moto.endpoint(), region us-east-1, path-style, any static credentials.
//! ```
//! With `TRAILPROOF_REQUIRE_MOTO=1` in the environment a missing moto fails the test instead
//! of skipping it, so CI cannot pass by skipping.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::EmulateError;

/// `crates/emulate/scripts/moto-s3.sh`.
pub fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts").join("moto-s3.sh")
}

/// Where the script keeps its venv (same rule as the script).
pub fn venv_dir() -> PathBuf {
    if let Some(v) = std::env::var_os("TRAILPROOF_MOTO_VENV") {
        return PathBuf::from(v);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..").join("target"));
    target.join("moto-venv")
}

/// True when the venv holds a `moto_server` (the script's `install` has run).
pub fn moto_available() -> bool {
    venv_dir().join("bin").join("moto_server").is_file()
}

/// Why moto cannot be used, or `None` when it can.
pub fn unavailable_reason() -> Option<String> {
    if moto_available() {
        return None;
    }
    Some(format!(
        "moto is not installed at {}; run `bash {} install` (needs python3 with venv and access to PyPI)",
        venv_dir().display(),
        script().display()
    ))
}

/// For tests: true when moto is usable; otherwise prints a SKIP line and returns false, or
/// panics when `TRAILPROOF_REQUIRE_MOTO=1`.
pub fn require_or_skip(test: &str) -> bool {
    match unavailable_reason() {
        None => true,
        Some(why) if std::env::var("TRAILPROOF_REQUIRE_MOTO").is_ok_and(|v| v == "1") => {
            panic!("{test}: TRAILPROOF_REQUIRE_MOTO=1 but {why}")
        }
        Some(why) => {
            eprintln!("SKIP {test}: {why}");
            false
        }
    }
}

/// A moto S3 server on a free loopback port; killed on drop.
pub struct MotoS3 {
    port: u16,
    child: Child,
}

fn free_port() -> Result<u16, EmulateError> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| EmulateError::Moto(format!("no free port: {e}")))?;
    l.local_addr().map(|a| a.port()).map_err(|e| EmulateError::Moto(format!("no free port: {e}")))
}

fn answers_http(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 8];
    matches!(s.read(&mut buf), Ok(n) if n >= 5 && buf.starts_with(b"HTTP/"))
}

impl MotoS3 {
    /// Starts `moto_server` (via the script's `run`) and waits until it answers (30 s at most).
    pub fn start() -> Result<MotoS3, EmulateError> {
        if let Some(why) = unavailable_reason() {
            return Err(EmulateError::Moto(why));
        }
        let port = free_port()?;
        let child = Command::new("bash")
            .arg(script())
            .arg("run")
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| EmulateError::Moto(format!("cannot run {}: {e}", script().display())))?;
        let mut m = MotoS3 { port, child };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = m.child.try_wait() {
                return Err(EmulateError::Moto(format!("moto_server exited early: {status}")));
            }
            if answers_http(port) {
                return Ok(m);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = m.child.kill();
        Err(EmulateError::Moto(format!("moto_server on port {port} did not answer within 30 s")))
    }

    /// `http://127.0.0.1:PORT`
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates `bucket` and uploads `data/AWSLogs/**` as `[prefix/]AWSLogs/**`.
    pub fn upload(&self, data: &Path, bucket: &str, prefix: Option<&str>) -> Result<(), EmulateError> {
        let mut cmd = Command::new("bash");
        cmd.arg(script()).arg("upload").arg(self.port.to_string()).arg(data).arg(bucket);
        if let Some(p) = prefix {
            cmd.arg(p);
        }
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|e| EmulateError::Moto(format!("cannot run {}: {e}", script().display())))?;
        if !out.status.success() {
            return Err(EmulateError::Moto(format!(
                "upload failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        Ok(())
    }
}

impl Drop for MotoS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
