//! Reply payloads sent straight from object files with `sendfile(2)`: the
//! kernel moves page-cache pages to the socket, and the daemon neither
//! reads the bytes into a buffer nor copies them out again.

use std::fs::File;
use std::future::Future;
use std::io;
use std::os::fd::AsRawFd;

use tokio::io::{AsyncWrite, Interest};

use crate::payload::FileRange;

/// A connection's write half that can send a range of a file.
pub trait SendFile: AsyncWrite + Unpin + Send + 'static {
    /// Writes `r.len` bytes of `r.file` from `r.offset`.
    ///
    /// # Errors
    ///
    /// I/O errors; `UnexpectedEof` if the file ends inside the range (the
    /// frame is then cut short: the caller must close the connection).
    fn send_file(&mut self, r: &FileRange) -> impl Future<Output = io::Result<()>> + Send;
}

/// One `sendfile(2)` call: up to `len` bytes of `file` at `*off` into the
/// socket `sock`, advancing `*off`.
fn sendfile_once(sock: i32, file: &File, off: &mut libc::off_t, len: usize) -> io::Result<usize> {
    // SAFETY: both descriptors are open for the duration of the call (the
    // socket is borrowed from its stream, the file from its `Arc`), and
    // `off` is a valid, exclusive pointer the kernel updates.
    let n = unsafe { libc::sendfile(sock, file.as_raw_fd(), off, len) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

macro_rules! impl_send_file {
    ($half:ty, $stream:ty) => {
        impl SendFile for $half {
            async fn send_file(&mut self, r: &FileRange) -> io::Result<()> {
                let s: &$stream = self.as_ref();
                let mut off = libc::off_t::try_from(r.offset).map_err(io::Error::other)?;
                let mut left = r.len;
                while left > 0 {
                    s.writable().await?;
                    let want = left.min(1 << 30);
                    let sent = s.try_io(Interest::WRITABLE, || {
                        sendfile_once(s.as_raw_fd(), &r.file, &mut off, want)
                    });
                    match sent {
                        Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                        Ok(n) => left -= n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(())
            }
        }
    };
}

impl_send_file!(tokio::net::tcp::OwnedWriteHalf, tokio::net::TcpStream);
impl_send_file!(tokio::net::unix::OwnedWriteHalf, tokio::net::UnixStream);

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::Arc;
    use tokio::io::AsyncReadExt;

    fn file_with(data: &[u8]) -> Arc<File> {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(data).unwrap();
        Arc::new(f)
    }

    async fn roundtrip<W: SendFile>(
        mut w: W,
        mut rd: impl tokio::io::AsyncRead + Unpin,
        data: &[u8],
    ) {
        let f = file_with(data);
        let r = FileRange {
            file: f.clone(),
            offset: 1000,
            len: data.len() - 3000,
        };
        let reader = async {
            let mut got = vec![0u8; r.len];
            rd.read_exact(&mut got).await.unwrap();
            got
        };
        let (sent, got) = tokio::join!(w.send_file(&r), reader);
        sent.unwrap();
        assert!(got[..] == data[1000..data.len() - 2000]);
        // Past the end of the file: an error, not a short frame.
        let past = FileRange {
            file: f,
            offset: data.len() as u64 - 10,
            len: 20,
        };
        let (sent, _) = tokio::join!(w.send_file(&past), async {
            let mut b = [0u8; 10];
            rd.read_exact(&mut b).await.unwrap();
        });
        assert_eq!(sent.unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
    }

    fn data() -> Vec<u8> {
        (0..(3 << 20) + 12345)
            .map(|i: u32| (i * 7 + i / 4096) as u8)
            .collect()
    }

    #[tokio::test]
    async fn tcp_ranges_arrive_whole() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let a = tokio::net::TcpStream::connect(l.local_addr().unwrap())
            .await
            .unwrap();
        let (b, _) = l.accept().await.unwrap();
        let (_r, w) = a.into_split();
        roundtrip(w, b, &data()).await;
    }

    #[tokio::test]
    async fn unix_ranges_arrive_whole() {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        let (_r, w) = a.into_split();
        roundtrip(w, b, &data()).await;
    }
}
