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

/// The system allocator, counting the bytes live and their peak since [`Counting::take_peak`]:
/// what a slice holds while judged, and what it leaves behind (the heap, without the allocator's
/// own overhead that RSS adds). An example opts in with
/// `#[global_allocator] static A: Counting = Counting::new();`.
#[allow(dead_code)]
pub struct Counting {
    live: std::sync::atomic::AtomicUsize,
    peak: std::sync::atomic::AtomicUsize,
}

#[allow(dead_code)]
impl Counting {
    pub const fn new() -> Counting {
        Counting { live: std::sync::atomic::AtomicUsize::new(0), peak: std::sync::atomic::AtomicUsize::new(0) }
    }

    /// Bytes live now.
    pub fn live(&self) -> usize {
        self.live.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The peak since the last call, which starts the next one at what is live now.
    pub fn take_peak(&self) -> usize {
        self.peak.swap(self.live(), std::sync::atomic::Ordering::Relaxed)
    }

    fn grew(&self, by: usize) {
        use std::sync::atomic::Ordering::Relaxed;
        let now = self.live.fetch_add(by, Relaxed) + by;
        self.peak.fetch_max(now, Relaxed);
    }
}

// SAFETY: every call is passed to the system allocator unchanged; only counters are added.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let p = unsafe { std::alloc::System.alloc(layout) };
        if !p.is_null() {
            self.grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { std::alloc::System.dealloc(ptr, layout) };
        self.live.fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract is passed on.
        let p = unsafe { std::alloc::System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                self.grew(new_size - layout.size());
            } else {
                self.live.fetch_sub(layout.size() - new_size, std::sync::atomic::Ordering::Relaxed);
            }
        }
        p
    }
}
