//! The `examples/nbd` server driven by real NBD clients (`nbdinfo` from
//! libnbd-bin, `qemu-io` from qemu-utils) and by a raw client written with
//! the same sdwire types, on an ephemeral loopback port.

#[path = "../examples/nbd/proto.rs"]
mod proto;
#[path = "../examples/nbd/server.rs"]
mod server;

use bytes::{Bytes, BytesMut};
use proto::{
    errno, rep, ClientFlags, ClientHello, CommandFlags, ExportNameReply, Greeting, HandshakeFlags,
    OptionHeader, OptionReply, ReadReply, Request, SimpleReply, TransmissionFlags,
};
use sdwire::codec::Frame;
use sdwire::Unversioned;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const DISK: usize = 16 << 20;
const RO: usize = 1 << 20;

struct Running {
    port: u16,
    exports: Arc<server::Exports>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

async fn start() -> Running {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let exports = Arc::new(server::Exports::new(&[
        ("disk", DISK, false),
        ("ro", RO, true),
    ]));
    // The read-only export holds a pattern to read back.
    exports.disks["ro"].data.write().unwrap()[..4].copy_from_slice(b"sdwi");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(server::serve(listener, exports.clone(), async {
        let _ = stopped.await;
    }));
    Running {
        port,
        exports,
        _stop: stop,
    }
}

/// Runs a client tool; a missing tool fails the test with what to install.
async fn run(tool: &str, args: &[String]) -> std::process::Output {
    let child = tokio::process::Command::new(tool)
        .args(args)
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(Duration::from_secs(60), child).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => panic!("cannot run {tool} ({e}): install libnbd-bin and qemu-utils"),
        Err(_) => panic!("{tool} {args:?} did not finish in 60 s"),
    }
}

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nbdinfo_lists_the_exports_with_sizes_and_flags() {
    let s = start().await;
    let out = run(
        "nbdinfo",
        &["--list".into(), format!("nbd://127.0.0.1:{}", s.port)],
    )
    .await;
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("export=\"disk\""), "{t}");
    assert!(t.contains("export=\"ro\""), "{t}");
    assert!(t.contains(&format!("export-size: {DISK}")), "{t}");
    assert!(t.contains(&format!("export-size: {RO}")), "{t}");
    assert!(t.contains("is_read_only: true"), "{t}");
    assert!(t.contains("block_size_maximum: 33554432"), "{t}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qemu_io_data_reads_back_and_lands_on_the_disk() {
    let s = start().await;
    let uri = format!("nbd://127.0.0.1:{}/disk", s.port);
    let cmds = [
        "write -P 0xab 4096 1M",
        "read -P 0xab 4096 1M",
        "flush",
        "write -z 8192 4k",
        "read -P 0 8192 4k",
        "write -P 0x5c 0 4k",
        "discard 0 4k",
        "read -P 0 0 4k",
        "write -P 0x11 16773120 4096",
    ];
    let mut args = vec!["-f".to_string(), "raw".into(), uri];
    for c in cmds {
        args.extend(["-c".to_string(), c.to_string()]);
    }
    let out = run("qemu-io", &args).await;
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(!t.contains("Pattern verification failed"), "{t}");
    assert!(!t.to_lowercase().contains("error"), "{t}");
    let disk = s.exports.disks["disk"].data.read().unwrap();
    assert!(disk[..4096].iter().all(|&b| b == 0), "discarded");
    assert!(disk[4096..8192].iter().all(|&b| b == 0xab));
    assert!(
        disk[8192..12288].iter().all(|&b| b == 0),
        "written as zeroes"
    );
    assert!(disk[12288..4096 + (1 << 20)].iter().all(|&b| b == 0xab));
    assert!(disk[DISK - 4096..].iter().all(|&b| b == 0x11));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_export_is_refused_and_writes_to_a_read_only_one_fail() {
    let s = start().await;
    let out = run("nbdinfo", &[format!("nbd://127.0.0.1:{}/nope", s.port)]).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("nope"), "{}", text(&out));
    // The export says it is read-only: qemu refuses to open it for writing,
    // and reads it when asked to open it read-only.
    let uri = format!("nbd://127.0.0.1:{}/ro", s.port);
    let args = |extra: &[&str]| {
        let mut a: Vec<String> = extra.iter().map(|x| x.to_string()).collect();
        a.extend(["-f".into(), "raw".into(), uri.clone()]);
        a.extend([
            "-c".into(),
            "read -P 0 4 508".into(),
            "-c".into(),
            "write 0 512".into(),
        ]);
        a
    };
    let out = run("qemu-io", &args(&[])).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("Permission denied"), "{}", text(&out));
    let out = run("qemu-io", &args(&["-r"])).await;
    let t = text(&out);
    assert!(t.contains("read 508/508"), "{t}");
    assert!(!t.contains("wrote"), "{t}");
    assert_eq!(&s.exports.disks["ro"].data.read().unwrap()[..4], b"sdwi");
}

/// A raw client built from the same types, for what the tools never send.
struct Raw {
    io: TcpStream,
}

impl Raw {
    async fn connect(port: u16, flags: ClientFlags) -> Raw {
        let mut io = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let g: Greeting = Greeting::decode_unversioned(&mut Raw::read(&mut io, 18).await).unwrap();
        assert_eq!(
            g.flags,
            HandshakeFlags::FIXED_NEWSTYLE | HandshakeFlags::NO_ZEROES
        );
        io.write_all(&sdwire::to_vec_unversioned(&ClientHello { flags }).unwrap())
            .await
            .unwrap();
        Raw { io }
    }

    async fn read(io: &mut TcpStream, n: usize) -> Bytes {
        let mut b = BytesMut::zeroed(n);
        tokio::time::timeout(Duration::from_secs(10), io.read_exact(&mut b))
            .await
            .expect("server answers")
            .expect("connection open");
        b.freeze()
    }

    async fn option(&mut self, option: u32, data: &[u8]) {
        let f = Frame::filled(
            OptionHeader {
                magic: 0,
                option,
                length: 0,
            },
            Bytes::copy_from_slice(data),
        )
        .unwrap();
        let mut out = sdwire::to_vec_unversioned(&f.header).unwrap();
        out.extend_from_slice(&f.payload);
        self.io.write_all(&out).await.unwrap();
    }

    /// One option reply: header and data.
    async fn option_reply(&mut self) -> (OptionReply, Bytes) {
        let h = OptionReply::decode_unversioned(&mut Raw::read(&mut self.io, 20).await).unwrap();
        let data = Raw::read(&mut self.io, h.length as usize).await;
        (h, data)
    }

    async fn request(
        &mut self,
        kind: u16,
        flags: CommandFlags,
        cookie: u64,
        offset: u64,
        length: u32,
        data: &[u8],
    ) {
        let r = Request {
            magic: 0,
            flags,
            kind,
            cookie,
            offset,
            length,
        };
        let mut out = sdwire::to_vec_unversioned(&r).unwrap();
        out.extend_from_slice(data);
        self.io.write_all(&out).await.unwrap();
    }

    /// A simple reply carrying `data_len` bytes (the READ's length, or 0).
    async fn reply(&mut self, data_len: usize) -> ReadReply {
        let head = Raw::read(&mut self.io, 16).await;
        // An error reply carries no data: read the header alone first.
        let error = SimpleReply::decode_unversioned(&mut head.clone())
            .unwrap()
            .error;
        let len = if error == 0 { data_len } else { 0 };
        let body = Raw::read(&mut self.io, len).await;
        let mut all = BytesMut::from(&head[..]);
        all.extend_from_slice(&body);
        sdwire::decode_with_len(&mut all.freeze(), 0, len).unwrap()
    }

    async fn closed(&mut self) -> bool {
        let mut b = [0u8; 1];
        matches!(
            tokio::time::timeout(Duration::from_secs(10), self.io.read(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_name_padding_follows_no_zeroes_and_bad_requests_get_errors() {
    let s = start().await;
    // Without NO_ZEROES: 124 zero bytes after size and flags.
    let mut c = Raw::connect(s.port, ClientFlags::FIXED_NEWSTYLE).await;
    c.option(1, b"ro").await;
    let info: ExportNameReply =
        sdwire::decode_with_len(&mut Raw::read(&mut c.io, 134).await, 0, 124).unwrap();
    assert_eq!(info.size, RO as u64);
    assert!(info.flags.contains(TransmissionFlags::READ_ONLY));
    assert!(info.zeroes.is_some());
    c.request(1, CommandFlags::empty(), 1, 0, 4, b"oops").await;
    assert_eq!(c.reply(0).await.error, errno::EPERM);
    c.request(0, CommandFlags::empty(), 2, RO as u64 - 2, 4, b"")
        .await;
    assert_eq!(c.reply(4).await.error, errno::EINVAL);
    c.request(0, CommandFlags::empty(), 3, 0, 4, b"").await;
    let r = c.reply(4).await;
    assert_eq!((r.error, r.cookie, &r.data[..]), (0, 3, &b"sdwi"[..]));
    c.request(99, CommandFlags::empty(), 4, 0, 0, b"").await;
    assert_eq!(c.reply(0).await.error, errno::EINVAL);
    c.request(0, CommandFlags::from_bits_retain(0x8000), 5, 0, 4, b"")
        .await;
    assert_eq!(c.reply(4).await.error, errno::EINVAL);
    c.request(2, CommandFlags::empty(), 6, 0, 0, b"").await;
    assert!(c.closed().await, "DISC closes the connection");

    // With NO_ZEROES: exactly size and flags, then transmission at once.
    let mut c = Raw::connect(s.port, ClientFlags::FIXED_NEWSTYLE | ClientFlags::NO_ZEROES).await;
    c.option(1, b"disk").await;
    let info: ExportNameReply =
        sdwire::decode_with_len(&mut Raw::read(&mut c.io, 10).await, 0, 0).unwrap();
    assert_eq!((info.size, info.zeroes), (DISK as u64, None));
    c.request(1, CommandFlags::FUA, 7, DISK as u64 - 2, 4, b"long")
        .await;
    assert_eq!(c.reply(0).await.error, errno::ENOSPC);
    c.request(1, CommandFlags::FUA, 8, 100, 4, b"data").await;
    assert_eq!(c.reply(0).await.error, 0);
    assert_eq!(
        &s.exports.disks["disk"].data.read().unwrap()[100..104],
        b"data"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_options_get_error_replies_and_bad_framing_closes() {
    let s = start().await;
    let mut c = Raw::connect(s.port, ClientFlags::FIXED_NEWSTYLE).await;
    c.option(42, b"").await;
    let (h, msg) = c.option_reply().await;
    assert_eq!((h.option, h.reply), (42, rep::ERR_UNSUP));
    assert!(!msg.is_empty());
    // GO whose name length runs past its data.
    c.option(7, &[0, 0, 0, 100, b'd']).await;
    let (h, msg) = c.option_reply().await;
    assert_eq!((h.option, h.reply), (7, rep::ERR_INVALID));
    assert!(String::from_utf8_lossy(&msg).contains("name"), "{msg:?}");
    c.option(7, &[0, 0, 0, 4, b'n', b'o', b'p', b'e', 0, 0])
        .await;
    assert_eq!(c.option_reply().await.0.reply, rep::ERR_UNKNOWN);
    c.option(2, b"").await;
    assert_eq!(c.option_reply().await.0.reply, rep::ACK);
    assert!(c.closed().await, "ABORT closes after its ACK");

    // A client flag the server does not know ends the handshake.
    let mut c = Raw::connect(s.port, ClientFlags::from_bits_retain(1 << 7)).await;
    assert!(c.closed().await);
    // So does an option without its magic.
    let mut c = Raw::connect(s.port, ClientFlags::FIXED_NEWSTYLE).await;
    c.io.write_all(&[0u8; 16]).await.unwrap();
    assert!(c.closed().await);
}
