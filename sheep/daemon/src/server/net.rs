//! Networking: listeners (TCP and the `STORE_DIR/sock` unix socket), one
//! task per connection, requests pipelined and answered out of order
//! through a writer task (responses matched by the echoed id); the NBD
//! listener hands its connections to [`crate::handlers::nbd`].

use std::path::{Path, PathBuf};
use std::sync::Arc;

use futures::StreamExt;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::{mpsc, Semaphore};
use tokio_util::codec::FramedRead;

use super::{dispatch, State};
use crate::handlers::nbd::NbdServer;
use crate::proto::RspHeader;

pub use crate::proto::frame;
pub use sheep_client::payload::Payload;
pub use sheep_client::sendfile;

use frame::MAX_PAYLOAD;
use sdwire::codec::{Frame, FrameWriter};
pub use sendfile::SendFile;

/// Requests one connection may have in flight before it stops reading.
const MAX_INFLIGHT: usize = 128;

/// How long, and for how many bytes at most, a connection closed on a
/// refused frame keeps reading (and dropping) the client's input after its
/// last answer went out; see [`linger`].
const LINGER: std::time::Duration = std::time::Duration::from_secs(2);
const LINGER_BYTES: u64 = 16 << 20;

/// The sockets a daemon serves.
#[derive(Debug, Default)]
pub struct Listeners {
    /// TCP listener.
    pub tcp: Option<TcpListener>,
    /// Unix socket listener and its path (removed at drop of the daemon).
    pub unix: Option<(UnixListener, PathBuf)>,
    /// The NBD listener (`--nbd`), off by default.
    pub nbd: Option<TcpListener>,
}

impl Listeners {
    /// Binds `addr` over TCP and `dir/sock` as a unix socket (a stale socket
    /// file is replaced).
    ///
    /// # Errors
    ///
    /// Bind errors.
    pub async fn bind(addr: std::net::SocketAddr, dir: &Path) -> std::io::Result<Listeners> {
        let tcp = TcpListener::bind(addr).await?;
        std::fs::create_dir_all(dir)?;
        let path = dir.join("sock");
        let _ = std::fs::remove_file(&path);
        let unix = UnixListener::bind(&path)?;
        Ok(Listeners {
            tcp: Some(tcp),
            unix: Some((unix, path)),
            nbd: None,
        })
    }

    /// Also serves NBD on `addr`.
    ///
    /// # Errors
    ///
    /// Bind errors.
    pub async fn with_nbd(mut self, addr: std::net::SocketAddr) -> std::io::Result<Listeners> {
        self.nbd = Some(TcpListener::bind(addr).await?);
        Ok(self)
    }

    /// The bound NBD address.
    pub fn nbd_addr(&self) -> Option<std::net::SocketAddr> {
        self.nbd.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The bound TCP address.
    pub fn tcp_addr(&self) -> Option<std::net::SocketAddr> {
        self.tcp.as_ref().and_then(|l| l.local_addr().ok())
    }
}

/// Accepts connections on every listener until the daemon stops.
///
/// # Errors
///
/// Fatal accept errors.
pub async fn accept_loop(st: Arc<State>, l: Listeners) -> std::io::Result<()> {
    let tcp = async {
        let Some(t) = &l.tcp else {
            return std::future::pending().await;
        };
        loop {
            match t.accept().await {
                Ok((s, peer)) => {
                    let _ = s.set_nodelay(true);
                    tracing::debug!(%peer, "tcp connection");
                    let (r, w) = s.into_split();
                    st.connections
                        .spawn(connection(st.clone(), r, w, peer.to_string()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    };
    let unix = async {
        let Some((u, _)) = &l.unix else {
            return std::future::pending().await;
        };
        loop {
            match u.accept().await {
                Ok((s, _)) => {
                    let (r, w) = s.into_split();
                    st.connections
                        .spawn(connection(st.clone(), r, w, "unix".to_string()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    };
    let nbd = async {
        let Some(n) = &l.nbd else {
            return std::future::pending().await;
        };
        let server = NbdServer::new(st.services.clone());
        loop {
            match n.accept().await {
                Ok((s, peer)) => {
                    tracing::debug!(%peer, "nbd connection");
                    st.connections
                        .spawn(server.clone().serve(s, peer.to_string()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "nbd accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    };
    tokio::select! {
        r = tcp => r,
        r = unix => r,
        r = nbd => r,
    }
}

/// Queues or writes one reply: a file payload goes out with `sendfile(2)`
/// right behind its header.
async fn write_reply<W: SendFile>(
    w: &mut FrameWriter<W, RspHeader>,
    h: RspHeader,
    p: Payload,
) -> std::io::Result<()> {
    let framing = |e: sdwire::codec::FrameError| match e {
        sdwire::codec::FrameError::Io(e) => e,
        e => std::io::Error::other(e.to_string()),
    };
    match p {
        Payload::Bytes(b) => w.send(Frame::new(h, b)).await.map_err(framing),
        Payload::File(f) => {
            w.send_header(h).await.map_err(framing)?;
            w.get_mut().send_file(&f).await
        }
    }
}

/// Serves one connection until EOF, a framing error, or shutdown.
pub async fn connection<R, W>(st: Arc<State>, r: R, w: W, peer: String)
where
    R: AsyncRead + Unpin + Send + 'static,
    W: SendFile,
{
    let mut reader = FramedRead::new(r, frame::req_codec());
    // Replies that are ready together leave in one write; object payloads
    // are written from their buffers without another copy.
    let mut writer = FrameWriter::<_, RspHeader>::new(w, 0);
    let (tx, mut rx) = mpsc::channel::<(RspHeader, Payload)>(MAX_INFLIGHT);
    let peer2 = peer.clone();
    let write_task = tokio::spawn(async move {
        while let Some((h, p)) = rx.recv().await {
            let mut r = write_reply(&mut writer, h, p).await;
            while r.is_ok() {
                let Ok((h, p)) = rx.try_recv() else { break };
                r = write_reply(&mut writer, h, p).await;
            }
            if let Err(e) = r {
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    tracing::error!(peer = %peer2, "object file shorter than the reply it answers, closing connection");
                } else {
                    tracing::debug!(error = %e, "write failed");
                }
                break;
            }
            if let Err(e) = writer.flush().await {
                tracing::debug!(error = %e, "write failed");
                break;
            }
        }
    });
    let inflight = Arc::new(Semaphore::new(MAX_INFLIGHT));
    let mut stop = st.shutdown_tx.subscribe();
    // Stall detection: `reader.next()` is cancellation safe (bytes stay in
    // its buffer), so a periodic tick can look at whether a frame has begun
    // and for how long it has been incomplete.
    let limit = st.cfg.frame_timeout;
    let mut tick = tokio::time::interval((limit / 4).max(std::time::Duration::from_millis(10)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut frame_started: Option<tokio::time::Instant> = None;
    // Set when the connection is closed on a refused frame, with the
    // client's input not read to its end.
    let mut refused = false;
    loop {
        let next = tokio::select! {
            n = reader.next() => n,
            _ = stop.wait_for(|&s| s) => break,
            _ = tick.tick() => {
                if reader.read_buffer().is_empty() {
                    frame_started = None;
                    continue;
                }
                let t0 = *frame_started.get_or_insert_with(tokio::time::Instant::now);
                if t0.elapsed() >= limit {
                    tracing::warn!(
                        %peer,
                        buffered = reader.read_buffer().len(),
                        "request frame incomplete for {limit:?}, closing connection"
                    );
                    refused = true;
                    break;
                }
                continue;
            }
        };
        frame_started = None;
        let f = match next {
            None => break,
            Some(Ok(f)) => f,
            Some(Err(e)) => {
                tracing::warn!(%peer, error = %e, "bad frame, closing connection");
                refused = true;
                break;
            }
        };
        if f.header.data_length as usize > MAX_PAYLOAD {
            tracing::warn!(
                %peer,
                opcode = f.header.opcode,
                data_length = f.header.data_length,
                "data_length above the {MAX_PAYLOAD}-byte limit, closing connection"
            );
            refused = true;
            break;
        }
        let Ok(permit) = inflight.clone().acquire_owned().await else {
            break;
        };
        let st = st.clone();
        let tx = tx.clone();
        tokio::spawn(async move {
            let out = dispatch::handle(&st, f.header, f.payload).await;
            let _ = tx.send(out).await;
            drop(permit);
        });
    }
    drop(tx);
    // Let in-flight requests finish and their answers go out; the writer
    // half is dropped at the end of the task, which sends FIN.
    let _ = write_task.await;
    if refused {
        linger(reader.into_inner()).await;
    }
}

/// A lingering close. Closing a socket whose input was not read to its end
/// makes the kernel answer with a reset, and a reset discards the answers
/// still on their way: the bytes in our send buffer and, on the client,
/// the ones it has not read yet. So after a refused frame, once every
/// answer is written and FIN sent, the client's input is read and dropped
/// until it closes its side, for at most [`LINGER`] and [`LINGER_BYTES`].
/// Found by fuzzing (`fuzz/`, `sheep_conn`): a 480 KB answer ahead of an
/// oversized frame arrived cut short.
async fn linger<R: AsyncRead + Unpin>(r: R) {
    let mut rest = r.take(LINGER_BYTES);
    let _ = tokio::time::timeout(LINGER, tokio::io::copy(&mut rest, &mut tokio::io::sink())).await;
}
