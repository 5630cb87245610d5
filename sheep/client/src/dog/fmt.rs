//! Output helpers: the C dog's human sizes and dates.

/// `size_to_str` of the C dog: MB and up, one decimal below 10.
pub(crate) fn size(bytes: u64, raw: bool) -> String {
    if raw {
        return bytes.to_string();
    }
    const UNITS: [&str; 7] = ["MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    let mut s = bytes as f64 / (1024.0 * 1024.0);
    let mut i = 0;
    while i < UNITS.len() - 1 && s >= 1024.0 {
        i += 1;
        s /= 1024.0;
    }
    if s >= 10.0 {
        format!("{s:.0} {}", UNITS[i])
    } else {
        format!("{s:.1} {}", UNITS[i])
    }
}

/// Local time of a unix timestamp with a strftime pattern.
pub(crate) fn time(secs: u64, pat: &str) -> String {
    let t = secs as libc::time_t;
    // SAFETY: localtime_r and strftime only write into the buffers given.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return secs.to_string();
        }
        let mut buf = [0u8; 64];
        let Ok(p) = std::ffi::CString::new(pat) else {
            return secs.to_string();
        };
        let n = libc::strftime(buf.as_mut_ptr().cast(), buf.len(), p.as_ptr(), &tm);
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes() {
        assert_eq!(super::size(4 << 20, false), "4.0 MB");
        assert_eq!(super::size(64 << 20, false), "64 MB");
        assert_eq!(super::size(80 << 30, false), "80 GB");
        assert_eq!(super::size(12, true), "12");
    }
}
