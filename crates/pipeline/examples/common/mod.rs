//! What the pipeline's examples share.

/// The process's peak resident memory (`VmHWM` of /proc/self/status) in KiB; 0 where it is not
/// available.
pub fn vm_hwm_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
