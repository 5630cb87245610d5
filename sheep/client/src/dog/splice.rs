//! `vdi read` without copying the data through the dog: object payloads
//! move from the socket into a pipe and from the pipe to stdout with
//! `splice(2)`.
//!
//! Through `read` + `write` every byte costs the dog a copy out of the
//! socket into fresh (page-faulted) memory and a copy into stdout. With the
//! sheep sending from its page cache (`sendfile`), the socket holds
//! references to those pages; `splice` moves the references into a pipe and
//! on to stdout, where the only copy left is the one into stdout's file
//! (none at all when stdout is a pipe). Profiling a 256 MiB read to tmpfs
//! showed the receive copy and the page faults at about 40% of the dog's
//! CPU, and the dog's CPU is what bounds a pipelined read from a warm
//! sheep.
//!
//! Runs on its own connection, on two blocking threads: one sends the
//! requests (`inflight` at a time) and splices each answer from the socket
//! into pipes of a pool; the other moves the pipes' contents to stdout and
//! returns them to the pool. How the second one writes depends on stdout:
//!
//! * a regular file (not `O_APPEND`) is written at offsets, each answer at
//!   its own place as soon as it comes (the sheep answers in completion
//!   order), starting at stdout's position and leaving it after the bytes,
//!   as a sequential write would;
//! * anything else (a pipe, a terminal) is written in order: an answer that
//!   arrives ahead of its turn waits in pipes of its own (one per request in
//!   flight, plus two for the answers in turn), or in memory when no pipe is
//!   spare. If stdout cannot take a splice (a terminal, an `O_APPEND` file),
//!   the writer copies instead.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::proto::{ClientOp, ReqFlags, Request, RspHeader};
use crate::Target;

use super::verbs::obj;
use super::DogError;

/// One piece of the output: `len` bytes of object `oid` at `off`, or zeros
/// (an object the VDI does not have).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Piece {
    /// The object, `None` for a hole.
    pub oid: Option<u64>,
    /// Offset in the object.
    pub off: u32,
    /// Bytes.
    pub len: u32,
}

/// A pipe whose capacity was raised to hold one piece.
struct Pipe {
    r: OwnedFd,
    w: OwnedFd,
    cap: usize,
}

impl Pipe {
    fn new(want: usize) -> io::Result<Pipe> {
        let mut fds = [0 as RawFd; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: pipe2 succeeded, so both are fresh descriptors we own.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // A bigger pipe means fewer splice calls; the size is a hint (an
        // unprivileged process is held to /proc/sys/fs/pipe-max-size).
        // SAFETY: fcntl on a descriptor we own.
        let cap = unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, want as libc::c_int) };
        let cap = if cap > 0 {
            cap as usize
        } else {
            // SAFETY: as above.
            let c = unsafe { libc::fcntl(w.as_raw_fd(), libc::F_GETPIPE_SZ) };
            if c <= 0 {
                return Err(io::Error::last_os_error());
            }
            c as usize
        };
        Ok(Pipe { r, w, cap })
    }
}

/// One `splice(2)` of up to `len` bytes from `from` to `to`; with
/// `SPLICE_F_NONBLOCK` in `flags` a full pipe is `EAGAIN` instead of a
/// wait (the socket still blocks).
fn splice(from: RawFd, to: RawFd, len: usize, flags: libc::c_uint) -> io::Result<usize> {
    splice_at(from, to, None, len, flags)
}

/// [`splice`] into `to` at `*at` (advanced past the bytes moved) instead
/// of at `to`'s own position, like `pwrite`; `to` must be a file.
fn splice_at(
    from: RawFd,
    to: RawFd,
    mut at: Option<&mut i64>,
    len: usize,
    flags: libc::c_uint,
) -> io::Result<usize> {
    loop {
        let off_out = match at.as_deref_mut() {
            Some(o) => o as *mut i64,
            None => std::ptr::null_mut(),
        };
        // SAFETY: both descriptors are open for the call; a null offset
        // means "the descriptor's own position", as for read/write, and a
        // non-null one points at an i64 we hold exclusively.
        let n = unsafe {
            libc::splice(
                from,
                std::ptr::null_mut(),
                to,
                off_out,
                len,
                libc::SPLICE_F_MOVE | flags,
            )
        };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Waits until `fd` has data to read (or an error or hang-up to report).
fn wait_readable(fd: RawFd) -> io::Result<()> {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd for the duration of the call.
        if unsafe { libc::poll(&mut p, 1, -1) } >= 0 {
            return Ok(());
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Splices up to `want` bytes of the answer being read from `conn` into the
/// empty `pipe`, as many as it takes; returns how many (at least one).
fn fill(conn: &mut Conn, pipe: &Pipe, want: usize) -> io::Result<usize> {
    let mut n = 0;
    while n < pipe.cap.min(want) {
        // Non-blocking on the pipe: nobody drains it until it is handed on.
        match splice(
            conn.fd(),
            pipe.w.as_raw_fd(),
            want - n,
            libc::SPLICE_F_NONBLOCK,
        ) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(k) => n += k,
            // With bytes in the pipe: its slots may be full before its
            // bytes are; hand it on either way.
            Err(e) if n > 0 && e.raw_os_error() == Some(libc::EAGAIN) => break,
            // An empty pipe is never full: the socket has no data yet (a
            // unix socket reads non-blocking under SPLICE_F_NONBLOCK).
            Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => wait_readable(conn.fd())?,
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The connection, as a plain blocking stream.
enum Conn {
    Tcp(std::net::TcpStream),
    Unix(std::os::unix::net::UnixStream),
}

impl Conn {
    fn open(t: &Target) -> io::Result<Conn> {
        Ok(match t {
            Target::Tcp(a) => {
                let s = std::net::TcpStream::connect(a)?;
                s.set_nodelay(true)?;
                Conn::Tcp(s)
            }
            Target::Unix(p) => Conn::Unix(std::os::unix::net::UnixStream::connect(p)?),
        })
    }
    fn stream(&mut self) -> &mut dyn ReadWrite {
        match self {
            Conn::Tcp(s) => s,
            Conn::Unix(s) => s,
        }
    }
    fn fd(&self) -> RawFd {
        match self {
            Conn::Tcp(s) => s.as_raw_fd(),
            Conn::Unix(s) => s.as_raw_fd(),
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// What the feeding thread hands the stdout writer, in output order.
enum Chunk {
    /// `n` bytes waiting in a pipe; the pipe goes back to the pool after.
    Pipe(Pipe, usize),
    /// Bytes read into memory (an answer that came before its turn).
    Bytes(Vec<u8>),
    /// A hole.
    Zeros(usize),
}

/// Moves the `n` bytes waiting in `p` to `out`, at offset `at` or at its
/// own position: spliced, or copied once `out` has refused a splice
/// (`can_splice` remembers that for the writer's next pipes).
fn empty_pipe(
    p: &Pipe,
    n: usize,
    out: &File,
    at: Option<u64>,
    can_splice: &mut bool,
    buf: &mut Vec<u8>,
) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut off = at.map(|a| a as i64);
    let mut left = n;
    while left > 0 && *can_splice {
        match splice_at(p.r.as_raw_fd(), out.as_raw_fd(), off.as_mut(), left, 0) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(k) => left -= k,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => *can_splice = false,
            Err(e) => return Err(e),
        }
    }
    if left > 0 {
        buf.resize(left, 0);
        File::from(p.r.try_clone()?).read_exact(buf)?;
        match off {
            Some(o) => out.write_all_at(buf, o as u64)?,
            None => (&mut &*out).write_all(buf)?,
        }
    }
    Ok(())
}

/// Writes the chunks to stdout in the order they come, returning each pipe
/// to `free` once it is empty. Pipes are spliced to stdout, or copied if
/// stdout refuses a splice.
fn write_chunks(
    chunks: std::sync::mpsc::Receiver<Chunk>,
    free: std::sync::mpsc::Sender<Pipe>,
    mut out: File,
) -> io::Result<()> {
    let mut can_splice = true;
    let zeros = vec![0u8; 1 << 20];
    let mut buf = Vec::new();
    for c in chunks {
        match c {
            Chunk::Pipe(p, n) => {
                empty_pipe(&p, n, &out, None, &mut can_splice, &mut buf)?;
                // The feeder may be gone already (it failed): that is fine.
                let _ = free.send(p);
            }
            Chunk::Bytes(b) => out.write_all(&b)?,
            Chunk::Zeros(mut n) => {
                while n > 0 {
                    let k = n.min(zeros.len());
                    out.write_all(&zeros[..k])?;
                    n -= k;
                }
            }
        }
    }
    out.flush()
}

/// Reads `pieces` in order to `out` over a new connection to `target`,
/// `inflight` requests at a time; `progress` is told the bytes of every
/// piece as it is passed on.
///
/// Two threads: this one drives the connection and moves each answer whose
/// turn it is from the socket into a pipe; a second one moves the pipes'
/// contents to `out`, so receiving and writing overlap as they do in the
/// copying path.
///
/// # Errors
///
/// Connection and output errors, and an error result from the sheep for
/// any piece (named as `vdi read`'s other errors are).
pub(crate) fn read_to(
    target: &Target,
    out: File,
    pieces: &[Piece],
    inflight: usize,
    progress: impl FnMut(u64),
) -> Result<(), DogError> {
    let opts = Opts {
        max_pipes: MAX_PIPES,
        positional: true,
    };
    read_to_with(target, out, pieces, inflight, opts, progress)
}

/// How [`read_to_with`] may work (tests narrow it down).
#[derive(Debug, Clone, Copy)]
struct Opts {
    /// Most pipes (at least 2).
    max_pipes: usize,
    /// Whether a regular file is written at offsets (else in order).
    positional: bool,
}

/// [`read_to`] within `opts`.
fn read_to_with(
    target: &Target,
    out: File,
    pieces: &[Piece],
    inflight: usize,
    opts: Opts,
    mut progress: impl FnMut(u64),
) -> Result<(), DogError> {
    let out_err = |e: io::Error| DogError::Other(format!("Failed to write to stdout: {e}"));
    let mut conn = Conn::open(target).map_err(|e| {
        let where_ = match target {
            Target::Tcp(a) => a.to_string(),
            Target::Unix(p) => p.display().to_string(),
        };
        DogError::Conn(format!("Failed to connect to {where_}: {e}"))
    })?;
    let biggest = pieces.iter().map(|p| p.len as usize).max().unwrap_or(0);
    let (free_tx, free) = std::sync::mpsc::channel();
    // One pipe per request in flight, so early answers stay in the kernel
    // too, plus two for the answers in turn; at least two (a process out
    // of descriptors or pipe pages gets fewer, and copies early answers).
    let want = inflight.min(opts.max_pipes.max(2) - 2) + 2;
    let mut pool = 0;
    while pool < want {
        match Pipe::new(biggest) {
            Ok(p) => {
                free_tx.send(p).expect("the receiver is here");
                pool += 1;
            }
            Err(e) if pool < 2 => return Err(out_err(e)),
            Err(_) => break,
        }
    }
    let at = if opts.positional {
        file_position(&out)
    } else {
        None
    };
    let (fed, written) = if let Some(base) = at {
        // A regular file: every answer goes to its own offset as it comes,
        // so nothing waits for its turn (measured on a warm 256 MiB read to
        // tmpfs: about 10% faster than in order). One writer: writes to
        // one file serialize on its inode lock, and more threads were
        // slower.
        let out = std::sync::Arc::new(out);
        let (chunks, rx) = std::sync::mpsc::sync_channel(pool);
        let writer = {
            let out = out.clone();
            std::thread::spawn(move || write_at(rx, free_tx, &out))
        };
        let fed = feed_at(
            &mut conn,
            &chunks,
            &free,
            pieces,
            base,
            inflight,
            &mut progress,
        );
        drop(chunks);
        let mut written = writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("stdout writer panicked")));
        // Leave stdout's position after the bytes written, as a
        // sequential write would.
        let total: u64 = pieces.iter().map(|p| p.len as u64).sum();
        if fed.is_ok() && written.is_ok() {
            written = (&*out).seek(SeekFrom::Start(base + total)).map(|_| ());
        }
        (fed, written)
    } else {
        let (chunks, rx) = std::sync::mpsc::sync_channel(pool);
        let writer = std::thread::spawn(move || write_chunks(rx, free_tx, out));
        let fed = feed(
            &mut conn,
            &chunks,
            &free,
            pool,
            pieces,
            inflight,
            &mut progress,
        );
        drop(chunks);
        let written = writer
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("stdout writer panicked")));
        (fed, written)
    };
    match (fed, written) {
        // The writer stopped first: its error is the one to report.
        (Err(Fail::Writer), Err(e)) | (Ok(()), Err(e)) => Err(out_err(e)),
        (Err(Fail::Writer), Ok(())) => Err(out_err(io::Error::other("stdout writer stopped"))),
        (Err(Fail::Dog(e)), _) => Err(e),
        (Ok(()), Ok(())) => Ok(()),
    }
}

/// The position of `out` if it can be written at offsets: a regular file
/// not opened for appending.
fn file_position(out: &File) -> Option<u64> {
    if !out.metadata().ok()?.file_type().is_file() {
        return None;
    }
    // SAFETY: fcntl on an open descriptor.
    let flags = unsafe { libc::fcntl(out.as_raw_fd(), libc::F_GETFL) };
    if flags < 0 || flags & libc::O_APPEND != 0 {
        return None;
    }
    let mut f = out;
    f.stream_position().ok()
}

/// A piece of the output at its offset in the file, for [`write_at`].
enum ChunkAt {
    /// `n` bytes waiting in a pipe, for offset `at`; the pipe goes back to
    /// the pool after.
    Pipe(Pipe, usize, u64),
    /// `n` zero bytes (a hole) at offset `at`.
    Zeros(usize, u64),
}

/// Writes chunks to the regular file `out` at their offsets, in whatever
/// order they come, returning each pipe to `free` once it is empty.
fn write_at(
    chunks: std::sync::mpsc::Receiver<ChunkAt>,
    free: std::sync::mpsc::Sender<Pipe>,
    out: &File,
) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut can_splice = true;
    let mut buf = Vec::new();
    let zeros = vec![0u8; 1 << 20];
    for c in chunks {
        match c {
            ChunkAt::Pipe(p, n, at) => {
                empty_pipe(&p, n, out, Some(at), &mut can_splice, &mut buf)?;
                // The feeder may be gone already (it failed): that is fine.
                let _ = free.send(p);
            }
            ChunkAt::Zeros(mut n, mut at) => {
                while n > 0 {
                    let k = n.min(zeros.len());
                    out.write_all_at(&zeros[..k], at)?;
                    n -= k;
                    at += k as u64;
                }
            }
        }
    }
    Ok(())
}

/// Sends the requests and hands each answer, as it comes, to the
/// [`write_at`] thread with its offset in the output (`base` + the bytes
/// of the pieces before it).
fn feed_at(
    conn: &mut Conn,
    chunks: &std::sync::mpsc::SyncSender<ChunkAt>,
    free: &std::sync::mpsc::Receiver<Pipe>,
    pieces: &[Piece],
    base: u64,
    inflight: usize,
    progress: &mut impl FnMut(u64),
) -> Result<(), Fail> {
    let conn_err = |e: io::Error| Fail::Dog(DogError::Conn(format!("Failed to read the VDI: {e}")));
    let send = |c: ChunkAt| chunks.send(c).map_err(|_| Fail::Writer);
    let inflight = inflight.max(1);
    // id -> (piece index, its offset in the output).
    let mut waiting: HashMap<u32, (usize, u64)> = HashMap::new();
    let mut next_send = 0usize;
    let mut at = base;
    let mut id = 0u32;
    let mut hdr = [0u8; RSP_LEN];
    while next_send < pieces.len() || !waiting.is_empty() {
        let mut batch = Vec::new();
        while next_send < pieces.len() && waiting.len() < inflight {
            let p = pieces[next_send];
            match p.oid {
                Some(oid) => {
                    id = id.wrapping_add(1);
                    batch.extend_from_slice(&read_request(id, oid, p));
                    waiting.insert(id, (next_send, at));
                }
                None => {
                    send(ChunkAt::Zeros(p.len as usize, at))?;
                    progress(p.len as u64);
                }
            }
            at += p.len as u64;
            next_send += 1;
        }
        if !batch.is_empty() {
            conn.stream().write_all(&batch).map_err(conn_err)?;
        }
        if waiting.is_empty() {
            continue;
        }
        conn.stream().read_exact(&mut hdr).map_err(conn_err)?;
        let (i, mut pos) = check_answer(&hdr, &mut waiting, pieces)?;
        let len = pieces[i].len as usize;
        let mut left = len;
        while left > 0 {
            let pipe = free.recv().map_err(|_| Fail::Writer)?;
            let n = fill(conn, &pipe, left).map_err(conn_err)?;
            send(ChunkAt::Pipe(pipe, n, pos))?;
            left -= n;
            pos += n as u64;
        }
        progress(len as u64);
    }
    Ok(())
}

/// The READ_OBJ request with id `id` for piece `p` of object `oid`.
fn read_request(id: u32, oid: u64, p: Piece) -> Vec<u8> {
    let mut h =
        Request::Client(ClientOp::ReadObj(obj(oid, p.off))).to_header(ReqFlags::EMPTY, p.len);
    h.id = id;
    sdwire::to_vec(&h, 0).expect("a header fits a Vec")
}

/// Checks the answer header `hdr` against the requests `waiting` (id ->
/// piece index and a value of the caller's) and returns what was waiting
/// for it: a successful answer to a known request, carrying the piece's
/// bytes.
fn check_answer<T>(
    hdr: &[u8; RSP_LEN],
    waiting: &mut HashMap<u32, (usize, T)>,
    pieces: &[Piece],
) -> Result<(usize, T), Fail> {
    let r: RspHeader = sdwire::from_slice(hdr, 0).map_err(|e| {
        Fail::Dog(DogError::Conn(format!(
            "Failed to read the VDI: bad answer: {e}"
        )))
    })?;
    let Some((i, v)) = waiting.remove(&r.id) else {
        return Err(Fail::Dog(DogError::Conn(format!(
            "Failed to read the VDI: answer for unknown request {}",
            r.id
        ))));
    };
    let p = pieces[i];
    let oid = p.oid.unwrap_or_default();
    if !r.result.is_success() {
        return Err(Fail::Dog(DogError::Sd {
            what: format!("Failed to read object {oid:x}"),
            code: r.result.code(),
        }));
    }
    if r.data_length != p.len {
        return Err(Fail::Dog(DogError::Conn(format!(
            "Failed to read object {oid:x}: {} bytes instead of {}",
            r.data_length, p.len
        ))));
    }
    Ok((i, v))
}

/// Most pipes a read uses. Each thread works on pipes of its own: two
/// threads splicing through one pipe contend on its lock (measured: the
/// dog's CPU time doubled).
const MAX_PIPES: usize = 34;

/// Bytes in a response header.
const RSP_LEN: usize = 48;

enum Fail {
    /// The stdout writer stopped (its error says why).
    Writer,
    Dog(DogError),
}

/// Sends the requests and feeds the answers into `pipe_w` in piece order.
fn feed(
    conn: &mut Conn,
    chunks: &std::sync::mpsc::SyncSender<Chunk>,
    free: &std::sync::mpsc::Receiver<Pipe>,
    pool: usize,
    pieces: &[Piece],
    inflight: usize,
    progress: &mut impl FnMut(u64),
) -> Result<(), Fail> {
    let conn_err = |e: io::Error| Fail::Dog(DogError::Conn(format!("Failed to read the VDI: {e}")));
    let send = |c: Chunk| chunks.send(c).map_err(|_| Fail::Writer);
    let inflight = inflight.max(1);
    // id -> piece index, for requests sent and not yet answered.
    let mut waiting: HashMap<u32, (usize, ())> = HashMap::new();
    // Answers that came before their turn, and how many pipes they hold.
    let mut early: BTreeMap<usize, Vec<Chunk>> = BTreeMap::new();
    let mut held_early = 0usize;
    let (mut next_send, mut next_out) = (0usize, 0usize);
    let mut id = 0u32;
    let mut hdr = [0u8; RSP_LEN];
    while next_out < pieces.len() {
        // Whatever is ready at the head: holes and early answers.
        let p = pieces[next_out];
        if p.oid.is_none() {
            send(Chunk::Zeros(p.len as usize))?;
            progress(p.len as u64);
            next_out += 1;
            continue;
        }
        if let Some(parts) = early.remove(&next_out) {
            for c in parts {
                if matches!(c, Chunk::Pipe(..)) {
                    held_early -= 1;
                }
                send(c)?;
            }
            progress(p.len as u64);
            next_out += 1;
            continue;
        }
        // Keep `inflight` requests out.
        let mut batch = Vec::new();
        while next_send < pieces.len() && waiting.len() < inflight {
            let p = pieces[next_send];
            if let Some(oid) = p.oid {
                id = id.wrapping_add(1);
                batch.extend_from_slice(&read_request(id, oid, p));
                waiting.insert(id, (next_send, ()));
            }
            next_send += 1;
        }
        if !batch.is_empty() {
            conn.stream().write_all(&batch).map_err(conn_err)?;
            continue;
        }
        // Then one answer.
        conn.stream().read_exact(&mut hdr).map_err(conn_err)?;
        let (i, ()) = check_answer(&hdr, &mut waiting, pieces)?;
        let p = pieces[i];
        let len = p.len as usize;
        let in_turn = i == next_out;
        // A pipe at a time, each filled as far as it takes. The answer
        // whose turn it is waits for a pipe; an early one takes a spare
        // pipe if there is one (leaving two for the answers in turn, so
        // they always get one back from the writer) and memory otherwise.
        let mut parts = Vec::new();
        let mut left = len;
        while left > 0 {
            let pipe = if in_turn {
                Some(free.recv().map_err(|_| Fail::Writer)?)
            } else if held_early + 2 < pool {
                free.try_recv().ok()
            } else {
                None
            };
            let Some(pipe) = pipe else {
                let mut b = Vec::with_capacity(left);
                // Into spare capacity: the buffer is not zeroed first.
                (&mut conn.stream())
                    .take(left as u64)
                    .read_to_end(&mut b)
                    .map_err(conn_err)?;
                if b.len() < left {
                    return Err(conn_err(io::ErrorKind::UnexpectedEof.into()));
                }
                parts.push(Chunk::Bytes(b));
                break;
            };
            let n = fill(conn, &pipe, left).map_err(conn_err)?;
            left -= n;
            if in_turn {
                send(Chunk::Pipe(pipe, n))?;
            } else {
                held_early += 1;
                parts.push(Chunk::Pipe(pipe, n));
            }
        }
        if in_turn {
            progress(len as u64);
            next_out += 1;
        } else {
            early.insert(i, parts);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
