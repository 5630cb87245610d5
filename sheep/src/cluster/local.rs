//! The `local` cluster driver: several sheep on one machine sharing a
//! directory, no external service.
//!
//! # Format
//!
//! `DIR/events.log` is an append-only log of [`Record`]s, each framed as
//! `len u32 LE | crc32c u32 LE | record`. A record is appended with one
//! `write(2)` on an `O_APPEND` descriptor while holding an exclusive
//! `flock(2)` on `DIR/lock`, so records never interleave and the file order
//! is the cluster's total order. Every node tails the file from the start
//! (polling every [`LocalOptions::poll`], 10 ms by default).
//!
//! `DIR/hb/<member key>` holds the member's last heartbeat (unix time in
//! milliseconds, decimal), rewritten every [`LocalOptions::heartbeat`]
//! (1 s). A member whose heartbeat is older than [`LocalOptions::timeout`]
//! (5 s) is declared left by the oldest member that is itself alive, which
//! appends a `Leave` record. A crashed sheep is therefore seen leaving
//! 5–6 s after its last heartbeat.
//!
//! The default directory, when `-c local` names none, is [`default_dir`]:
//! `STORE_DIR/.cluster`, a cluster of one; sheep that should form a cluster
//! are given one shared directory with `-c local:DIR`.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::driver::{ClusterDriver, DriverError, LogBackend, LogDriver, MemberId, Record};

/// Timings of the local driver.
#[derive(Debug, Clone, Copy)]
pub struct LocalOptions {
    /// How often a member rewrites its heartbeat file.
    pub heartbeat: Duration,
    /// Silence after which a member is declared left.
    pub timeout: Duration,
    /// How often the log is polled for new records.
    pub poll: Duration,
}

impl Default for LocalOptions {
    fn default() -> LocalOptions {
        LocalOptions {
            heartbeat: Duration::from_secs(1),
            timeout: Duration::from_secs(5),
            poll: Duration::from_millis(10),
        }
    }
}

/// The directory `-c local` uses when it names none: `STORE_DIR/.cluster`,
/// i.e. a one-node cluster. Sheep meant to form a cluster name a shared
/// directory (`-c local:/tmp/sheep-cluster`): a default shared by every
/// store under one parent (sheepdog uses one global shm file) would make
/// unrelated sheep on one machine, such as concurrent test runs, join each
/// other.
pub fn default_dir(store_dir: &Path) -> PathBuf {
    store_dir.join(".cluster")
}

/// Creates a local driver on `dir` (created if missing).
///
/// # Errors
///
/// I/O errors creating the directory.
pub fn local_driver(dir: &Path, opts: LocalOptions) -> Result<Box<dyn ClusterDriver>, DriverError> {
    std::fs::create_dir_all(dir.join("hb"))?;
    let backend = LocalBackend {
        dir: dir.to_path_buf(),
        opts,
        heartbeat: Mutex::new(None),
    };
    Ok(Box::new(LogDriver::new("local", backend, opts.heartbeat)))
}

struct LocalBackend {
    dir: PathBuf,
    opts: LocalOptions,
    heartbeat: Mutex<Option<JoinHandle<()>>>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis() as u64
}

fn write_heartbeat(path: &Path) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, now_ms().to_string())?;
    std::fs::rename(tmp, path)
}

fn append_blocking(dir: &Path, rec: &Record) -> std::io::Result<()> {
    let body = rec.encode();
    let mut frame = Vec::with_capacity(body.len() + 8);
    frame.extend_from_slice(&(body.len() as u32).to_le_bytes());
    frame.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
    frame.extend_from_slice(&body);
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join("lock"))?;
    // SAFETY: flock on a descriptor we own; released on close.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("events.log"))?;
    log.write_all(&frame)?;
    drop(lock);
    Ok(())
}

impl LocalBackend {
    fn hb_path(&self, id: &MemberId) -> PathBuf {
        self.dir.join("hb").join(id.key())
    }

    async fn append_rec(&self, rec: Record) -> Result<(), DriverError> {
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || append_blocking(&dir, &rec))
            .await
            .map_err(|e| DriverError::Io(std::io::Error::other(e)))??;
        Ok(())
    }
}

impl LogBackend for LocalBackend {
    fn register(&self, me: MemberId, rec: Record) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(async move {
            let path = self.hb_path(&me);
            write_heartbeat(&path)?;
            let every = self.opts.heartbeat;
            let task = tokio::spawn(async move {
                let mut tick = tokio::time::interval(every);
                loop {
                    tick.tick().await;
                    if let Err(e) = write_heartbeat(&path) {
                        tracing::warn!(error = %e, "writing the heartbeat failed");
                    }
                }
            });
            if let Some(old) = self
                .heartbeat
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .replace(task)
            {
                old.abort();
            }
            self.append_rec(rec).await
        })
    }

    fn append(&self, rec: Record) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(self.append_rec(rec))
    }

    fn unregister(&self, me: MemberId) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(async move {
            self.stop();
            let r = self.append_rec(Record::Leave { id: me }).await;
            let _ = std::fs::remove_file(self.hb_path(&me));
            r
        })
    }

    fn tail(self: Arc<Self>, tx: mpsc::UnboundedSender<Record>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let path = self.dir.join("events.log");
            let mut file: Option<File> = None;
            let mut buf: Vec<u8> = Vec::new();
            let mut off: u64 = 0;
            loop {
                if file.is_none() {
                    file = File::open(&path).ok();
                }
                let mut got = false;
                if let Some(f) = file.as_mut() {
                    let mut chunk = Vec::new();
                    if f.seek(SeekFrom::Start(off)).is_ok() && f.read_to_end(&mut chunk).is_ok() {
                        off += chunk.len() as u64;
                        got = !chunk.is_empty();
                        buf.extend_from_slice(&chunk);
                    }
                }
                // Parse every complete frame.
                let mut pos = 0;
                while buf.len() - pos >= 8 {
                    let len = u32::from_le_bytes(buf[pos..pos + 4].try_into().unwrap()) as usize;
                    let crc = u32::from_le_bytes(buf[pos + 4..pos + 8].try_into().unwrap());
                    if buf.len() - pos - 8 < len {
                        break;
                    }
                    let body = &buf[pos + 8..pos + 8 + len];
                    pos += 8 + len;
                    if crc32c::crc32c(body) != crc {
                        tracing::error!("corrupt record in the local cluster log, skipped");
                        continue;
                    }
                    match Record::decode(body) {
                        Some(r) => {
                            if tx.send(r).is_err() {
                                return;
                            }
                        }
                        None => tracing::error!("undecodable record in the local cluster log"),
                    }
                }
                buf.drain(..pos);
                if !got {
                    tokio::time::sleep(self.opts.poll).await;
                }
            }
        })
    }

    fn dead(&self, ids: &[MemberId]) -> Vec<MemberId> {
        let now = now_ms();
        let limit = self.opts.timeout.as_millis() as u64;
        ids.iter()
            .filter(|id| {
                let last = std::fs::read_to_string(self.hb_path(id))
                    .ok()
                    .and_then(|s| s.trim().parse::<u64>().ok());
                match last {
                    Some(t) => now.saturating_sub(t) > limit,
                    // Not yet written or removed: dead only if it never
                    // shows up; a graceful leaver appended its own Leave.
                    None => true,
                }
            })
            .copied()
            .collect()
    }

    fn stop(&self) {
        if let Some(t) = self
            .heartbeat
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            t.abort();
        }
    }
}
