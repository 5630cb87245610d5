//! Writes the seed corpora `fuzz/seeds/<target>/` from the golden traces in
//! `tests/data/traces/`: every request/response header and every recorded
//! payload, laid out as each target's input format expects.
//!
//! The cluster protocol targets (`cluster_record`, `cluster_join`,
//! `cluster_notice`) are seeded from the golden bytes of cluster protocol v1
//! in `sheep/tests/data/cluster-v1/`.
//!
//! Usage: `cargo run --release --bin seeds [OUT_DIR]` (default: `seeds` next
//! to this crate's Cargo.toml). Duplicates are written once; payloads are
//! capped so the corpora stay small.
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use sheep_proto::oid::SD_INODE_HEADER_SIZE;
use sheep_testkit::trace::{self, Exchange};

const CAP: usize = 16 << 10;

#[derive(Default)]
struct Out {
    sets: BTreeMap<&'static str, BTreeSet<Vec<u8>>>,
}

impl Out {
    fn add(&mut self, target: &'static str, mut seed: Vec<u8>) {
        seed.truncate(CAP);
        self.sets.entry(target).or_default().insert(seed);
    }
}

fn cap(b: &[u8]) -> &[u8] {
    &b[..b.len().min(CAP)]
}

fn is_write(x: &Exchange) -> bool {
    x.req_flags() & 1 == 1
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("seeds"));
    let traces = trace::load_all().expect("traces load");
    let mut o = Out::default();
    for t in &traces {
        // Per-connection request streams (frame codec, live sheep).
        let mut conns: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
        let mut rsp_streams: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
        for x in &t.exchanges {
            let op = x.opcode;
            let slots = if op == 0x87 { x.req_hdr[16 + 24] } else { 0 };
            // headers: request ++ response.
            let mut h = x.req_hdr.to_vec();
            if let Some(r) = &x.rsp {
                h.extend_from_slice(&r.hdr);
            }
            o.add("headers", h);
            o.add("headers", x.req_hdr.to_vec());
            // payload: [opcode, WRITE, slots] ++ bytes, for both directions.
            if is_write(x) && !x.req_payload.bytes.is_empty() {
                let mut s = vec![op, 1, slots];
                s.extend_from_slice(cap(&x.req_payload.bytes));
                o.add("payload", s);
                if x.req_payload.is_complete() {
                    // inode: byte-range writes at the request's offset.
                    let off = u32::from_le_bytes(x.req_hdr[16 + 24..16 + 28].try_into().unwrap());
                    if matches!(op, 0x01 | 0x03 | 0xA3 | 0xA5) && x.req_payload.len <= 4096 {
                        let mut s = vec![6u8];
                        s.extend_from_slice(&u64::from(off).to_le_bytes());
                        s.extend_from_slice(&x.req_payload.bytes);
                        o.add("inode", s);
                    }
                }
                if op == 0x89 {
                    let mut s = vec![0x20u8];
                    s.extend_from_slice(cap(&x.req_payload.bytes));
                    o.add("cluster_info", s);
                }
            }
            if let Some(r) = &x.rsp {
                let p = &r.payload.bytes;
                if !p.is_empty() {
                    let mut s = vec![op, 0, slots];
                    s.extend_from_slice(cap(p));
                    o.add("payload", s);
                    match op {
                        0x82 | 0xA2 | 0x87 => {
                            let mut s = vec![slots];
                            s.extend_from_slice(cap(p));
                            o.add("node_list", s);
                        }
                        0xBE | 0x97 | 0xB8 | 0xAB => {
                            let mut s = vec![0x01u8];
                            // A CLUSTER_INFO reply is mostly unused zero slots: keep the used prefix.
                            let keep = if op == 0xBE {
                                p.len().min(48 + 16 * 80)
                            } else {
                                p.len()
                            };
                            s.extend_from_slice(cap(&p[..keep]));
                            o.add("cluster_info", s);
                        }
                        0x02 | 0xA4 if p.len() >= SD_INODE_HEADER_SIZE => {
                            let mut s = vec![0u8];
                            s.extend_from_slice(&0u64.to_le_bytes());
                            s.extend_from_slice(&p[..SD_INODE_HEADER_SIZE]);
                            o.add("inode", s);
                        }
                        _ => {}
                    }
                }
                let rs = rsp_streams.entry(&x.conn).or_default();
                if rs.len() < CAP && r.payload.is_complete() {
                    rs.extend_from_slice(&r.hdr);
                    rs.extend_from_slice(p);
                }
            }
            let c = conns.entry(&x.conn).or_default();
            if c.len() < CAP && (!is_write(x) || x.req_payload.is_complete()) {
                c.extend_from_slice(&x.req_hdr);
                if is_write(x) {
                    c.extend_from_slice(&x.req_payload.bytes);
                }
            }
        }
        for (i, (_, s)) in conns.into_iter().enumerate() {
            let mut f = vec![0u8, i as u8, 0x5a];
            f.extend_from_slice(&s);
            o.add("frame_codec", f);
            o.add("sheep_conn", s);
        }
        for (i, (_, s)) in rsp_streams.into_iter().enumerate() {
            let mut f = vec![1u8, i as u8, 0xa5];
            f.extend_from_slice(&s);
            o.add("frame_codec", f);
        }
    }
    cluster_seeds(&mut o);
    for seed in nbd_sessions() {
        o.add("nbd_conn", seed);
    }
    let _ = std::fs::remove_dir_all(&dir);
    for (target, set) in &o.sets {
        let d = dir.join(target);
        std::fs::create_dir_all(&d).unwrap();
        for (i, s) in set.iter().enumerate() {
            std::fs::write(d.join(format!("{i:04}")), s).unwrap();
        }
        println!("{target}: {} seeds", set.len());
    }
}

/// The cases of a golden file of `sheep/daemon/tests/data/cluster-v1/` (`#`
/// comments, `<case> <hex>` lines), in file order.
fn golden(file: &str) -> Vec<Vec<u8>> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../sheep/daemon/tests/data/cluster-v1")
        .join(file);
    let text = std::fs::read_to_string(&path).expect("golden file");
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once(' '))
        .map(|(_, h)| hex(h.trim()))
        .collect()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn cluster_seeds(o: &mut Out) {
    // cluster_record: [0] ++ record, [1] ++ a log of frames.
    let frames = golden("local-log.hex");
    for r in golden("driver-record.hex")
        .into_iter()
        .chain(frames.iter().map(|f| f[8..].to_vec()))
    {
        let mut s = vec![0u8];
        s.extend_from_slice(&r);
        o.add("cluster_record", s);
    }
    let mut log = vec![1u8];
    for f in &frames {
        log.extend_from_slice(f);
        o.add("cluster_record", log.clone());
    }
    for f in ["join-message.hex", "join-reply.hex"] {
        for s in golden(f) {
            o.add("cluster_join", s);
        }
    }
    for f in ["notice-make-fs.hex", "notice-shutdown.hex"] {
        for s in golden(f) {
            o.add("cluster_notice", s);
        }
    }
    // cluster_state: the epoch file (the config is `cluster_info`'s).
    for s in golden("state-files.hex")
        .into_iter()
        .filter(|s| s.len() > 48)
    {
        o.add("cluster_state", s);
    }
}

/// Client halves of NBD sessions for `nbd_conn`: every option and command
/// the server knows, built from the protocol types.
fn nbd_sessions() -> Vec<Vec<u8>> {
    use bytes::Bytes;
    use sdwire::codec::Frame;
    use sheep_proto::nbd::{ClientFlags, ClientHello, CommandFlags, InfoRequest, OptionHeader, Request};

    fn hello(out: &mut Vec<u8>) {
        let flags = ClientFlags::FIXED_NEWSTYLE | ClientFlags::NO_ZEROES;
        out.extend(sdwire::to_vec_unversioned(&ClientHello { flags }).unwrap());
    }
    fn option(out: &mut Vec<u8>, option: u32, data: Bytes) {
        let h = OptionHeader { magic: 0, option, length: 0 };
        let f = Frame::filled(h, data).unwrap();
        out.extend(sdwire::to_vec_unversioned(&f.header).unwrap());
        out.extend_from_slice(&f.payload);
    }
    fn info(name: &str) -> Bytes {
        let r = InfoRequest {
            name_len: name.len() as u32,
            name: Bytes::copy_from_slice(name.as_bytes()),
            n_requests: 1,
            requests: vec![sdwire::Be::new(3)],
        };
        sdwire::to_bytes_unversioned(&r).unwrap()
    }
    fn cmd(out: &mut Vec<u8>, kind: u16, offset: u64, length: u32) {
        let r = Request {
            magic: 0,
            flags: CommandFlags::FUA,
            kind,
            cookie: u64::from(kind) + 1,
            offset,
            length,
        };
        out.extend(sdwire::to_vec_unversioned(&r).unwrap());
        if kind == 1 {
            out.extend(std::iter::repeat_n(0xa5u8, length as usize));
        }
    }
    let mut seeds = Vec::new();
    let mut s = Vec::new();
    hello(&mut s);
    option(&mut s, 3, Bytes::new());
    option(&mut s, 6, info("f@1"));
    option(&mut s, 7, info("nope"));
    option(&mut s, 2, Bytes::new());
    seeds.push(s);
    for structured in [false, true] {
        let mut s = Vec::new();
        hello(&mut s);
        if structured {
            option(&mut s, 8, Bytes::new());
        }
        option(&mut s, 7, info("f"));
        cmd(&mut s, 1, 4 << 20, 4096);
        cmd(&mut s, 0, (4 << 20) - 512, 1024);
        cmd(&mut s, 3, 0, 0);
        cmd(&mut s, 4, 0, 1 << 22);
        cmd(&mut s, 6, 4096, 8192);
        cmd(&mut s, 9, 0, 0);
        cmd(&mut s, 2, 0, 0);
        seeds.push(s);
    }
    let mut s = Vec::new();
    hello(&mut s);
    option(&mut s, 1, Bytes::from_static(b"f"));
    cmd(&mut s, 0, 0, 512);
    cmd(&mut s, 2, 0, 0);
    seeds.push(s);
    seeds
}
