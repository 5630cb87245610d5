//! A bounded cache of open object files.
//!
//! Hot objects are touched by many small (4 KiB) requests; reopening the file
//! for each would cost an `open` + `fstat` + `close` per request. The cache is
//! split in shards, each a small LRU behind its own mutex, so lookups of
//! different objects rarely contend.
//!
//! Coherence with the file system: an entry is inserted only by
//! [`FileCache::get_or_open`] while holding its shard lock, and
//! [`FileCache::remove_with`] evicts and unlinks under the same lock, so the
//! cache never hands out a descriptor of an unlinked object that a later
//! create replaced. Creates never replace an existing name (they rename with
//! `RENAME_NOREPLACE`), so no other operation can make an entry stale. An
//! object's size never changes after creation, so it is cached alongside.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

/// Number of shards (a power of two).
const SHARDS: usize = 16;

/// The shard of `oid`. Fibonacci hashing: the data oids of one VDI differ
/// only in their low bits.
fn shard_index(oid: u64) -> usize {
    (oid.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) as usize % SHARDS
}

/// One cached open object.
#[derive(Clone)]
pub(crate) struct Handle {
    /// The open file (read-write, `O_DSYNC` for a sync store).
    pub(crate) file: Arc<File>,
    /// The object size (fixed for the life of the inode).
    pub(crate) size: u64,
}

struct Entry {
    handle: Handle,
    last_used: u64,
}

#[derive(Default)]
struct Shard {
    map: HashMap<u64, Entry>,
    clock: u64,
}

/// The sharded LRU of open object files.
pub(crate) struct FileCache {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
}

impl FileCache {
    /// A cache holding at most about `capacity` open files.
    pub(crate) fn new(capacity: usize) -> Self {
        FileCache {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(&self, oid: u64) -> MutexGuard<'_, Shard> {
        // A panic while holding the lock cannot leave the map inconsistent.
        crate::sync::lock(&self.shards[shard_index(oid)])
    }

    /// Whether `oid` is currently cached (which implies it exists).
    pub(crate) fn contains(&self, oid: u64) -> bool {
        self.shard(oid).map.contains_key(&oid)
    }

    /// The cached handle of `oid`, or the one `open` returns, which is then
    /// cached (evicting the least recently used entry of the shard if full).
    /// `open` runs under the shard lock.
    pub(crate) fn get_or_open(
        &self,
        oid: u64,
        open: impl FnOnce() -> io::Result<Handle>,
    ) -> io::Result<Handle> {
        let mut shard = self.shard(oid);
        shard.clock += 1;
        let now = shard.clock;
        if let Some(e) = shard.map.get_mut(&oid) {
            e.last_used = now;
            return Ok(e.handle.clone());
        }
        let handle = open()?;
        if shard.map.len() >= self.per_shard {
            if let Some(victim) = shard
                .map
                .iter()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| *k)
            {
                shard.map.remove(&victim);
            }
        }
        shard.map.insert(
            oid,
            Entry {
                handle: handle.clone(),
                last_used: now,
            },
        );
        Ok(handle)
    }

    /// Evicts `oid` and runs `unlink` under the shard lock, so that no
    /// concurrent [`get_or_open`](Self::get_or_open) can cache a descriptor
    /// of the file being removed.
    pub(crate) fn remove_with<T>(&self, oid: u64, unlink: impl FnOnce() -> T) -> T {
        let mut shard = self.shard(oid);
        shard.map.remove(&oid);
        unlink()
    }

    /// Number of cached entries (tests only).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| crate::sync::lock(s).map.len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handle(dir: &std::path::Path) -> io::Result<Handle> {
        Ok(Handle {
            file: Arc::new(File::open(dir)?),
            size: 0,
        })
    }

    #[test]
    fn bounded_and_lru() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new(SHARDS * 2);
        for oid in 0..1000u64 {
            cache.get_or_open(oid, || handle(dir.path())).unwrap();
        }
        assert!(cache.len() <= SHARDS * 2);
        // A hit does not call open.
        let last = 999;
        assert!(cache.contains(last));
        cache.get_or_open(last, || panic!("reopened")).unwrap();
        cache.remove_with(last, || ());
        assert!(!cache.contains(last));
        // Errors are not cached.
        assert!(cache
            .get_or_open(5000, || Err(io::ErrorKind::NotFound.into()))
            .is_err());
        assert!(!cache.contains(5000));
    }

    #[test]
    fn lru_keeps_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let cache = FileCache::new(1); // one entry per shard
        let mut same_shard = (0..u64::MAX).filter(|&o| shard_index(o) == 0);
        let (a, b) = (same_shard.next().unwrap(), same_shard.next().unwrap());
        cache.get_or_open(a, || handle(dir.path())).unwrap();
        cache.get_or_open(b, || handle(dir.path())).unwrap();
        assert!(!cache.contains(a));
        assert!(cache.contains(b));
    }
}
