//! The `local` cluster driver: several sheep on one machine sharing a
//! directory, no external service.
//!
//! # Format
//!
//! `DIR/events.log` is an append-only log of [`Record`]s, each in a
//! [`LogFrame`] (`len u32 LE | crc32c u32 LE | record`). A record is appended with one
//! `write(2)` on an `O_APPEND` descriptor while holding an exclusive
//! `flock(2)` on `DIR/lock`, so records never interleave and the file order
//! is the cluster's total order. Every node tails the file from the start
//! (polling every [`LocalOptions::poll`], 10 ms by default).
//!
//! Liveness, judged by the oldest member that is itself alive, which
//! appends a `Leave` record for a member that is gone:
//!
//! * `DIR/hb/<member key>.lock` is held with an exclusive `flock(2)` by the
//!   member for its whole life. The kernel releases it when the process
//!   ends, however it ends, so a member whose lock can be taken is gone: a
//!   crashed or killed sheep is seen leaving at the next liveness check
//!   (about a second), and a sheep that is merely slow (a loaded machine,
//!   a runtime busy for seconds, a journal stalled behind other fsyncs) is
//!   never taken for dead. (Sheepdog's C local driver likewise asks
//!   whether the member's process exists.)
//! * `DIR/hb/<member key>` holds the member's last heartbeat (unix time in
//!   milliseconds, decimal), rewritten every [`LocalOptions::heartbeat`]
//!   (1 s) from a thread of its own. A member that holds its lock but has
//!   not written a heartbeat for [`LocalOptions::timeout`] (30 s) is hung
//!   (stopped, deadlocked) and declared left; so is a member without a
//!   lock file whose heartbeat is that old.
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

use bytes::Bytes;
use futures::future::BoxFuture;
use sdwire::Wire;
use tokio::sync::mpsc;

use super::driver::{ClusterDriver, DriverError, LogBackend, LogDriver, MemberId, Record};
use crate::proto::cluster::LogFrame;
use crate::proto::CLUSTER_VERSION;

/// Timings of the local driver.
#[derive(Debug, Clone, Copy)]
pub struct LocalOptions {
    /// How often a member rewrites its heartbeat file.
    pub heartbeat: Duration,
    /// Heartbeat silence after which a member is declared left even though
    /// its process still holds its liveness lock (a hung process).
    pub timeout: Duration,
    /// How often the log is polled for new records.
    pub poll: Duration,
}

impl Default for LocalOptions {
    fn default() -> LocalOptions {
        LocalOptions {
            heartbeat: Duration::from_secs(1),
            timeout: Duration::from_secs(30),
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
        alive: Mutex::new(None),
    };
    Ok(Box::new(LogDriver::new("local", backend, opts.heartbeat)))
}

struct LocalBackend {
    dir: PathBuf,
    opts: LocalOptions,
    /// The heartbeat thread and its stop signal (dropping the sender stops
    /// it).
    heartbeat: Mutex<Option<(std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>)>>,
    /// This member's liveness lock (held while the file is open).
    alive: Mutex<Option<File>>,
}

/// Takes an exclusive `flock` on `f` without waiting; false if another
/// open file holds one.
fn try_lock(f: &File) -> std::io::Result<bool> {
    // SAFETY: flock on a descriptor we own.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
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

/// The bytes `rec` takes in `events.log`: a [`LogFrame`] around it.
pub fn frame(rec: &Record) -> Vec<u8> {
    let f = LogFrame::new(Bytes::from(rec.encode()));
    // The record is bounded by MAX_RECORD_MSG (see Record::encode).
    sdwire::to_vec(&f, CLUSTER_VERSION).expect("a record frames")
}

/// What [`next_frame`] found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Framed {
    /// A record, and the bytes its frame took.
    Record(Record, usize),
    /// A frame whose CRC or record is bad (logged), and the bytes it took.
    Skipped(usize),
    /// Not a whole frame yet.
    Partial,
    /// A frame header that no writer produces (length above the limit):
    /// the log cannot be read past it. Says what is wrong.
    Corrupt(String),
}

/// Reads the frame at the start of `buf`.
pub fn next_frame(buf: &[u8]) -> Framed {
    let mut rest = buf;
    let f = match LogFrame::decode(&mut rest, CLUSTER_VERSION) {
        Ok(f) => f,
        Err(e) if matches!(e.kind(), sdwire::DecodeErrorKind::Truncated { .. }) => {
            return Framed::Partial
        }
        Err(e) => return Framed::Corrupt(e.to_string()),
    };
    let used = buf.len() - rest.len();
    if !f.crc_ok() {
        tracing::error!("corrupt record in the local cluster log, skipped");
        return Framed::Skipped(used);
    }
    match Record::try_decode(&f.body) {
        Ok(r) => Framed::Record(r, used),
        Err(e) => {
            tracing::error!(error = %e, "undecodable record in the local cluster log");
            Framed::Skipped(used)
        }
    }
}

fn append_blocking(dir: &Path, rec: &Record) -> std::io::Result<()> {
    let frame = frame(rec);
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
    /// Stops the heartbeat thread but keeps the lock (a hung process).
    #[cfg(test)]
    fn stop_heartbeat_for_test(&self) {
        let hb = crate::sync::lock(&self.heartbeat).take();
        if let Some((stop, thread)) = hb {
            drop(stop);
            // Any write it was doing is done once it has ended.
            thread.join().unwrap();
        }
    }

    fn lock_path(&self, id: &MemberId) -> PathBuf {
        self.dir.join("hb").join(format!("{}.lock", id.key()))
    }

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
            let lock = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(self.lock_path(&me))?;
            if !try_lock(&lock)? {
                return Err(DriverError::Io(std::io::Error::other(format!(
                    "member {} is already alive",
                    me.key()
                ))));
            }
            *crate::sync::lock(&self.alive) = Some(lock);
            let path = self.hb_path(&me);
            write_heartbeat(&path)?;
            // On a thread, not a runtime task: a runtime kept busy must not
            // silence the heartbeat.
            let every = self.opts.heartbeat;
            let (stop, stopped) = std::sync::mpsc::channel::<()>();
            let thread = std::thread::Builder::new()
                .name("sheep-heartbeat".into())
                .spawn(move || {
                    while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                        stopped.recv_timeout(every)
                    {
                        if let Err(e) = write_heartbeat(&path) {
                            tracing::warn!(error = %e, "writing the heartbeat failed");
                        }
                    }
                })?;
            // Replacing an older heartbeat drops its sender: it stops.
            *crate::sync::lock(&self.heartbeat) = Some((stop, thread));
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
            let _ = std::fs::remove_file(self.lock_path(&me));
            r
        })
    }

    fn tail(self: Arc<Self>, tx: mpsc::UnboundedSender<Record>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let path = self.dir.join("events.log");
            let mut file: Option<File> = None;
            let mut buf: Vec<u8> = Vec::new();
            let mut off: u64 = 0;
            let mut stuck = false;
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
                loop {
                    match next_frame(&buf[pos..]) {
                        Framed::Record(r, used) => {
                            pos += used;
                            if tx.send(r).is_err() {
                                return;
                            }
                        }
                        Framed::Skipped(used) => pos += used,
                        Framed::Partial => break,
                        Framed::Corrupt(e) => {
                            // Nothing after it can be framed: say so once,
                            // and read no further.
                            if !stuck {
                                tracing::error!(error = %e, "corrupt frame header in the local cluster log, not reading past it");
                                stuck = true;
                            }
                            break;
                        }
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
                // A lock nobody holds: the process is gone. Its files go
                // too (taken while we hold the lock, so it cannot be back).
                if let Ok(f) = OpenOptions::new().write(true).open(self.lock_path(id)) {
                    match try_lock(&f) {
                        Ok(true) => {
                            let _ = std::fs::remove_file(self.hb_path(id));
                            let _ = std::fs::remove_file(self.lock_path(id));
                            return true;
                        }
                        Ok(false) => {}
                        Err(e) => tracing::warn!(error = %e, "checking a liveness lock failed"),
                    }
                }
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
        // Dropping the sender stops the heartbeat thread; closing the lock
        // file releases the lock, as a crash would.
        crate::sync::lock(&self.heartbeat).take();
        crate::sync::lock(&self.alive).take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(dir: &Path, timeout: Duration) -> LocalBackend {
        std::fs::create_dir_all(dir.join("hb")).unwrap();
        LocalBackend {
            dir: dir.to_path_buf(),
            opts: LocalOptions {
                heartbeat: Duration::from_millis(100),
                timeout,
                poll: Duration::from_millis(5),
            },
            heartbeat: Mutex::new(None),
            alive: Mutex::new(None),
        }
    }

    fn id(port: u16) -> MemberId {
        MemberId {
            addr: [1; 16],
            port,
            inc: 7,
        }
    }

    fn set_heartbeat(b: &LocalBackend, m: &MemberId, age: Duration) {
        let t = now_ms() - age.as_millis() as u64;
        std::fs::write(b.hb_path(m), t.to_string()).unwrap();
    }

    #[tokio::test]
    async fn a_live_process_is_not_dead_however_late_its_heartbeat_until_hung() {
        let dir = tempfile::tempdir().unwrap();
        let judge = backend(dir.path(), Duration::from_secs(30));
        let member = backend(dir.path(), Duration::from_secs(30));
        let m = id(7000);
        member.register(m, Record::Leave { id: m }).await.unwrap();
        assert!(judge.dead(&[m]).is_empty());
        // A heartbeat 10 s late (a loaded machine; the old rule's 5 s
        // timeout declared such a node dead): alive while its lock is held.
        member.stop_heartbeat_for_test();
        set_heartbeat(&member, &m, Duration::from_secs(10));
        assert!(judge.dead(&[m]).is_empty());
        // Past the timeout the process is taken as hung.
        set_heartbeat(&member, &m, Duration::from_secs(31));
        assert_eq!(judge.dead(&[m]), vec![m]);
        // Registering the same member twice is refused (its lock is held).
        let twin = backend(dir.path(), Duration::from_secs(30));
        assert!(twin.register(m, Record::Leave { id: m }).await.is_err());
    }

    #[tokio::test]
    async fn a_gone_process_is_dead_at_once_and_its_files_removed() {
        let dir = tempfile::tempdir().unwrap();
        let judge = backend(dir.path(), Duration::from_secs(30));
        let member = backend(dir.path(), Duration::from_secs(30));
        let m = id(7001);
        member.register(m, Record::Leave { id: m }).await.unwrap();
        assert!(judge.dead(&[m]).is_empty());
        // A crash: the lock is released, the heartbeat is still fresh.
        member.stop();
        set_heartbeat(&member, &m, Duration::ZERO);
        assert_eq!(judge.dead(&[m]), vec![m]);
        assert!(!judge.hb_path(&m).exists());
        assert!(!judge.lock_path(&m).exists());
        assert_eq!(judge.dead(&[m]), vec![m], "still dead without its files");
    }

    #[tokio::test]
    async fn the_heartbeat_thread_keeps_writing_while_the_runtime_is_blocked() {
        let dir = tempfile::tempdir().unwrap();
        let member = backend(dir.path(), Duration::from_secs(30));
        let m = id(7002);
        member.register(m, Record::Leave { id: m }).await.unwrap();
        set_heartbeat(&member, &m, Duration::from_secs(20));
        // Poll without ever yielding: this (current-thread) runtime stays
        // blocked, so only a heartbeat off the runtime can refresh the file.
        let t0 = std::time::Instant::now();
        loop {
            let t: u64 = std::fs::read_to_string(member.hb_path(&m))
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0);
            if now_ms().saturating_sub(t) < 5_000 {
                break;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "no heartbeat while blocked"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // Without a lock file (a member of an older sheep): heartbeat only.
        let old = id(7003);
        set_heartbeat(&member, &old, Duration::from_secs(1));
        assert!(member.dead(&[old]).is_empty());
        set_heartbeat(&member, &old, Duration::from_secs(31));
        assert_eq!(member.dead(&[old]), vec![old]);
    }
}
