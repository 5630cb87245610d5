//! A whole sheep connection: the input is written as-is into a fresh TCP
//! connection to a live, formatted sheep on 127.0.0.1 (started once per fuzz
//! process), then the write side is closed.
//!
//! Invariants:
//! * the sheep answers every complete request frame it accepted, in full
//!   (exactly one response per complete frame up to the first refused one,
//!   each echoing the opcode and id of a request, none cut short) and then
//!   closes, within 10 s (else: a wedged connection, reported as a crash).
//!   This holds when it closes on a refused frame too: its lingering close
//!   keeps a reset from destroying the answers in flight;
//! * afterwards it still serves a well-behaved probe (READ_OBJ of a sentinel
//!   object on a long-lived connection) and the sentinel's bytes are unchanged.
//!
//! Requests that legitimately stop the daemon or wipe data (SHUTDOWN,
//! KILL_NODE, MAKE_FS) and any header naming the sentinel oid are defused
//! before sending (their opcode / oid is altered), so only hostile framing
//! and arguments are exercised, not the admin commands' documented effects.
//!
//! Speed (what the sheep does with an input is unchanged): one
//! current-thread runtime drives both the sheep and the client side (no
//! cross-thread wakeups per exec); the store lives on /dev/shm when it
//! exists (FLUSH_VDI's syncfs then flushes nothing instead of whatever else
//! is dirty on the machine: tens of ms per FLUSH on a busy one); the park
//! timeout for peer requests from a future epoch is zero (they are still
//! parked and answered NEW_NODE_VER, without a 100 ms sleep each); response
//! payloads are dropped by the kernel unread (MSG_TRUNC) and only their
//! headers are parsed, as before (a full inode read answers 12 MB).

use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use sheep_client::{Client, Target};
use sheep::server::{self, Config};
use sheep_proto::frame::MAX_PAYLOAD;
use sheep::server::Listeners;
use sheep_proto::ReqFlags;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;

const SENTINEL_OID: u64 = 0x00c0_ffee_0000_0007;
const SENTINEL: &[u8] = b"sentinel object: must never change under fuzzing\0";

struct Env {
    rt: tokio::runtime::Runtime,
    addr: SocketAddr,
    probe: Client,
}

fn base_dir() -> std::path::PathBuf {
    if let Some(d) = std::env::var_os("SHEEP_FUZZ_DIR") {
        return d.into();
    }
    let shm = std::path::Path::new("/dev/shm/sheep-fuzz");
    if std::fs::create_dir_all(shm).is_ok() {
        return shm.into();
    }
    std::env::temp_dir().join("sheep-fuzz")
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let base = base_dir();
        // Stores of fuzz processes that are gone.
        if let Ok(rd) = std::fs::read_dir(&base) {
            for e in rd.flatten() {
                let pid = e.file_name().to_string_lossy().parse::<u32>().unwrap_or(0);
                if pid != 0 && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = base.join(std::process::id().to_string());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (addr, probe) = rt.block_on(async {
            let l = Listeners::bind("127.0.0.1:0".parse().unwrap(), &dir)
                .await
                .unwrap();
            let addr = l.tcp_addr().unwrap();
            let mut cfg = Config::new(&dir, addr);
            cfg.sync = false;
            cfg.park_timeout = Duration::ZERO;
            tokio::spawn(server::run(cfg, l, std::future::pending()));
            let probe = Client::connect(&Target::Tcp(addr)).await.unwrap();
            probe.make_fs(1, 22).await.unwrap();
            probe
                .create_and_write_obj(SENTINEL_OID, None, 0, SENTINEL)
                .await
                .unwrap();
            (addr, probe)
        });
        Env { rt, addr, probe }
    })
}

/// Defuses daemon-stopping / data-wiping requests and the sentinel oid, and
/// returns (opcode, id) of every request the sheep must answer: the
/// complete frames up to the first refused one (data_length above the
/// limit) or the incomplete one at EOF.
fn prepare(data: &[u8]) -> (Vec<u8>, Vec<(u8, u32)>) {
    let mut b = data.to_vec();
    let mut expect = Vec::new();
    let mut pos = 0;
    while pos + 48 <= b.len() {
        let h = &mut b[pos..pos + 48];
        if matches!(h[1], 0x84 | 0x85 | 0x9A) {
            h[1] = 0x7e; // no table defines it: INVALID_PARMS
        }
        for w in [16, 24, 32, 40] {
            if h[w..w + 8] == SENTINEL_OID.to_le_bytes() {
                h[w] ^= 0x80;
            }
        }
        let flags = ReqFlags(u16::from_le_bytes([h[2], h[3]]));
        let id = u32::from_le_bytes([h[8], h[9], h[10], h[11]]);
        let dl = u32::from_le_bytes([h[12], h[13], h[14], h[15]]) as usize;
        let plen = if flags.contains(ReqFlags::WRITE) {
            dl
        } else {
            0
        };
        if dl > MAX_PAYLOAD {
            break; // refused: the sheep answers what came before, then closes
        }
        if pos + 48 + plen > b.len() {
            break; // incomplete frame at EOF: not answered
        }
        expect.push((b[pos + 1], id));
        pos += 48 + plen;
    }
    (b, expect)
}

/// Reads into `buf` until it is full or the stream ends (EOF or an error,
/// e.g. the reset after a refused frame); returns the bytes read.
async fn fill(s: &TcpStream, buf: &mut [u8]) -> usize {
    let mut n = 0;
    while n < buf.len() {
        if s.readable().await.is_err() {
            break;
        }
        match s.try_read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
    }
    n
}

/// Consumes `len` bytes without copying them out of the kernel (TCP
/// MSG_TRUNC) until the stream ends; returns the bytes consumed.
async fn skip(s: &TcpStream, len: usize) -> usize {
    let fd = s.as_raw_fd();
    let mut n = 0;
    while n < len {
        if s.readable().await.is_err() {
            break;
        }
        let want = (len - n).min(1 << 30);
        let r = s.try_io(Interest::READABLE, || {
            // SAFETY: with MSG_TRUNC a TCP socket discards up to `want`
            // received bytes and never writes to the (null) buffer.
            let r = unsafe {
                libc::recv(
                    fd,
                    std::ptr::null_mut(),
                    want,
                    libc::MSG_TRUNC | libc::MSG_DONTWAIT,
                )
            };
            if r < 0 {
                Err(std::io::Error::last_os_error())
            } else {
                Ok(r as usize)
            }
        });
        match r {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(_) => break,
        }
    }
    n
}

/// Sends `input` on a fresh connection (then closes the write side) and
/// returns (opcode, id) of every response, until the sheep closes.
async fn exchange(addr: SocketAddr, input: &[u8]) -> Vec<(u8, u32)> {
    let mut s = TcpStream::connect(addr)
        .await
        .expect("sheep accepts connections");
    let (r, mut w) = s.split();
    // The sheep may close early (bad frame): write errors are fine.
    let write = async {
        let _ = w.write_all(input).await;
        let _ = w.shutdown().await;
    };
    // Parse the responses as they arrive; payloads are only counted.
    let read = async {
        let s: &TcpStream = r.as_ref();
        let mut got = Vec::new();
        let mut h = [0u8; 48];
        loop {
            let n = fill(s, &mut h).await;
            if n == 0 {
                break;
            }
            assert_eq!(n, 48, "trailing garbage after the responses");
            let h = sheep_proto::RspHeader::from_bytes(&h);
            let len = h.data_length as usize;
            assert!(len <= MAX_PAYLOAD);
            assert!(skip(s, len).await == len, "truncated response");
            got.push((h.opcode, h.id));
        }
        got
    };
    tokio::join!(write, read).1
}

fn main() {
    sdwire_fuzz::fuzz_main(|data: &[u8]| {
        let e = env();
        let (input, mut expect) = prepare(data);
        let mut got = e.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), exchange(e.addr, &input))
                .await
                .expect("sheep neither answered nor closed within 10 s")
        });
        got.sort_unstable();
        expect.sort_unstable();
        assert_eq!(got, expect, "responses do not match the requests");
        // The sheep still serves, and the sentinel is intact.
        let rb = e.rt.block_on(async {
            tokio::time::timeout(
                Duration::from_secs(10),
                e.probe.read_obj(SENTINEL_OID, 0, SENTINEL.len() as u32),
            )
            .await
            .expect("probe answered within 10 s")
            .expect("probe READ_OBJ succeeds")
        });
        assert_eq!(rb, Bytes::from_static(SENTINEL), "sentinel object changed");
    });
}
