//! Bulk data between the dog's standard streams and the wire, on helper
//! threads that own duplicates of fds 0 and 1.
//!
//! `vdi read` / `vdi write` move hundreds of MiB. Through tokio's
//! `stdin()`/`stdout()` every byte is copied once more (into and out of
//! tokio's own staging buffer, at most 2 MiB at a time), and the blocking
//! read or write only overlaps the network by that one buffer. Here a
//! thread reads stdin straight into the buffers that become request
//! payloads (reading ahead a bounded number of pieces), and another writes
//! response payloads straight to stdout from the buffers they arrived in.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, oneshot};

use crate::payload::FileRange;
use crate::payload::Payload;

/// Reads stdin in a fixed sequence of piece sizes, a bounded number of
/// pieces ahead of the consumer.
pub(crate) struct PieceReader {
    rx: mpsc::UnboundedReceiver<io::Result<Bytes>>,
    /// One token per piece the thread may read.
    demand: std::sync::mpsc::Sender<()>,
}

impl PieceReader {
    /// Starts a thread reading a duplicate of fd 0: one [`Bytes`] per size
    /// in `sizes`, each full unless stdin ends inside it (then the short
    /// piece is the last one). It reads `ahead` pieces before they are
    /// asked for; with 0 it reads each piece only when [`next`] asks (the C
    /// dog's pattern: read a piece, send it, wait, read the next).
    ///
    /// [`next`]: PieceReader::next
    ///
    /// # Errors
    ///
    /// Duplicating fd 0 failed.
    pub(crate) fn stdin(
        sizes: impl Iterator<Item = usize> + Send + 'static,
        ahead: usize,
    ) -> io::Result<PieceReader> {
        let f = File::from(io::stdin().as_fd().try_clone_to_owned()?);
        Ok(PieceReader::spawn(f, sizes, ahead))
    }

    fn spawn(
        mut f: impl Read + Send + 'static,
        sizes: impl Iterator<Item = usize> + Send + 'static,
        ahead: usize,
    ) -> PieceReader {
        let (tx, rx) = mpsc::unbounded_channel();
        let (demand, tokens) = std::sync::mpsc::channel();
        for _ in 0..ahead {
            let _ = demand.send(());
        }
        std::thread::spawn(move || {
            for n in sizes {
                if tokens.recv().is_err() {
                    break;
                }
                let r = read_piece(&mut f, n);
                let end = !matches!(&r, Ok(b) if b.len() == n);
                if tx.send(r).is_err() || end {
                    break;
                }
            }
        });
        PieceReader { rx, demand }
    }

    /// The next piece; `None` after the last one (or after an error).
    pub(crate) async fn next(&mut self) -> Option<io::Result<Bytes>> {
        let _ = self.demand.send(());
        self.rx.recv().await
    }
}

/// Reads up to `n` bytes (fewer only at end of input), into memory that
/// is not zeroed first (`read_to_end` reads into the spare capacity).
fn read_piece(f: &mut impl Read, n: usize) -> io::Result<Bytes> {
    let mut buf = Vec::with_capacity(n);
    f.take(n as u64).read_to_end(&mut buf)?;
    Ok(buf.into())
}

/// Stdin as a regular file, handed out as file ranges that requests send
/// with `sendfile(2)`: the payload bytes go from the page cache to the
/// socket without a copy in the dog.
pub(crate) struct StdinFile {
    file: Arc<File>,
    /// Where the next range starts.
    pos: u64,
    /// The file's size when it was opened.
    size: u64,
}

impl StdinFile {
    /// Stdin, if it is a regular file (from its current position).
    pub(crate) fn open() -> Option<StdinFile> {
        let f = File::from(io::stdin().as_fd().try_clone_to_owned().ok()?);
        let m = f.metadata().ok()?;
        if !m.file_type().is_file() {
            return None;
        }
        let mut f = f;
        let pos = f.stream_position().ok()?;
        Some(StdinFile {
            file: Arc::new(f),
            pos,
            size: m.len(),
        })
    }

    /// The next `want` bytes (fewer at the end of the file, none after it).
    /// The kernel is asked to start reading them now, so the send that
    /// follows finds them in the page cache.
    pub(crate) fn next(&mut self, want: usize) -> Payload {
        let len = (want as u64).min(self.size.saturating_sub(self.pos)) as usize;
        if len > 0 {
            // SAFETY: fadvise on a descriptor we own; it only gives advice.
            unsafe {
                libc::posix_fadvise(
                    self.file.as_raw_fd(),
                    self.pos as libc::off_t,
                    len as libc::off_t,
                    libc::POSIX_FADV_WILLNEED,
                );
            }
        }
        let r = FileRange {
            file: self.file.clone(),
            offset: self.pos,
            len,
        };
        self.pos += len as u64;
        Payload::File(r)
    }

    /// Moves stdin's offset past the bytes handed out.
    pub(crate) fn finish(self) -> io::Result<()> {
        (&*self.file).seek(SeekFrom::Start(self.pos)).map(|_| ())
    }
}

enum Msg {
    Data(Bytes),
    /// Answered once everything queued before it is written.
    Sync(oneshot::Sender<()>),
}

/// Writes payloads to stdout on a thread, in the order they are queued.
pub(crate) struct StdoutWriter {
    tx: Option<mpsc::Sender<Msg>>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl StdoutWriter {
    /// Starts a thread writing to a duplicate of fd 1, with up to `depth`
    /// payloads queued.
    pub(crate) fn stdout(depth: usize) -> io::Result<StdoutWriter> {
        let f = File::from(io::stdout().as_fd().try_clone_to_owned()?);
        Ok(StdoutWriter::spawn(f, depth))
    }

    fn spawn(mut f: impl Write + Send + 'static, depth: usize) -> StdoutWriter {
        let (tx, mut rx) = mpsc::channel::<Msg>(depth.max(1));
        let thread = std::thread::spawn(move || -> io::Result<()> {
            while let Some(m) = rx.blocking_recv() {
                match m {
                    // An error ends the thread; the writer side sees the
                    // channel closed and collects it from `finish`.
                    Msg::Data(b) => f.write_all(&b)?,
                    Msg::Sync(ack) => {
                        let _ = ack.send(());
                    }
                }
            }
            f.flush()
        });
        StdoutWriter {
            tx: Some(tx),
            thread: Some(thread),
        }
    }

    /// Queues `b` (waits while `depth` payloads are queued).
    ///
    /// # Errors
    ///
    /// The write error that stopped the thread.
    pub(crate) async fn write(&mut self, b: Bytes) -> io::Result<()> {
        let sent = match &self.tx {
            Some(tx) => tx.send(Msg::Data(b)).await.is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            self.stopped().await
        }
    }

    /// The error that stopped the thread (an error even if it had none).
    async fn stopped(&mut self) -> io::Result<()> {
        self.finish().await?;
        Err(io::Error::other("stdout writer already finished"))
    }

    /// Waits until everything queued so far is written (the C dog's
    /// pattern: a blocking write of each piece before the next request).
    ///
    /// # Errors
    ///
    /// The write error that stopped the thread.
    pub(crate) async fn sync(&mut self) -> io::Result<()> {
        let (ack, done) = oneshot::channel();
        let sent = match &self.tx {
            Some(tx) => tx.send(Msg::Sync(ack)).await.is_ok(),
            None => false,
        };
        if sent && done.await.is_ok() {
            Ok(())
        } else {
            self.stopped().await
        }
    }

    /// Writes everything queued, stops the thread and returns its first
    /// error.
    ///
    /// # Errors
    ///
    /// The first write error.
    pub(crate) async fn finish(&mut self) -> io::Result<()> {
        self.tx = None;
        let Some(t) = self.thread.take() else {
            return Ok(());
        };
        tokio::task::spawn_blocking(move || t.join())
            .await
            .map_err(io::Error::other)?
            .unwrap_or_else(|_| Err(io::Error::other("stdout writer thread panicked")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn pieces_follow_the_sizes_and_stop_at_eof() {
        let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let sizes = vec![4096, 4096, 4096, 4096];
        let mut r = PieceReader::spawn(io::Cursor::new(data.clone()), sizes.clone().into_iter(), 2);
        let mut got = Vec::new();
        let mut lens = Vec::new();
        while let Some(p) = r.next().await {
            let p = p.unwrap();
            lens.push(p.len());
            got.extend_from_slice(&p);
        }
        assert_eq!(lens, [4096, 4096, 10_000 - 8192]);
        assert_eq!(got, data);
        // On demand (nothing read ahead): same pieces.
        let mut r = PieceReader::spawn(io::Cursor::new(data.clone()), sizes.into_iter(), 0);
        let mut n = 0;
        while let Some(p) = r.next().await {
            n += p.unwrap().len();
        }
        assert_eq!(n, data.len());
    }

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            crate::sync::lock(&self.0).extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn writes_in_order_and_sync_means_written() {
        let out = Shared::default();
        let mut w = StdoutWriter::spawn(out.clone(), 2);
        for i in 0..50u8 {
            w.write(Bytes::from(vec![i; 1000])).await.unwrap();
        }
        w.sync().await.unwrap();
        assert_eq!(out.0.lock().unwrap().len(), 50_000);
        w.write(Bytes::from_static(b"end")).await.unwrap();
        w.finish().await.unwrap();
        let v = out.0.lock().unwrap().clone();
        assert!(v[..50_000]
            .chunks(1000)
            .enumerate()
            .all(|(i, c)| c.iter().all(|&b| b == i as u8)));
        assert_eq!(&v[50_000..], b"end");
    }

    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn a_write_error_reaches_the_caller() {
        let mut w = StdoutWriter::spawn(Broken, 1);
        let mut err = None;
        for _ in 0..10 {
            if let Err(e) = w.write(Bytes::from_static(b"x")).await {
                err = Some(e);
                break;
            }
        }
        let e = match err {
            Some(e) => e,
            None => w.finish().await.unwrap_err(),
        };
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }
}
