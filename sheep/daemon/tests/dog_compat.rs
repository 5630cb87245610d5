//! Byte-compatibility of OUR dog with the C dog: each dog scenario of the
//! golden traces is replayed by a recording stub server (one listener per
//! sheep port of the trace) that answers the n-th request with the recorded
//! response of the n-th `from dog` exchange; then the requests our dog sent
//! are compared with the recorded ones.
//!
//! Compared: destination sheep, every header byte and the payload bytes
//! (the whole payload, or the recorded 64 KiB prefix plus the length when the
//! trace truncated it). Exceptions, run-specific values only:
//! * `id` (bytes 8..12): the C dog sends 0; our client numbers requests so it
//!   can pipeline;
//! * MAKE_FS `cluster.ctime` (bytes 24..32): the format time.
//!
//! Every scenario runs twice: with the default `--inflight` (16) and with
//! `--inflight 1` (the C dog's one-at-a-time pattern). In these scenarios
//! every transfer touches one object, so both give the same sequence.
//!
//! Stub answers: truncated recorded payloads are zero-padded; a truncated
//! READ_VDIS bitmap gets the bits of the vids the trace's dog later reads,
//! and the result is checked against the recorded SHA-256.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};
use sheep_client::dog::{self, Env};
use sheep_client::Target;
use sheep_testkit::trace::{Endpoint, Exchange, Trace};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

#[derive(Default)]
struct Rec {
    next: usize,
    got: Vec<(u16, [u8; 48], Vec<u8>)>,
}

fn response(t: &Trace, ex: &Exchange) -> ([u8; 48], Vec<u8>) {
    let rsp = ex.rsp.as_ref().expect("recorded response");
    let mut p = rsp.payload.bytes.clone();
    if rsp.payload.truncated {
        p.resize(rsp.payload.len, 0);
        // Vids the dog reads, plus the two deleted in vdi-delete and
        // vdi-delete-snapshot (still in use, flagged in the deleted bitmap).
        let mut read = Vec::new();
        for e in t.exchanges.iter().filter(|e| e.from == Endpoint::Dog) {
            let oid = u64::from_le_bytes(e.req_hdr[16..24].try_into().unwrap());
            if e.opcode == 0x02 && oid >> 63 == 1 {
                read.push(((oid >> 32) & 0xff_ffff) as usize);
            }
        }
        let deleted = [0xc8f989usize, 0x7c2b25];
        let sets: Vec<Vec<usize>> = match ex.opcode {
            0x15 => vec![read.clone(), [read, deleted.to_vec()].concat()],
            0xc9 => vec![vec![], deleted.to_vec()],
            _ => vec![vec![]],
        };
        let mut ok = false;
        for set in sets {
            let mut q = p.clone();
            for v in set {
                q[v / 8] |= 1 << (v % 8);
            }
            let sha: [u8; 32] = Sha256::digest(&q).into();
            if Some(sha) == rsp.payload.sha256 || !matches!(ex.opcode, 0x15 | 0xc9) {
                p = q;
                ok = true;
                break;
            }
        }
        assert!(
            ok,
            "could not rebuild the truncated bitmap of op {:#x}",
            ex.opcode
        );
    }
    (rsp.hdr, p)
}

async fn stub(t: Arc<Trace>, rec: Arc<Mutex<Rec>>) -> BTreeMap<u16, SocketAddr> {
    let dog: Vec<Exchange> = t
        .exchanges
        .iter()
        .filter(|e| e.from == Endpoint::Dog)
        .cloned()
        .collect();
    let dog = Arc::new(dog);
    let mut ports = BTreeMap::new();
    for e in dog.iter() {
        if ports.contains_key(&e.to_port) {
            continue;
        }
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        ports.insert(e.to_port, l.local_addr().unwrap());
        let (t, rec, dog, port) = (t.clone(), rec.clone(), dog.clone(), e.to_port);
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let (t, rec, dog) = (t.clone(), rec.clone(), dog.clone());
                tokio::spawn(async move {
                    loop {
                        let mut h = [0u8; 48];
                        if s.read_exact(&mut h).await.is_err() {
                            return;
                        }
                        let flags = u16::from_le_bytes([h[2], h[3]]);
                        let len = u32::from_le_bytes(h[12..16].try_into().unwrap()) as usize;
                        let mut p = vec![0u8; if flags & 1 != 0 { len } else { 0 }];
                        if s.read_exact(&mut p).await.is_err() {
                            return;
                        }
                        let n = {
                            let mut r = rec.lock().unwrap();
                            r.got.push((port, h, p));
                            r.next += 1;
                            r.next - 1
                        };
                        let Some(ex) = dog.get(n) else { return };
                        let (mut rh, rp) = response(&t, ex);
                        rh[8..12].copy_from_slice(&h[8..12]);
                        if s.write_all(&rh).await.is_err() || s.write_all(&rp).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
    }
    ports
}

/// Concatenated data payloads the C dog wrote (stdin of `vdi write`).
fn stdin_of(t: &Trace) -> Vec<u8> {
    let mut v = Vec::new();
    for e in t.exchanges.iter().filter(|e| e.from == Endpoint::Dog) {
        let oid = u64::from_le_bytes(e.req_hdr[16..24].try_into().unwrap());
        if matches!(e.opcode, 0x01 | 0x03) && oid >> 59 == 0 {
            let mut p = e.req_payload.bytes.clone();
            p.resize(e.req_payload.len, 0);
            v.extend_from_slice(&p);
        }
    }
    v
}

async fn scenario(name: &str, cmds: &[(&[&str], bool)], extra: &[&str]) {
    let t = Arc::new(Trace::load_scenario(name).unwrap());
    let rec = Arc::new(Mutex::new(Rec::default()));
    let ports = stub(t.clone(), rec.clone()).await;
    let input = stdin_of(&t);
    for (args, ok) in cmds {
        let p2 = ports.clone();
        let mut env = Env {
            connect: Arc::new(move |a: SocketAddr| {
                Target::Tcp(*p2.get(&a.port()).unwrap_or(&"127.0.0.1:1".parse().unwrap()))
            }),
            stdin: Box::new(std::io::Cursor::new(input.clone())),
            stdout: Box::new(tokio::io::sink()),
            progress: false,
            direct_stdio: false,
        };
        let mut argv = vec!["dog"];
        argv.extend_from_slice(args);
        argv.extend_from_slice(extra);
        let r = dog::run(argv.clone(), &mut env).await;
        assert_eq!(r.is_ok(), *ok, "{name}: {argv:?} -> {r:?}");
    }
    let want: Vec<&Exchange> = t
        .exchanges
        .iter()
        .filter(|e| e.from == Endpoint::Dog)
        .collect();
    let got = &rec.lock().unwrap().got;
    let ops = |v: &mut dyn Iterator<Item = u8>| v.map(|o| format!("{o:02x}")).collect::<Vec<_>>();
    assert_eq!(
        ops(&mut got.iter().map(|g| g.1[1])),
        ops(&mut want.iter().map(|e| e.opcode)),
        "{name} {extra:?}: opcode sequence"
    );
    for (i, (w, (port, h, p))) in want.iter().zip(got.iter()).enumerate() {
        let ctx = format!("{name} {extra:?} request {i} (op {:#04x})", w.opcode);
        assert_eq!(*port, w.to_port, "{ctx}: destination");
        let mut a = *h;
        let mut b = w.req_hdr;
        a[8..12].fill(0);
        b[8..12].fill(0);
        if w.opcode == 0x84 {
            a[24..32].fill(0);
            b[24..32].fill(0);
        }
        assert_eq!(hex::encode(a), hex::encode(b), "{ctx}: header");
        assert_eq!(p.len(), w.req_payload.len, "{ctx}: payload length");
        let k = w.req_payload.bytes.len();
        assert_eq!(
            hex::encode(&p[..k]),
            hex::encode(&w.req_payload.bytes),
            "{ctx}: payload bytes"
        );
    }
}

async fn both(name: &str, cmds: &[(&[&str], bool)]) {
    scenario(name, cmds, &[]).await;
    scenario(name, cmds, &["--inflight", "1"]).await;
}

macro_rules! compat {
    ($f:ident, $name:literal, $( [$($a:literal),*] => $ok:expr ),+ ) => {
        #[tokio::test]
        async fn $f() {
            both($name, &[ $( (&[$($a),*], $ok) ),+ ]).await;
        }
    };
}

compat!(cluster_format, "cluster-format", ["cluster", "format", "-c", "2"] => true);
compat!(cluster_info_unformatted, "cluster-info-unformatted", ["cluster", "info"] => true);
compat!(cluster_info, "cluster-info", ["cluster", "info"] => true);
compat!(cluster_shutdown, "cluster-shutdown", ["cluster", "shutdown", "-p", "7001"] => true);
compat!(node_list, "node-list", ["node", "list"] => true);
compat!(node_info, "node-info", ["node", "info"] => true);
compat!(node_recovery, "node-join-recovery",
    ["node", "list"] => true, ["node", "recovery"] => true, ["cluster", "info"] => true);
compat!(vdi_create, "vdi-create", ["vdi", "create", "test", "64M"] => true);
compat!(vdi_write, "vdi-write", ["vdi", "write", "test", "0", "4096"] => true);
compat!(vdi_overwrite, "vdi-overwrite", ["vdi", "write", "test", "4096", "4096"] => true);
compat!(vdi_write_1m, "vdi-write-1m", ["vdi", "write", "test", "8388608", "1048576"] => true);
compat!(vdi_read, "vdi-read", ["vdi", "read", "test", "0", "8192"] => true);
compat!(vdi_read_each_gateway, "vdi-read-each-gateway",
    ["vdi", "read", "-p", "7000", "test", "0", "4096"] => true,
    ["vdi", "read", "-p", "7001", "test", "0", "4096"] => true,
    ["vdi", "read", "-p", "7002", "test", "0", "4096"] => true);
compat!(vdi_list, "vdi-list", ["vdi", "list"] => true);
compat!(vdi_list_after_delete, "vdi-list-after-delete", ["vdi", "list"] => true);
compat!(vdi_snapshot, "vdi-snapshot", ["vdi", "snapshot", "-s", "snap1", "test"] => true);
compat!(vdi_clone, "vdi-clone", ["vdi", "clone", "-s", "snap1", "test", "clone1"] => true);
compat!(clone_write_cow, "clone-write-cow", ["vdi", "write", "clone1", "0", "512"] => true);
compat!(clone_read, "clone-read", ["vdi", "read", "clone1", "0", "8192"] => true);
compat!(vdi_delete, "vdi-delete", ["vdi", "delete", "clone1"] => true);
compat!(vdi_delete_snapshot, "vdi-delete-snapshot", ["vdi", "delete", "-s", "snap1", "test"] => true);
compat!(errors, "errors",
    ["vdi", "create", "test", "64M"] => false,
    ["vdi", "read", "nosuch", "0", "512"] => false,
    ["vdi", "delete", "nosuch"] => false,
    ["vdi", "snapshot", "-s", "snap1", "test"] => false);
