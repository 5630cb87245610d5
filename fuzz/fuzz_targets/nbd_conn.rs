//! A whole NBD connection to `sheep --nbd`: the input is written as-is into
//! a fresh TCP connection to the NBD listener of a live, formatted sheep on
//! 127.0.0.1 (started once per fuzz process, with a VDI `f` to play with),
//! then the write side is closed.
//!
//! Invariants:
//! * the sheep answers what it answers and closes the connection within
//!   10 s (else: a wedged connection, reported as a crash);
//! * afterwards it still serves a well-behaved NBD client: GO on the
//!   `sentinel` VDI and a READ of its first bytes, which never change.
//!
//! The input cannot name the sentinel export (`sentinel` is defused to
//! `sentinex` before sending), so only hostile framing and arguments are
//! exercised, never a legitimate write to the sentinel.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use sdwire::codec::Frame;
use sdwire::Unversioned;
use sheep::server::{self, Config, Listeners};
use sheep_client::{Client, Target};
use sheep_proto::nbd::{
    rep, ClientFlags, ClientHello, Command, CommandFlags, Greeting, InfoRequest, OptionHeader,
    OptionReply, Request, SimpleReply,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SENTINEL: &[u8] = b"sentinel VDI: must never change under fuzzing\0";

struct Env {
    rt: tokio::runtime::Runtime,
    nbd: SocketAddr,
}

fn base_dir() -> std::path::PathBuf {
    if let Some(d) = std::env::var_os("SHEEP_FUZZ_DIR") {
        return d.into();
    }
    let shm = std::path::Path::new("/dev/shm/sheep-fuzz-nbd");
    if std::fs::create_dir_all(shm).is_ok() {
        return shm.into();
    }
    std::env::temp_dir().join("sheep-fuzz-nbd")
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let dir = base_dir().join(std::process::id().to_string());
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let nbd = rt.block_on(async {
            let l = Listeners::bind("127.0.0.1:0".parse().unwrap(), &dir)
                .await
                .unwrap()
                .with_nbd("127.0.0.1:0".parse().unwrap())
                .await
                .unwrap();
            let (addr, nbd) = (l.tcp_addr().unwrap(), l.nbd_addr().unwrap());
            let mut cfg = Config::new(&dir, addr);
            cfg.sync = false;
            cfg.park_timeout = Duration::ZERO;
            tokio::spawn(server::run(cfg, l, std::future::pending()));
            let c = Client::connect(&Target::Tcp(addr)).await.unwrap();
            c.make_fs(1, 22).await.unwrap();
            c.new_vdi("f", 8 << 20).await.unwrap();
            let vid = c.new_vdi("sentinel", 4 << 20).await.unwrap();
            c.vdi_write(vid, 0, SENTINEL).await.unwrap();
            nbd
        });
        Env { rt, nbd }
    })
}

/// Defuses every mention of the sentinel export.
fn prepare(data: &[u8]) -> Vec<u8> {
    let mut b = data.to_vec();
    let pat = b"sentinel";
    let mut i = 0;
    while i + pat.len() <= b.len() {
        if &b[i..i + pat.len()] == pat {
            b[i + pat.len() - 1] = b'x';
        }
        i += 1;
    }
    b
}

/// Sends `input` (then closes the write side) and reads until the sheep
/// closes.
async fn exchange(addr: SocketAddr, input: &[u8]) {
    let mut s = TcpStream::connect(addr).await.expect("sheep accepts NBD");
    let (mut r, mut w) = s.split();
    let write = async {
        let _ = w.write_all(input).await;
        let _ = w.shutdown().await;
    };
    let read = async {
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(n) = r.read(&mut buf).await {
            if n == 0 {
                break;
            }
        }
    };
    tokio::join!(write, read);
}

async fn read_n(s: &mut TcpStream, n: usize) -> Bytes {
    let mut b = BytesMut::zeroed(n);
    s.read_exact(&mut b).await.expect("probe reply");
    b.freeze()
}

/// A well-behaved client: GO on the sentinel and READ its first bytes.
async fn probe(addr: SocketAddr) -> Bytes {
    let mut s = TcpStream::connect(addr).await.expect("sheep accepts NBD");
    Greeting::decode_unversioned(&mut read_n(&mut s, 18).await).expect("greeting");
    let flags = ClientFlags::FIXED_NEWSTYLE | ClientFlags::NO_ZEROES;
    let hello = sdwire::to_vec_unversioned(&ClientHello { flags }).unwrap();
    s.write_all(&hello).await.unwrap();
    let req = InfoRequest {
        name_len: 8,
        name: Bytes::from_static(b"sentinel"),
        n_requests: 0,
        requests: Vec::new(),
    };
    let h = OptionHeader {
        magic: 0,
        option: 7,
        length: 0,
    };
    let f = Frame::filled(h, sdwire::to_bytes_unversioned(&req).unwrap()).unwrap();
    let mut out = sdwire::to_vec_unversioned(&f.header).unwrap();
    out.extend_from_slice(&f.payload);
    s.write_all(&out).await.unwrap();
    loop {
        let r = OptionReply::decode_unversioned(&mut read_n(&mut s, 20).await).unwrap();
        read_n(&mut s, r.length as usize).await;
        assert!(r.reply == rep::INFO || r.reply == rep::ACK, "GO refused: {r:?}");
        if r.reply == rep::ACK {
            break;
        }
    }
    let read = Request {
        magic: 0,
        flags: CommandFlags::empty(),
        kind: Command::READ,
        cookie: 7,
        offset: 0,
        length: SENTINEL.len() as u32,
    };
    s.write_all(&sdwire::to_vec_unversioned(&read).unwrap())
        .await
        .unwrap();
    let r = SimpleReply::decode_unversioned(&mut read_n(&mut s, 16).await).unwrap();
    assert_eq!((r.error, r.cookie), (0, 7), "probe READ failed");
    read_n(&mut s, SENTINEL.len()).await
}

fn main() {
    sdwire_fuzz::fuzz_main(|data: &[u8]| {
        let e = env();
        let input = prepare(data);
        e.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), exchange(e.nbd, &input))
                .await
                .expect("sheep neither finished nor closed within 10 s")
        });
        let got = e.rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(10), probe(e.nbd))
                .await
                .expect("probe answered within 10 s")
        });
        assert_eq!(&got[..], SENTINEL, "sentinel VDI changed");
    });
}
