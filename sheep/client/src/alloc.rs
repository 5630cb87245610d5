//! Allocator tuning shared by the daemon and the dog.

/// Makes freed payload buffers stay in the process for the next request.
///
/// Object payloads are 1–4 MiB buffers, one per request. With glibc's
/// defaults, a freed buffer of that size goes back to the kernel (a
/// chunk above the mmap threshold is unmapped; a heap top above the trim
/// threshold is trimmed), so the next one is page-faulted and zeroed
/// again. Measured on the sheep during a pipelined 256 MiB overwrite (16
/// requests in flight): about 22,000 page faults per write and a fifth of
/// its CPU time; with this tuning, none once warm (one request at a time
/// reuses one buffer and was never affected).
///
/// It fixes the mmap threshold at 32 MiB (glibc's maximum; payloads are at
/// most 32 MiB) and lets each heap keep up to 64 MiB free before trimming.
/// The cost is memory: after a burst, a process keeps what it used, up to
/// that much per heap. Call it first thing in `main`. Other C libraries:
/// does nothing.
pub fn keep_freed_buffers() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters, which glibc reads
    // under its own locks; no memory is touched.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    /// Minor page faults of the calling thread so far.
    fn faults() -> i64 {
        // SAFETY: getrusage fills the struct it is given.
        unsafe {
            let mut u: libc::rusage = std::mem::zeroed();
            assert_eq!(libc::getrusage(libc::RUSAGE_THREAD, &mut u), 0);
            u.ru_minflt
        }
    }

    /// Twelve 4 MiB payloads in flight at once, all freed, then twelve
    /// more: glibc's defaults trim the freed 48 MiB and fault it in again
    /// (about 12,000 faults a round); tuned, the second round reuses it.
    fn round() {
        let bufs: Vec<Vec<u8>> = (0..12).map(|i| vec![i as u8 + 1; 4 << 20]).collect();
        std::hint::black_box(&bufs);
    }

    #[test]
    fn a_burst_of_freed_payloads_is_reused_without_page_faults() {
        keep_freed_buffers();
        round();
        let before = faults();
        for _ in 0..4 {
            round();
        }
        let n = faults() - before;
        assert!(n < 2000, "{n} page faults for buffers freed and reused");
    }
}
