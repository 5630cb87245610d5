//! `sheep --nbd`: real NBD clients (nbdinfo, nbdcopy from libnbd-bin;
//! qemu-img, qemu-io from qemu-utils) against sheep processes, checked
//! against `dog`, and a raw client built from `sheep_proto::nbd` for the
//! errors the tools never provoke.
//!
//! Ports (loopback, fixed and unique among the tests): sheep 7420/7421 with
//! NBD on 7422/7423; the raw-protocol sheep on 7424 with NBD on 7425.

mod support;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use sdwire::codec::Frame;
use sdwire::Unversioned;
use sheep_proto::nbd::{
    errno, rep, ClientFlags, ClientHello, Command, CommandFlags, Greeting, InfoRequest,
    OptionHeader, OptionReply, Request, SimpleReply,
};
use support::procs::{dog_bin, wait_members, SheepProc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const MIB: usize = 1 << 20;

/// Runs a tool; a missing tool fails the test with what to install.
async fn run(tool: &str, args: &[String], stdin: Option<&Path>) -> std::process::Output {
    let mut cmd = tokio::process::Command::new(tool);
    cmd.args(args).kill_on_drop(true);
    if let Some(p) = stdin {
        cmd.stdin(std::fs::File::open(p).unwrap());
    }
    match tokio::time::timeout(Duration::from_secs(60), cmd.output()).await {
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

/// Runs a tool and insists it succeeds.
async fn ok(tool: &str, args: &[&str]) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let out = run(tool, &args, None).await;
    assert!(out.status.success(), "{tool} {args:?}: {}", text(&out));
    out
}

async fn dog(sheep: SocketAddr, args: &[&str], stdin: Option<&Path>) -> Vec<u8> {
    let mut a = vec!["-a".to_string(), "127.0.0.1".into()];
    a.extend(["-p".to_string(), sheep.port().to_string()]);
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    // dog takes its options after the verb's arguments.
    all.append(&mut a);
    let out = run(dog_bin().to_str().unwrap(), &all, stdin).await;
    assert!(out.status.success(), "dog {args:?}: {}", text(&out));
    out.stdout
}

/// Waits until the NBD listener answers.
async fn wait_listening(port: u16, node: &SheepProc) {
    let t0 = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(15),
            "no NBD listener on {port}: {}",
            node.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Bytes that do not compress or repeat (xorshift).
fn random(len: usize, mut seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        out.extend_from_slice(&seed.to_ne_bytes());
    }
    out.truncate(len);
    out
}

fn uri(port: u16, export: &str) -> String {
    format!("nbd://127.0.0.1:{port}/{export}")
}

/// Two sheep with --nbd (copies 2): every tool, through both nodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nbd_tools_against_a_two_node_cluster() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let spec = format!("local:{}", dir.join("cluster").display());
    let (sheep, nbd) = ([7420u16, 7421], [7422u16, 7423]);
    let nodes: Vec<SheepProc> = (0..2)
        .map(|i| {
            let z = (i + 1).to_string();
            let n = format!("127.0.0.1:{}", nbd[i]);
            let store = dir.join(format!("s{i}"));
            SheepProc::spawn_on(sheep[i], &store, &spec, &["-z", &z, "--nbd", &n])
        })
        .collect();
    let mut clients = Vec::new();
    for n in &nodes {
        clients.push(n.client().await);
    }
    wait_members(&clients, 2, Duration::from_secs(20)).await;
    for (n, &p) in nodes.iter().zip(&nbd) {
        wait_listening(p, n).await;
    }
    let (a0, a1) = (nodes[0].addr, nodes[1].addr);
    dog(a0, &["cluster", "format", "-c", "2"], None).await;
    dog(a0, &["vdi", "create", "disk", "64M"], None).await;
    dog(a1, &["vdi", "create", "small", "8M"], None).await;

    // The exports are the VDIs, on every node.
    for &p in &nbd {
        let out = ok("nbdinfo", &["--list", &format!("nbd://127.0.0.1:{p}")]).await;
        let t = text(&out);
        assert!(t.contains("export=\"disk\""), "{t}");
        assert!(t.contains("export=\"small\""), "{t}");
        assert!(t.contains(&format!("export-size: {}", 64 * MIB)), "{t}");
        assert!(t.contains("block_size_maximum: 33554432"), "{t}");
    }

    // 64 MiB of random data in through one node, compared through the other.
    let data = random(64 * MIB, 0x5eed);
    let img = dir.join("rand.img");
    std::fs::write(&img, &data).unwrap();
    let img_s = img.to_str().unwrap();
    let (d0, d1) = (uri(nbd[0], "disk"), uri(nbd[1], "disk"));
    ok(
        "qemu-img",
        &["convert", "-n", "-f", "raw", "-O", "raw", img_s, &d0],
    )
    .await;
    let out = ok(
        "qemu-img",
        &["compare", "-f", "raw", "-F", "raw", img_s, &d1],
    )
    .await;
    assert!(text(&out).contains("identical"), "{}", text(&out));
    assert!(
        dog(a1, &["vdi", "read", "disk"], None).await == data,
        "dog reads what NBD wrote"
    );
    let out_img = dir.join("out.img");
    ok("nbdcopy", &[&d1, out_img.to_str().unwrap()]).await;
    assert!(
        std::fs::read(&out_img).unwrap() == data,
        "nbdcopy out equals the input"
    );

    // dog writes, NBD reads.
    let two = random(2 * MIB, 7);
    let two_f = dir.join("two.img");
    std::fs::write(&two_f, &two).unwrap();
    dog(a0, &["vdi", "write", "small", "1048576"], Some(&two_f)).await;
    let small = uri(nbd[1], "small");
    ok("nbdcopy", &[&small, out_img.to_str().unwrap()]).await;
    let got = std::fs::read(&out_img).unwrap();
    assert_eq!(got.len(), 8 * MIB);
    assert!(got[..MIB].iter().all(|&b| b == 0));
    assert!(got[MIB..3 * MIB] == two[..], "NBD reads what dog wrote");
    assert!(got[3 * MIB..].iter().all(|&b| b == 0));

    // qemu-io: patterns, flush, discard, write-zeroes, across objects.
    let cmds = [
        "write -P 0xab 1000 300000",
        "read -P 0xab 1000 300000",
        "flush",
        "write -P 0x11 4193280 2048",
        "read -P 0x11 4193280 2048",
        "discard 4M 4M",
        "read -P 0 4M 4M",
        "write -z 0 1M",
        "read -P 0 0 1M",
        "write -P 0x77 8384512 4096",
        "read -P 0x77 8384512 4096",
    ];
    let mut args = vec!["-f", "raw", small.as_str()];
    for c in &cmds {
        args.extend(["-c", c]);
    }
    let out = ok("qemu-io", &args).await;
    let t = text(&out);
    assert!(!t.contains("Pattern verification failed"), "{t}");
    assert!(!t.to_lowercase().contains("error"), "{t}");
    let got = dog(a0, &["vdi", "read", "small"], None).await;
    assert!(got[..MIB].iter().all(|&b| b == 0), "write-zeroes");
    assert!(got[MIB..3 * MIB] == two[..]);
    assert!(got[3 * MIB..4 * MIB - 1024].iter().all(|&b| b == 0));
    assert!(got[4 * MIB - 1024..4 * MIB].iter().all(|&b| b == 0x11));
    assert!(
        got[4 * MIB..8 * MIB - 4096].iter().all(|&b| b == 0),
        "discarded"
    );
    assert!(got[8 * MIB - 4096..].iter().all(|&b| b == 0x77));

    // A snapshot is exported read-only, by tag and by id, with the
    // pre-snapshot data; writes to the VDI copy on write.
    dog(a0, &["vdi", "snapshot", "-s", "before", "disk"], None).await;
    ok("qemu-io", &["-f", "raw", &d0, "-c", "write -P 0x5a 0 8M"]).await;
    for snap in ["disk@before", "disk@1"] {
        let s = uri(nbd[1], snap);
        let out = ok(
            "qemu-img",
            &["compare", "-f", "raw", "-F", "raw", img_s, &s],
        )
        .await;
        assert!(text(&out).contains("identical"), "{snap}: {}", text(&out));
        let t = text(&ok("nbdinfo", &[&s]).await);
        assert!(t.contains("is_read_only: true"), "{t}");
    }
    let now = dog(a1, &["vdi", "read", "disk", "0", "9437184"], None).await;
    assert!(now[..8 * MIB].iter().all(|&b| b == 0x5a));
    assert!(now[8 * MIB..] == data[8 * MIB..9 * MIB]);

    // An unknown export is refused, naming it.
    let out = run("nbdinfo", &[uri(nbd[0], "nope")], None).await;
    assert!(!out.status.success());
    assert!(text(&out).contains("nope"), "{}", text(&out));

    // Four nbdcopy connections at once into the VDI (copy-on-write of
    // every object of the snapshot), then four reading it back at once.
    let data2 = random(64 * MIB, 0xfeed);
    let img2 = dir.join("rand2.img");
    std::fs::write(&img2, &data2).unwrap();
    ok("nbdcopy", &["--connections=4", img2.to_str().unwrap(), &d1]).await;
    let outs: Vec<_> = (0..4).map(|i| dir.join(format!("par{i}.img"))).collect();
    let copies = outs.iter().enumerate().map(|(i, o)| {
        let src = uri(nbd[i % 2], "disk");
        let args = vec!["--connections=1".to_string(), src, o.display().to_string()];
        async move { run("nbdcopy", &args, None).await }
    });
    for out in futures::future::join_all(copies).await {
        assert!(out.status.success(), "{}", text(&out));
    }
    for o in &outs {
        assert!(
            std::fs::read(o).unwrap() == data2,
            "{} differs",
            o.display()
        );
    }
    let s = uri(nbd[0], "disk@before");
    let out = ok(
        "qemu-img",
        &["compare", "-f", "raw", "-F", "raw", img_s, &s],
    )
    .await;
    assert!(text(&out).contains("identical"), "snapshot unchanged");
}

/// A raw NBD client built from the protocol types.
struct Raw {
    io: TcpStream,
}

impl Raw {
    async fn connect(port: u16) -> Raw {
        let mut io = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        Greeting::decode_unversioned(&mut Raw::read(&mut io, 18).await).unwrap();
        let flags = ClientFlags::FIXED_NEWSTYLE | ClientFlags::NO_ZEROES;
        let hello = sdwire::to_vec_unversioned(&ClientHello { flags }).unwrap();
        io.write_all(&hello).await.unwrap();
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

    async fn option(&mut self, option: u32, data: Bytes) {
        let h = OptionHeader {
            magic: 0,
            option,
            length: 0,
        };
        let f = Frame::filled(h, data).unwrap();
        let mut out = sdwire::to_vec_unversioned(&f.header).unwrap();
        out.extend_from_slice(&f.payload);
        self.io.write_all(&out).await.unwrap();
    }

    async fn option_reply(&mut self) -> (OptionReply, Bytes) {
        let h = OptionReply::decode_unversioned(&mut Raw::read(&mut self.io, 20).await).unwrap();
        let data = Raw::read(&mut self.io, h.length as usize).await;
        (h, data)
    }

    /// NBD_OPT_GO; the replies up to the ACK or an error.
    async fn go(&mut self, name: &str) -> (OptionReply, Bytes) {
        let req = InfoRequest {
            name_len: name.len() as u32,
            name: Bytes::copy_from_slice(name.as_bytes()),
            n_requests: 0,
            requests: Vec::new(),
        };
        self.option(7, sdwire::to_bytes_unversioned(&req).unwrap())
            .await;
        loop {
            let (h, d) = self.option_reply().await;
            if h.reply != rep::INFO {
                return (h, d);
            }
        }
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

    /// One simple reply; `read_len` gives the data length of READ cookies.
    async fn reply(&mut self, read_len: &HashMap<u64, u32>) -> (SimpleReply, Bytes) {
        let r = SimpleReply::decode_unversioned(&mut Raw::read(&mut self.io, 16).await).unwrap();
        let n = if r.error == 0 {
            read_len.get(&r.cookie).copied().unwrap_or(0)
        } else {
            0
        };
        let d = Raw::read(&mut self.io, n as usize).await;
        (r, d)
    }

    async fn one(
        &mut self,
        kind: u16,
        flags: CommandFlags,
        offset: u64,
        length: u32,
        data: &[u8],
    ) -> (u32, Bytes) {
        self.request(kind, flags, 1, offset, length, data).await;
        let lens = if kind == Command::READ {
            HashMap::from([(1, length)])
        } else {
            HashMap::new()
        };
        let (r, d) = self.reply(&lens).await;
        assert_eq!(r.cookie, 1);
        (r.error, d)
    }

    async fn closed(mut self) -> bool {
        let mut b = [0u8; 64];
        matches!(
            tokio::time::timeout(Duration::from_secs(10), self.io.read(&mut b)).await,
            Ok(Ok(0)) | Ok(Err(_))
        )
    }
}

/// What the tools never send: every error gets its reply, the connection
/// stays usable, many requests are in flight at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn raw_protocol_errors_and_pipelining() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = format!("local:{}", tmp.path().join("cluster").display());
    let node = SheepProc::spawn_on(
        7424,
        &tmp.path().join("s"),
        &spec,
        &["--nbd", "127.0.0.1:7425"],
    );
    let _ = node.client().await;
    wait_listening(7425, &node).await;
    let a = node.addr;
    dog(a, &["cluster", "format", "-c", "1"], None).await;
    dog(a, &["vdi", "create", "d", "8M"], None).await;
    dog(a, &["vdi", "snapshot", "-s", "t", "d"], None).await;
    const NONE: CommandFlags = CommandFlags::empty();
    let size = 8 * MIB as u64;

    // Options: unknown, unknown export (with a message), then a snapshot.
    let mut c = Raw::connect(7425).await;
    c.option(0x99, Bytes::new()).await;
    let (h, _) = c.option_reply().await;
    assert_eq!((h.option, h.reply), (0x99, rep::ERR_UNSUP));
    let (h, msg) = c.go("nope").await;
    assert_eq!(h.reply, rep::ERR_UNKNOWN);
    assert!(String::from_utf8_lossy(&msg).contains("nope"), "{msg:?}");
    let (h, msg) = c.go("d@nosuchtag").await;
    assert_eq!(h.reply, rep::ERR_UNKNOWN);
    assert!(
        String::from_utf8_lossy(&msg).contains("nosuchtag"),
        "{msg:?}"
    );
    let (h, _) = c.go("d@t").await;
    assert_eq!(h.reply, rep::ACK);
    assert_eq!(
        c.one(Command::WRITE, NONE, 0, 512, &[1; 512]).await.0,
        errno::EPERM
    );
    assert_eq!(c.one(4, NONE, 0, 4096, &[]).await.0, errno::EPERM, "trim");
    assert_eq!(
        c.one(6, NONE, 0, 4096, &[]).await.0,
        errno::EPERM,
        "write zeroes"
    );
    assert_eq!(
        c.one(Command::READ, NONE, size - 512, 1024, &[]).await.0,
        errno::EINVAL
    );
    let (e, d) = c.one(Command::READ, NONE, 0, 4096, &[]).await;
    assert_eq!((e, d.len()), (0, 4096));
    assert!(d.iter().all(|&b| b == 0));

    // The VDI: range errors, unknown commands and flags, then 64 writes
    // and 64 reads in flight, across object boundaries.
    let mut c = Raw::connect(7425).await;
    assert_eq!(c.go("d").await.0.reply, rep::ACK);
    assert_eq!(
        c.one(Command::WRITE, NONE, size - 256, 512, &[2; 512])
            .await
            .0,
        errno::ENOSPC
    );
    assert_eq!(
        c.one(Command::READ, NONE, size, 1, &[]).await.0,
        errno::EINVAL
    );
    assert_eq!(
        c.one(Command::READ, NONE, u64::MAX, 1, &[]).await.0,
        errno::EINVAL
    );
    assert_eq!(
        c.one(4, NONE, size, 4096, &[]).await.0,
        errno::EINVAL,
        "trim past the end"
    );
    assert_eq!(
        c.one(42, NONE, 0, 0, &[]).await.0,
        errno::EINVAL,
        "unknown command"
    );
    let bad = CommandFlags::from_bits_retain(0x8000);
    assert_eq!(
        c.one(Command::READ, bad, 0, 512, &[]).await.0,
        errno::EINVAL,
        "unknown flag"
    );
    let piece = 96 * 1024u64;
    let data = random(64 * piece as usize, 3);
    for i in 0..64u64 {
        let at = (i * piece) as usize;
        let fua = if i % 2 == 0 { CommandFlags::FUA } else { NONE };
        c.request(
            Command::WRITE,
            fua,
            100 + i,
            i * piece,
            piece as u32,
            &data[at..at + piece as usize],
        )
        .await;
    }
    let mut seen = std::collections::HashSet::new();
    for _ in 0..64 {
        let (r, _) = c.reply(&HashMap::new()).await;
        assert_eq!(r.error, 0, "write {}", r.cookie);
        assert!(seen.insert(r.cookie));
    }
    let lens: HashMap<u64, u32> = (0..64).map(|i| (200 + i, piece as u32)).collect();
    for i in 0..64u64 {
        c.request(Command::READ, NONE, 200 + i, i * piece, piece as u32, &[])
            .await;
    }
    for _ in 0..64 {
        let (r, d) = c.reply(&lens).await;
        assert_eq!(r.error, 0);
        let at = ((r.cookie - 200) * piece) as usize;
        assert!(d[..] == data[at..at + piece as usize], "read {}", r.cookie);
    }
    assert_eq!(c.one(3, NONE, 0, 0, &[]).await.0, 0, "flush");
    c.request(2, NONE, 9, 0, 0, &[]).await;
    assert!(c.closed().await, "DISC closes");
    let on_disk = dog(
        a,
        &["vdi", "read", "d", "0", &(64 * piece).to_string()],
        None,
    )
    .await;
    assert!(on_disk == data, "dog reads the pipelined writes");

    // A request with a bad magic closes the connection cleanly; the
    // server goes on serving.
    let mut c = Raw::connect(7425).await;
    assert_eq!(c.go("d").await.0.reply, rep::ACK);
    c.io.write_all(&[0xee; 28]).await.unwrap();
    assert!(c.closed().await, "bad magic closes");
    let mut c = Raw::connect(7425).await;
    assert_eq!(c.go("d").await.0.reply, rep::ACK);
    let (e, d) = c.one(Command::READ, NONE, 0, 8, &[]).await;
    assert_eq!((e, &d[..]), (0, &data[..8]));
    assert!(node.log().contains("nbd"), "errors are logged");
}
