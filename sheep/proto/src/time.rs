//! sheepdog's timestamps: seconds since the Unix epoch, and the inode
//! `ctime` encoding `sec << 32 | nsec`.

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The current time in sheepdog's ctime encoding: `sec << 32 | nsec`.
pub fn now_ctime() -> u64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() << 32) | u64::from(d.subsec_nanos())
}
