//! The local object store.
//!
//! Every sheep keeps the objects it is responsible for in a local
//! [`ObjectStore`]. Objects are named by their 64-bit oid (see
//! docs/sheepdog-facts.md §10) and have a fixed size chosen by the caller when the object
//! is created (4 MiB for data objects by default, 12,587,576 bytes for inodes,
//! and so on). The store itself does not interpret oids.
//!
//! The API is synchronous: the daemon calls it from
//! `tokio::task::spawn_blocking`. The only implementation today is
//! [`PlainStore`], which keeps one file per object.
//!
//! # Durability
//!
//! Unless the store is opened with [`StoreOptions::sync`] set to `false` (the
//! daemon's `-n` flag), every mutating call returns only once its effect is
//! durable:
//!
//! * object creation writes a temp file, fsyncs it, renames it into place and
//!   fsyncs the directory, so a crash never exposes a half-created object;
//! * writes to existing objects go through file descriptors opened with
//!   `O_DSYNC`, so each `pwrite` is durable when it returns;
//! * removals and discards are synced before returning.
//!
//! The small [`write_file_atomic`] / [`read_file_opt`] helpers give the
//! daemon the same guarantees for its own metadata files (epoch logs, config).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use crate::proto::SdResult;
use std::sync::atomic::{AtomicU64, Ordering};

mod cache;
mod plain;

pub use plain::{PlainStore, USED_SCAN_MAX_AGE};

/// Result type of every [`ObjectStore`] operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Errors returned by an [`ObjectStore`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The object does not exist (for a copy-on-write create: the source
    /// object does not exist).
    #[error("object {0:016x} does not exist")]
    NoObj(u64),
    /// The object already exists where the operation needed it to be absent.
    ///
    /// [`ObjectStore::create_and_write`] never returns this: a create of an
    /// existing object is a plain write, so that retried creates succeed.
    #[error("object {0:016x} already exists")]
    Exists(u64),
    /// The range `offset..offset + len` does not fit inside the object.
    #[error("range {offset}+{len} is out of bounds for object {oid:016x} of size {size}")]
    OutOfRange {
        /// The object.
        oid: u64,
        /// Start of the requested range.
        offset: u64,
        /// Length of the requested range.
        len: u64,
        /// Size of the object.
        size: u64,
    },
    /// The file system is full (`ENOSPC`) or a quota is exhausted (`EDQUOT`).
    #[error("no space left in the object store")]
    NoSpace,
    /// Any other I/O error.
    #[error("object store I/O error: {0}")]
    Io(io::Error),
}

impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        match e.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EDQUOT) => StoreError::NoSpace,
            _ => StoreError::Io(e),
        }
    }
}

/// Options for opening a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Make every mutation durable before it returns (the default).
    ///
    /// `false` corresponds to the daemon's `-n` flag: writes land in the page
    /// cache only and a crash may lose them. Benchmarks only.
    pub sync: bool,
}

impl Default for StoreOptions {
    /// `sync: true`.
    fn default() -> Self {
        StoreOptions { sync: true }
    }
}

pub use sheep_client::payload::FileRange;

/// A local store of fixed-size objects named by 64-bit oids.
///
/// All methods are synchronous and may block on disk I/O; async callers must
/// use `tokio::task::spawn_blocking`. Implementations are safe to call
/// concurrently; I/O on different ranges of the same object does not
/// serialize. Concurrent overlapping writes to the same range, or I/O racing
/// with a [`remove`](ObjectStore::remove) of the same object, have no defined
/// order (the cluster layer serializes those).
pub trait ObjectStore: Send + Sync + 'static {
    /// Creates object `oid` of `full_size` bytes and writes `data` at
    /// `offset` into it.
    ///
    /// The new object is zero-filled, or with `cow_from = Some(src)` a copy of
    /// object `src` (truncated or zero-extended to `full_size`). Creation is
    /// atomic: after a crash the object either does not exist or exists with
    /// its full initial contents. If `oid` already exists the call acts as
    /// [`write`](ObjectStore::write), so a retried create neither fails nor
    /// wipes data written since.
    ///
    /// # Errors
    ///
    /// * [`StoreError::OutOfRange`] if `offset + data.len() > full_size` (or,
    ///   for an existing object, exceeds its size);
    /// * [`StoreError::NoObj`] with the source oid if `cow_from` names a
    ///   missing object;
    /// * [`StoreError::NoSpace`] / [`StoreError::Io`] on I/O failure.
    fn create_and_write(
        &self,
        oid: u64,
        full_size: usize,
        offset: u64,
        data: &[u8],
        cow_from: Option<u64>,
    ) -> Result<()>;

    /// Writes `data` at `offset` into the existing object `oid`.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoObj`] if the object does not exist,
    /// [`StoreError::OutOfRange`] if `offset + data.len()` exceeds its size,
    /// [`StoreError::NoSpace`] / [`StoreError::Io`] on I/O failure.
    fn write(&self, oid: u64, offset: u64, data: &[u8]) -> Result<()>;

    /// Reads `len` bytes at `offset` from object `oid`.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoObj`] if the object does not exist,
    /// [`StoreError::OutOfRange`] if `offset + len` exceeds its size (nothing
    /// is ever read past the end), [`StoreError::Io`] on I/O failure.
    fn read(&self, oid: u64, offset: u64, len: usize) -> Result<Vec<u8>> {
        let mut buf = vec![0; len];
        self.read_into(oid, offset, &mut buf)?;
        Ok(buf)
    }

    /// The bytes at `offset..offset + len` of object `oid` as a range of an
    /// open file, for sending them without copying them through user space
    /// (`sendfile(2)`). `Ok(None)` when the store keeps no such file; the
    /// caller then uses [`read`](ObjectStore::read).
    ///
    /// The range reads what the file holds when it is sent: a write to the
    /// same range that lands before then shows through, as with any read
    /// racing a write.
    ///
    /// # Errors
    ///
    /// As [`read`](ObjectStore::read) (range checked here).
    fn read_range(&self, oid: u64, offset: u64, len: usize) -> Result<Option<FileRange>> {
        let _ = (oid, offset, len);
        Ok(None)
    }

    /// Fills `buf` with the bytes at `offset` of object `oid`.
    ///
    /// # Errors
    ///
    /// As [`read`](ObjectStore::read).
    fn read_into(&self, oid: u64, offset: u64, buf: &mut [u8]) -> Result<()>;

    /// Removes object `oid`.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoObj`] if the object does not exist,
    /// [`StoreError::Io`] on I/O failure.
    fn remove(&self, oid: u64) -> Result<()>;

    /// Discards (zeroes) `len` bytes at `offset` of object `oid`, releasing
    /// the disk space where the file system allows it. The object keeps its
    /// size.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoObj`] if the object does not exist,
    /// [`StoreError::OutOfRange`] if the range exceeds its size,
    /// [`StoreError::NoSpace`] / [`StoreError::Io`] on I/O failure.
    fn discard(&self, oid: u64, offset: u64, len: u64) -> Result<()>;

    /// Whether object `oid` exists.
    fn exists(&self, oid: u64) -> bool;

    /// The size of object `oid` in bytes.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoObj`] if the object does not exist,
    /// [`StoreError::Io`] on I/O failure.
    fn size(&self, oid: u64) -> Result<u64>;

    /// The oids of all objects in the store, sorted ascending.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if the store cannot be listed.
    fn list(&self) -> Result<Vec<u64>>;

    /// The SHA-1 of the whole content of object `oid`.
    ///
    /// # Errors
    ///
    /// [`StoreError::NoObj`] if the object does not exist,
    /// [`StoreError::Io`] on I/O failure.
    fn sha1(&self, oid: u64) -> Result<[u8; 20]>;

    /// Makes everything written so far durable.
    ///
    /// A no-op for a store opened with `sync: true`, where every write is
    /// already durable when it returns.
    ///
    /// # Errors
    ///
    /// [`StoreError::Io`] if syncing fails.
    fn flush(&self) -> Result<()>;

    /// `(used_bytes, capacity_bytes)`: the disk space taken by the objects,
    /// and the space the store may grow to (used plus what is still free on
    /// the file system, as sheepdog reports it).
    ///
    /// This never fails: a component that cannot be determined is reported
    /// as 0 (and logged). Finding the used figure can mean a stat per
    /// object ([`PlainStore`] reuses its last scan while no object changed,
    /// for up to [`USED_SCAN_MAX_AGE`]); call it off the async runtime.
    fn stats(&self) -> (u64, u64);
}

/// Prefix of every temp file created by this module. Files with this prefix
/// are garbage from an interrupted operation and may be deleted at startup.
pub const TEMP_PREFIX: &str = ".tmp-";

/// Counter making temp file names unique within the process.
static TEMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// A fresh temp file name (no directory) with the given tag.
fn temp_name(tag: &str) -> String {
    let n = TEMP_SEQ.fetch_add(1, Ordering::Relaxed);
    format!("{TEMP_PREFIX}{tag}-{}-{n}", std::process::id())
}

/// Fsyncs a directory so that renames / creations / unlinks in it are
/// durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Deletes a temp file when dropped, unless [`TempGuard::disarm`]ed.
struct TempGuard<'a> {
    path: &'a Path,
    armed: bool,
}

impl<'a> TempGuard<'a> {
    fn new(path: &'a Path) -> Self {
        TempGuard { path, armed: true }
    }

    fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for TempGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = fs::remove_file(self.path);
        }
    }
}

/// Durably replaces the file at `path` with `bytes`.
///
/// Writes a temp file in the same directory, fsyncs it, renames it over
/// `path` and fsyncs the directory: after a crash `path` holds either the
/// old or the new content, never a mix. Leftover temp files (named with
/// [`TEMP_PREFIX`]) can be cleaned with [`remove_temp_files`].
///
/// # Errors
///
/// Any I/O error from creating, writing, syncing or renaming; `path` is left
/// untouched in that case.
pub fn write_file_atomic(path: impl AsRef<Path>, bytes: &[u8]) -> io::Result<()> {
    let path = path.as_ref();
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no file name", path.display()),
        )
    })?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let tmp = dir.join(temp_name(&name.to_string_lossy()));
    let mut guard = TempGuard::new(&tmp);
    let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)?;
    guard.disarm();
    sync_dir(dir)
}

/// Reads the whole file at `path`, or `None` if it does not exist.
///
/// # Errors
///
/// Any I/O error other than "not found".
pub fn read_file_opt(path: impl AsRef<Path>) -> io::Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Deletes the temp files (names starting with [`TEMP_PREFIX`]) left in
/// `dir` by operations interrupted by a crash, returning how many were
/// removed. Call it at startup only, never while writers may be active.
///
/// # Errors
///
/// Any I/O error listing the directory or deleting a file.
pub fn remove_temp_files(dir: impl AsRef<Path>) -> io::Result<usize> {
    let mut n = 0;
    for ent in fs::read_dir(dir)? {
        let ent = ent?;
        if ent
            .file_name()
            .as_encoded_bytes()
            .starts_with(TEMP_PREFIX.as_bytes())
        {
            match fs::remove_file(ent.path()) {
                Ok(()) => n += 1,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(n)
}

impl StoreError {
    /// The sheepdog result a store failure answers.
    pub fn result(&self) -> SdResult {
        match self {
            StoreError::NoObj(_) => SdResult::NoObj,
            StoreError::Exists(_) => SdResult::VdiExist,
            StoreError::OutOfRange { .. } => SdResult::InvalidParms,
            StoreError::NoSpace => SdResult::NoSpace,
            StoreError::Io(_) => SdResult::Eio,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_file_roundtrip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("config");
        assert_eq!(read_file_opt(&p).unwrap(), None);
        write_file_atomic(&p, b"one").unwrap();
        assert_eq!(read_file_opt(&p).unwrap().as_deref(), Some(&b"one"[..]));
        write_file_atomic(&p, b"second version").unwrap();
        assert_eq!(
            read_file_opt(&p).unwrap().as_deref(),
            Some(&b"second version"[..])
        );
        // No temp files left behind.
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["config"]);
    }

    #[test]
    fn atomic_write_into_missing_dir_fails_cleanly() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nope").join("config");
        assert!(write_file_atomic(&p, b"x").is_err());
        assert!(write_file_atomic(dir.path().join(".."), b"x").is_err());
    }

    #[test]
    fn remove_temp_files_only_touches_temps() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(format!("{TEMP_PREFIX}a-1-2")), b"x").unwrap();
        fs::write(dir.path().join("keep"), b"x").unwrap();
        assert_eq!(remove_temp_files(dir.path()).unwrap(), 1);
        assert!(dir.path().join("keep").exists());
        assert_eq!(remove_temp_files(dir.path()).unwrap(), 0);
    }

    #[test]
    fn enospc_maps_to_nospace() {
        let e: StoreError = io::Error::from_raw_os_error(libc::ENOSPC).into();
        assert!(matches!(e, StoreError::NoSpace));
        let e: StoreError = io::Error::from_raw_os_error(libc::EIO).into();
        assert!(matches!(e, StoreError::Io(_)));
    }
}
