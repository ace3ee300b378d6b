//! What several of this crate's integration tests share.

use std::path::Path;
use std::process::Command;

/// Whether the bench scripts can run here (python3 and /usr/bin/time). Without them a test says
/// so and skips, unless `TRAILPROOF_REQUIRE_BENCH_TOOLS=1` (set by .ci/run, which installs them):
/// then it fails.
pub fn bench_tools() -> bool {
    let there = Command::new("python3").arg("--version").output().is_ok() && Path::new("/usr/bin/time").exists();
    assert!(
        there || std::env::var("TRAILPROOF_REQUIRE_BENCH_TOOLS").as_deref() != Ok("1"),
        "TRAILPROOF_REQUIRE_BENCH_TOOLS=1 but python3 or /usr/bin/time is missing"
    );
    if !there {
        eprintln!("skipped: the bench script needs python3 and /usr/bin/time");
    }
    there
}
