//! How the process's allocator gives memory back.
//!
//! glibc's malloc maps a block of its own for each allocation above a threshold, and unmaps it when
//! it is freed. The threshold starts at 128 KiB, but each time such a block is freed it rises to
//! that block's size, up to 32 MiB. After the first large vectors are freed, the next ones go to
//! the heap instead. There, whatever is allocated above them keeps their pages resident, and each
//! slice of correlation or batch of an import adds more. Fixing the threshold, and the trim of
//! the heap's top, at 128 KiB keeps the peak near what is live. Measured (BENCHMARKS.md, "glibc
//! handing memory back"): a third less peak memory for the Okta and Entra imports, and 3 to 11 %
//! less for correlation (more the larger the day), for 1 to 6 % more CPU on the IdP imports.

/// The mapping and trim thresholds set by [`release_freed_memory_promptly`].
pub const THRESHOLD_BYTES: i32 = 128 * 1024;

/// Whether the user tuned glibc's malloc through the environment (`GLIBC_TUNABLES` with a
/// `glibc.malloc.` tunable, or the older `MALLOC_*_` variables): then it is left as they set it.
pub fn tuned_by_user(var: impl Fn(&str) -> Option<String>) -> bool {
    var("GLIBC_TUNABLES").is_some_and(|t| t.contains("glibc.malloc."))
        || ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "MALLOC_ARENA_MAX"].iter().any(|v| var(v).is_some())
}

/// Asks glibc's malloc to give freed memory back promptly (see the module docs). Call it at the
/// start of the process, before other threads exist. Returns whether it did: not under another
/// C library, nor when the user tuned malloc themselves ([`tuned_by_user`]).
pub fn release_freed_memory_promptly() -> bool {
    if tuned_by_user(|v| std::env::var(v).ok()) {
        return false;
    }
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only sets two of malloc's parameters, under malloc's own lock.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD_BYTES) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, THRESHOLD_BYTES) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_who_tuned_malloc_keeps_their_settings() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert!(!tuned_by_user(env(&[])));
        assert!(!tuned_by_user(env(&[("GLIBC_TUNABLES", "glibc.rtld.optional_static_tls=512")])));
        assert!(tuned_by_user(env(&[("GLIBC_TUNABLES", "glibc.malloc.arena_max=2")])));
        assert!(tuned_by_user(env(&[("MALLOC_TRIM_THRESHOLD_", "0")])));
        assert!(tuned_by_user(env(&[("MALLOC_ARENA_MAX", "1")])));
    }

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn glibc_takes_the_thresholds() {
        // In a test binary nobody tuned malloc (unless the environment says so).
        let expected = !tuned_by_user(|v| std::env::var(v).ok());
        assert_eq!(release_freed_memory_promptly(), expected);
    }
}
