//! The generated views of the sheepdog protocols under `docs/wire/` (C
//! headers, Wireshark dissector, markdown spec; `sheep_proto::spec::artifacts`):
//!
//! * the committed files equal what the code generates (regenerate all of
//!   them with `SDWIRE_BLESS=1 cargo test -p sheep --test wire_views`);
//! * every header compiles with `gcc -std=c11 -Wall -Wextra -Werror`, and a C
//!   program including them decodes every golden trace header exactly as
//!   the Rust decode does; `sparse -Wbitwise` is clean on it and warns on a
//!   deliberately wrong line;
//! * tshark with the dissector decodes a pcap made from every golden
//!   exchange: every PDU with its opcode name (and result), no Malformed
//!   packet or Lua error, field values equal to the Rust decode.
//!
//! gcc, sparse and tshark are required (CI installs them: `.ci/run`).

use std::path::PathBuf;

fn wire_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("docs")
        .join("wire")
}

/// A unified-style diff of the first differing lines, for the failure message.
fn short_diff(have: &str, want: &str) -> String {
    let (h, w): (Vec<&str>, Vec<&str>) = (have.lines().collect(), want.lines().collect());
    let Some(first) = (0..h.len().max(w.len())).find(|&i| h.get(i) != w.get(i)) else {
        return "(trailing newline differs)".into();
    };
    let mut s = format!("first difference at line {}:\n", first + 1);
    for i in first.saturating_sub(2)..(first + 6).min(h.len().max(w.len())) {
        match (h.get(i), w.get(i)) {
            (Some(a), Some(b)) if a == b => s.push_str(&format!("   {a}\n")),
            (a, b) => {
                if let Some(a) = a {
                    s.push_str(&format!(" - {a}\n"));
                }
                if let Some(b) = b {
                    s.push_str(&format!(" + {b}\n"));
                }
            }
        }
    }
    s
}

#[test]
fn committed_views_are_up_to_date() {
    let dir = wire_dir();
    let bless = std::env::var_os("SDWIRE_BLESS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (file, want) in sheep_proto::spec::artifacts() {
        let path = dir.join(&file);
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &want).unwrap();
            eprintln!("blessed {}", path.display());
            continue;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have != want {
            stale.push(format!(
                "docs/wire/{file} is stale (- committed, + generated); {}",
                short_diff(&have, &want)
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nregenerate with `SDWIRE_BLESS=1 cargo test -p sheep --test wire_views`",
        stale.join("\n")
    );
}

// ---- C: the headers compile, decode every trace header, and sparse checks them

use sheep_proto::{ObjReq, Protocol, ReqFlags, ReqHeader, RspHeader};
use sheep_testkit::trace::{load_all, Exchange};
use std::process::Command;

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Runs a command, panicking with its output if it cannot start or fails.
fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (is it installed? see .ci/run)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// The opcodes whose request arm `decode_headers.c` prints (obj I/O).
fn is_obj_op(opcode: u8) -> bool {
    const NAMES: &[&str] = &[
        "CreateAndWriteObj",
        "ReadObj",
        "WriteObj",
        "CreateAndWritePeer",
        "ReadPeer",
        "WritePeer",
    ];
    Protocol::ALL.iter().any(|p| {
        p.ops()
            .iter()
            .any(|o| o.opcode == u64::from(opcode) && NAMES.contains(&o.name))
    })
}

/// The line `decode_headers.c` prints for a request header, from the Rust decode.
fn req_line(b: &[u8; 48]) -> String {
    let h: ReqHeader = sdwire::from_slice_exact(b, 0).expect("request header decodes");
    let mut s = format!(
        "req proto_ver={} opcode={:#04x} flags={:#06x} epoch={} id={} data_length={}",
        h.proto_ver,
        h.opcode,
        h.flags.bits(),
        h.epoch,
        h.id,
        h.data_length
    );
    if is_obj_op(h.opcode) {
        let o: ObjReq = sdwire::from_slice(&h.body, 0).expect("obj arm decodes");
        s.push_str(&format!(
            " oid={:#018x} offset={} copies={}",
            o.oid.0, o.offset, o.copies
        ));
    }
    if h.flags.contains(ReqFlags::WRITE) {
        s.push_str(" write");
    }
    s
}

fn rsp_line(b: &[u8; 48]) -> String {
    let h: RspHeader = sdwire::from_slice_exact(b, 0).expect("response header decodes");
    let code = h.result.code();
    format!(
        "rsp proto_ver={} opcode={:#04x} epoch={} id={} data_length={} result={code:#04x}{}",
        h.proto_ver,
        h.opcode,
        h.epoch,
        h.id,
        h.data_length,
        if code == 0 { " success" } else { "" }
    )
}

fn all_exchanges() -> Vec<Exchange> {
    load_all()
        .expect("golden traces load")
        .into_iter()
        .flat_map(|t| t.exchanges)
        .collect()
}

#[test]
fn c_headers_compile_and_decode_every_trace_header() {
    let dir = wire_dir();
    let tmp = scratch();
    for (file, _) in sheep_proto::spec::artifacts() {
        if file.ends_with(".h") {
            run(Command::new("gcc")
                .args([
                    "-std=c11",
                    "-Wall",
                    "-Wextra",
                    "-Werror",
                    "-fsyntax-only",
                    "-x",
                    "c",
                ])
                .arg(dir.join(&file)));
        }
    }
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/c/decode_headers.c");
    let exe = tmp.path().join("decode_headers");
    run(Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(&dir)
        .arg(&src)
        .arg("-o")
        .arg(&exe));

    let mut records = Vec::new();
    let mut want = String::new();
    for x in all_exchanges() {
        records.push(b'Q');
        records.extend_from_slice(&x.req_hdr);
        want.push_str(&req_line(&x.req_hdr));
        want.push('\n');
        if let Some(r) = &x.rsp {
            records.push(b'R');
            records.extend_from_slice(&r.hdr);
            want.push_str(&rsp_line(&r.hdr));
            want.push('\n');
        }
    }
    let input = tmp.path().join("headers.bin");
    std::fs::write(&input, &records).unwrap();
    let out = run(Command::new(&exe).arg(&input));
    let have = String::from_utf8(out.stdout).unwrap();
    assert!(
        have == want,
        "C decode differs from the Rust decode (- C, + Rust):\n{}",
        short_diff(&have, &want)
    );
    assert!(want.lines().count() > 500, "every trace header was checked");
}

#[test]
fn sparse_is_clean_and_flags_a_host_use_of_le32() {
    let dir = wire_dir();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/c/decode_headers.c");
    let clean = run(Command::new("sparse")
        .arg("-Wbitwise")
        .arg("-I")
        .arg(&dir)
        .arg(&src));
    let err = String::from_utf8_lossy(&clean.stderr);
    assert!(
        err.trim().is_empty(),
        "sparse warns on the correct program:\n{err}"
    );
    let wrong = run(Command::new("sparse")
        .args(["-Wbitwise", "-DSPARSE_WRONG", "-I"])
        .arg(&dir)
        .arg(&src));
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        err.contains("different base types") && err.contains("restricted __le32"),
        "sparse did not flag a __le32 used as a host integer:\n{err}"
    );
}

// ---- Wireshark: a pcap of every golden exchange, dissected by tshark -------

use sdwire::Wire;
use std::collections::BTreeMap;

/// pcap file header (microsecond timestamps, host order written little-endian).
#[derive(Wire)]
#[wire(le, size = 24)]
struct PcapFileHeader {
    magic: u32,
    version_major: u16,
    version_minor: u16,
    thiszone: u32,
    sigfigs: u32,
    snaplen: u32,
    linktype: u32,
}

/// pcap record header.
#[derive(Wire)]
#[wire(le, size = 16)]
struct PcapRecord {
    ts_sec: u32,
    ts_usec: u32,
    incl_len: u32,
    orig_len: u32,
}

/// IPv4 header without options (checksum left 0: tshark does not check it by default).
#[derive(Wire)]
#[wire(be, size = 20)]
struct Ipv4Header {
    version_ihl: u8,
    tos: u8,
    total_length: u16,
    ident: u16,
    flags_fragment: u16,
    ttl: u8,
    protocol: u8,
    checksum: u16,
    src: [u8; 4],
    dst: [u8; 4],
}

/// TCP header without options (checksum 0: not checked by default).
#[derive(Wire)]
#[wire(be, size = 20)]
struct TcpHeader {
    src_port: u16,
    dst_port: u16,
    seq: u32,
    ack: u32,
    offset_flags: u16,
    window: u16,
    checksum: u16,
    urgent: u16,
}

/// An IPv4 address and TCP port.
type Addr = ([u8; 4], u16);

/// LINKTYPE_RAW: each record is an IPv4 packet.
const LINKTYPE_RAW: u32 = 101;
/// Largest TCP payload per packet.
const SEGMENT: usize = 32 * 1024;

/// What the dissector must show for one PDU (from the Rust decode).
#[derive(Debug, Clone, PartialEq)]
struct Pdu {
    request: bool,
    opcode: u8,
    id: u32,
    proto_ver: u8,
    data_length: u32,
    result: Option<u32>,
    /// `obj.oid` of an obj-arm request, for a sample of arm fields.
    oid: Option<u64>,
}

/// Builds the pcap: one TCP stream per trace connection (addresses moved to
/// 127.0.<trace>.x so traces do not share streams), every request then its
/// response, payloads split into segments, and every 7th request's header
/// split across two segments to exercise reassembly. Payloads the trace
/// kept only a prefix of (64 KiB of up to 12 MiB) are written as that prefix,
/// with `data_length` re-encoded to match.
struct PcapWriter {
    bytes: Vec<u8>,
    frames: usize,
    /// (client, server) -> (next client seq, next server seq).
    streams: BTreeMap<(Addr, Addr), (u32, u32)>,
    /// Frame number -> the PDU that completes in it.
    pdus: BTreeMap<usize, Pdu>,
}

impl PcapWriter {
    fn new() -> PcapWriter {
        let hdr = PcapFileHeader {
            magic: 0xa1b2_c3d4,
            version_major: 2,
            version_minor: 4,
            thiszone: 0,
            sigfigs: 0,
            snaplen: 262_144,
            linktype: LINKTYPE_RAW,
        };
        PcapWriter {
            bytes: sdwire::to_vec(&hdr, 0).unwrap(),
            frames: 0,
            streams: BTreeMap::new(),
            pdus: BTreeMap::new(),
        }
    }

    fn packet(&mut self, t: f64, from: ([u8; 4], u16), to: ([u8; 4], u16), seq: u32, data: &[u8]) {
        self.packet_captured(t, from, to, seq, data, data.len());
    }

    /// A packet of which the capture kept only the first `kept` payload bytes.
    fn packet_captured(
        &mut self,
        t: f64,
        from: ([u8; 4], u16),
        to: ([u8; 4], u16),
        seq: u32,
        data: &[u8],
        kept: usize,
    ) {
        let ip = Ipv4Header {
            version_ihl: 0x45,
            tos: 0,
            total_length: u16::try_from(40 + data.len()).unwrap(),
            ident: 0,
            flags_fragment: 0x4000,
            ttl: 64,
            protocol: 6,
            checksum: 0,
            src: from.0,
            dst: to.0,
        };
        let tcp = TcpHeader {
            src_port: from.1,
            dst_port: to.1,
            seq,
            ack: 1,
            offset_flags: (5 << 12) | 0x18, // header length 5 words; PSH|ACK
            window: 65535,
            checksum: 0,
            urgent: 0,
        };
        let rec = PcapRecord {
            ts_sec: t as u32,
            ts_usec: ((t.fract()) * 1e6) as u32,
            incl_len: u32::try_from(40 + kept).unwrap(),
            orig_len: u32::try_from(40 + data.len()).unwrap(),
        };
        self.bytes.extend(sdwire::to_vec(&rec, 0).unwrap());
        self.bytes.extend(sdwire::to_vec(&ip, 0).unwrap());
        self.bytes.extend(sdwire::to_vec(&tcp, 0).unwrap());
        self.bytes.extend_from_slice(&data[..kept]);
        self.frames += 1;
    }

    /// Sends one PDU on the stream, split at `cuts` and every [`SEGMENT`].
    fn pdu(
        &mut self,
        t: f64,
        client: ([u8; 4], u16),
        server: ([u8; 4], u16),
        data: &[u8],
        split_header: bool,
        pdu: Pdu,
    ) {
        let request = pdu.request;
        let (from, to) = if request {
            (client, server)
        } else {
            (server, client)
        };
        let mut at = 0;
        while at < data.len() {
            let limit = if split_header && at == 0 { 20 } else { SEGMENT };
            let end = (at + limit).min(data.len());
            let seqs = self.streams.entry((client, server)).or_insert((1, 1));
            let seq = if request { &mut seqs.0 } else { &mut seqs.1 };
            let s = *seq;
            *seq = seq.wrapping_add(u32::try_from(end - at).unwrap());
            self.packet(t, from, to, s, &data[at..end]);
            at = end;
        }
        self.pdus.insert(self.frames, pdu);
    }
}

fn endpoint(s: &str, net: u8) -> ([u8; 4], u16) {
    let (ip, port) = s.rsplit_once(':').expect("ip:port");
    let last: u8 = ip.rsplit('.').next().unwrap().parse().unwrap();
    ([127, 0, net, last], port.parse().unwrap())
}

/// The header and payload bytes of a message as written to the pcap.
fn message(
    hdr: &[u8; 48],
    payload: &sheep_testkit::trace::Payload,
    request: bool,
) -> (Vec<u8>, Pdu) {
    let mut bytes = payload.bytes.clone();
    let pdu;
    let mut out;
    if request {
        let mut h: ReqHeader = sdwire::from_slice_exact(hdr, 0).unwrap();
        if !payload.is_complete() {
            h.data_length = u32::try_from(bytes.len()).unwrap();
        }
        let oid =
            is_obj_op(h.opcode).then(|| sdwire::from_slice::<ObjReq>(&h.body, 0).unwrap().oid.0);
        pdu = Pdu {
            request,
            opcode: h.opcode,
            id: h.id,
            proto_ver: h.proto_ver,
            data_length: h.data_length,
            result: None,
            oid,
        };
        out = sdwire::to_vec(&h, 0).unwrap();
    } else {
        let mut h: RspHeader = sdwire::from_slice_exact(hdr, 0).unwrap();
        if !payload.is_complete() {
            h.data_length = u32::try_from(bytes.len()).unwrap();
        }
        pdu = Pdu {
            request,
            opcode: h.opcode,
            id: h.id,
            proto_ver: h.proto_ver,
            data_length: h.data_length,
            result: Some(h.result.code()),
            oid: None,
        };
        out = sdwire::to_vec(&h, 0).unwrap();
    }
    out.append(&mut bytes);
    (out, pdu)
}

fn write_trace_pcap(path: &std::path::Path) -> (BTreeMap<usize, Pdu>, Vec<u16>) {
    let mut w = PcapWriter::new();
    let mut ports = Vec::new();
    let mut n = 0usize;
    for (i, trace) in load_all().expect("traces load").into_iter().enumerate() {
        let net = u8::try_from(i + 1).unwrap();
        let t0 = 1000.0 * (i + 1) as f64;
        for p in &trace.sheep_ports {
            if !ports.contains(p) {
                ports.push(*p);
            }
        }
        for x in &trace.exchanges {
            let (client, server) = x.conn.split_once(" > ").expect("conn line");
            let server = server.split_whitespace().next().unwrap();
            let (client, server) = (endpoint(client, net), endpoint(server, net));
            let (data, pdu) = message(&x.req_hdr, &x.req_payload, true);
            n += 1;
            w.pdu(
                t0 + x.t_req,
                client,
                server,
                &data,
                n.is_multiple_of(7),
                pdu,
            );
            if let Some(r) = &x.rsp {
                let (data, pdu) = message(&r.hdr, &r.payload, false);
                w.pdu(t0 + r.t_rsp, client, server, &data, false, pdu);
            }
        }
    }
    std::fs::write(path, &w.bytes).unwrap();
    (w.pdus, ports)
}

/// Parses a tshark field value: decimal or `0x` hex.
fn num(s: &str) -> u64 {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).unwrap_or_else(|_| panic!("bad hex {s}")),
        None => s.parse().unwrap_or_else(|_| panic!("bad number {s:?}")),
    }
}

/// Runs tshark with the generated dissector on `pcap` (ports other than
/// 7000 through "Decode As") and returns one tab-separated line per frame
/// with `fields` (several occurrences joined by `|`). Fails on any tshark
/// complaint (a Lua error included).
fn tshark_fields(pcap: &std::path::Path, ports: &[u16], fields: &[&str]) -> String {
    let lua = wire_dir().join("sheepdog.lua");
    let mut cmd = Command::new("tshark");
    cmd.arg("-n")
        .arg("-r")
        .arg(pcap)
        .arg("-X")
        .arg(format!("lua_script:{}", lua.display()))
        .args([
            "-T",
            "fields",
            "-E",
            "separator=\t",
            "-E",
            "occurrence=a",
            "-E",
            "aggregator=|",
        ]);
    for p in ports.iter().filter(|&&p| p != 7000) {
        cmd.arg("-d").arg(format!("tcp.port=={p},sheepdog"));
    }
    for f in fields {
        cmd.arg("-e").arg(f);
    }
    let out = run(&mut cmd);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("Lua") && !stderr.to_lowercase().contains("error"),
        "tshark complained:\n{stderr}"
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn tshark_dissects_every_golden_exchange() {
    let tmp = scratch();
    let pcap = tmp.path().join("golden.pcap");
    let (want, ports) = write_trace_pcap(&pcap);
    const FIELDS: &[&str] = &[
        "frame.number",
        "sheepdog.op_name",
        "sheepdog.protocol",
        "sheepdog.request.opcode",
        "sheepdog.request.id",
        "sheepdog.request.proto_ver",
        "sheepdog.request.data_length",
        "sheepdog.response.opcode",
        "sheepdog.response.id",
        "sheepdog.response.data_length",
        "sheepdog.response.result",
        "sheepdog.result_name",
        "sheepdog.request_in",
        "sheepdog_client.obj_req.oid",
        "sheepdog_peer.obj_req.oid",
        "sheepdog_admin.obj_req.oid",
        "_ws.malformed",
        "_ws.expert.message",
    ];
    if let Some(dir) = std::env::var_os("WIRE_VIEWS_KEEP") {
        std::fs::copy(&pcap, PathBuf::from(dir).join("golden.pcap")).unwrap();
    }
    let stdout = tshark_fields(&pcap, &ports, FIELDS);
    let mut seen = 0;
    let mut bad_versions = 0;
    let mut problems = Vec::new();
    for line in stdout.lines() {
        let v: Vec<&str> = line.split('\t').collect();
        assert_eq!(v.len(), FIELDS.len(), "line {line:?}");
        let get = |name: &str| v[FIELDS.iter().position(|f| *f == name).unwrap()];
        let frame: usize = get("frame.number").parse().unwrap();
        if !get("_ws.malformed").is_empty() || get("_ws.expert.message").contains("Lua") {
            problems.push(format!("frame {frame}: malformed or Lua error: {line}"));
        }
        let Some(pdu) = want.get(&frame) else {
            if !get("sheepdog.op_name").is_empty() {
                problems.push(format!("frame {frame}: a PDU where none completes: {line}"));
            }
            continue;
        };
        seen += 1;
        let name = get("sheepdog.op_name");
        if name.is_empty() || name.contains('|') {
            problems.push(format!(
                "frame {frame}: want one PDU with an opcode name: {line}"
            ));
            continue;
        }
        let known = sheep_proto::ops::op_name(pdu.opcode).is_some();
        if known && get("sheepdog.protocol").is_empty() {
            problems.push(format!("frame {frame}: no sub-protocol: {line}"));
        }
        let side = if pdu.request { "request" } else { "response" };
        let checks = [
            ("opcode", u64::from(pdu.opcode)),
            ("id", u64::from(pdu.id)),
            ("data_length", u64::from(pdu.data_length)),
        ];
        for (f, val) in checks {
            let got = get(&format!("sheepdog.{side}.{f}"));
            if got.is_empty() || num(got) != val {
                problems.push(format!(
                    "frame {frame}: {side}.{f} = {got:?}, Rust says {val}"
                ));
            }
        }
        if pdu.request && num(get("sheepdog.request.proto_ver")) != u64::from(pdu.proto_ver) {
            problems.push(format!("frame {frame}: proto_ver differs: {line}"));
        }
        let experts = get("_ws.expert.message");
        if pdu.request {
            let bad_version = sheep_proto::classify(pdu.opcode).is_some()
                && !sheep_proto::accepts_version(pdu.opcode, pdu.proto_ver);
            bad_versions += usize::from(bad_version);
            if bad_version != experts.contains("not accepted") {
                problems.push(format!(
                    "frame {frame}: bad-version expert should be {bad_version}: {line}"
                ));
            }
            if known == experts.contains("Unknown opcode") {
                problems.push(format!(
                    "frame {frame}: unknown-opcode expert should be {}: {line}",
                    !known
                ));
            }
        }
        if experts.contains("Truncated") {
            problems.push(format!(
                "frame {frame}: truncated, but the PDU is complete: {line}"
            ));
        }
        if let Some(r) = pdu.result {
            let got = get("sheepdog.response.result");
            if got.is_empty() || num(got) != u64::from(r) || get("sheepdog.result_name").is_empty()
            {
                problems.push(format!(
                    "frame {frame}: result {got:?}, Rust says {r:#x}: {line}"
                ));
            }
            if get("sheepdog.request_in").is_empty() {
                problems.push(format!(
                    "frame {frame}: response not matched to its request"
                ));
            }
        }
        if let Some(oid) = pdu.oid {
            let got: Vec<&str> = [
                "sheepdog_client.obj_req.oid",
                "sheepdog_peer.obj_req.oid",
                "sheepdog_admin.obj_req.oid",
            ]
            .iter()
            .map(|f| get(f))
            .filter(|s| !s.is_empty())
            .collect();
            if got.len() != 1 || num(got[0]) != oid {
                problems.push(format!(
                    "frame {frame}: obj.oid {got:?}, Rust says {oid:#x}"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    assert_eq!(seen, want.len(), "every PDU of the pcap was dissected");
    assert!(
        bad_versions > 0,
        "the traces probe a bad proto_ver; the expert was checked"
    );
}

/// A peer READ_PEER exchange at `proto_ver` whose answer carries `crc` in
/// the 0x0b-only `payload_crc32c` of the obj response arm.
fn read_peer(w: &mut PcapWriter, proto_ver: u8, id: u32, crc: u32, t: f64) {
    let (client, server) = (
        ([127, 0, 99, 1], 40000 + u16::from(proto_ver)),
        ([127, 0, 99, 2], 7001),
    );
    let v = sdwire::Version::from(proto_ver);
    let mut req = ReqHeader::new(0xA4, ReqFlags::EMPTY, 4);
    req.proto_ver = proto_ver;
    req.id = id;
    let arm = ObjReq {
        oid: sheep_proto::Oid(0x00c8_f989_0000_0001),
        ..ObjReq::default()
    };
    req.body.copy_from_slice(&sdwire::to_vec(&arm, v).unwrap());
    let pdu = |request, result| Pdu {
        request,
        opcode: 0xA4,
        id,
        proto_ver,
        data_length: 4,
        result,
        oid: None,
    };
    w.pdu(
        t,
        client,
        server,
        &sdwire::to_vec(&req, 0).unwrap(),
        false,
        pdu(true, None),
    );
    let rsp_arm = sheep_proto::ObjRsp {
        payload_crc32c: crc,
        ..Default::default()
    };
    let mut body = [0u8; 28];
    body.copy_from_slice(&sdwire::to_vec(&rsp_arm, v).unwrap());
    let rsp = RspHeader {
        proto_ver: 0,
        opcode: 0xA4,
        flags: 0,
        epoch: 1,
        id,
        data_length: 4,
        result: sheep_proto::SdResult::Success,
        body,
    };
    let mut bytes = sdwire::to_vec(&rsp, 0).unwrap();
    bytes.extend_from_slice(b"data");
    w.pdu(
        t + 0.001,
        client,
        server,
        &bytes,
        false,
        pdu(false, Some(0)),
    );
}

#[test]
fn tshark_shows_versioned_fields_by_version_and_flags_truncation() {
    let mut w = PcapWriter::new();
    read_peer(&mut w, 0x0a, 1, 0, 1.0);
    read_peer(&mut w, 0x0b, 2, 0xdead_beef, 2.0);
    // A WRITE_OBJ whose capture kept only 10 of its 100 payload bytes.
    let mut req = ReqHeader::new(0x03, ReqFlags::WRITE, 100);
    req.id = 3;
    let mut bytes = sdwire::to_vec(&req, 0).unwrap();
    bytes.extend_from_slice(&[0x5a; 100]);
    let client = ([127, 0, 99, 3], 40100);
    w.packet_captured(3.0, client, ([127, 0, 99, 2], 7000), 1, &bytes, 58);
    let tmp = scratch();
    let pcap = tmp.path().join("versions.pcap");
    std::fs::write(&pcap, &w.bytes).unwrap();
    let out = tshark_fields(
        &pcap,
        &[7000, 7001],
        &[
            "frame.number",
            "sheepdog.op_name",
            "sheepdog.request.proto_ver",
            "sheepdog_peer.obj_rsp.payload_crc32c",
            "sheepdog_peer.obj_req.payload_crc32c",
            "_ws.expert.message",
        ],
    );
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), 5, "{out}");
    // At 0x0a the CRC fields do not exist; at 0x0b both arms carry them,
    // the response's by the version of the request it answers.
    assert_eq!(rows[0][4], "", "0x0a request has no CRC: {out}");
    assert_eq!(rows[1][3], "", "0x0a response has no CRC: {out}");
    assert_eq!(num(rows[2][4]), 0, "0x0b request CRC: {out}");
    assert_eq!(num(rows[3][3]), 0xdead_beef, "0x0b response CRC: {out}");
    assert_eq!(rows[4][1], "WRITE_OBJ", "{out}");
    assert!(
        rows[4][5].contains("Truncated PDU: payload needs 100 bytes, have 10"),
        "{out}"
    );
    for r in &rows[..4] {
        assert_eq!(r[1], "READ_PEER", "{out}");
        assert!(
            !r[5].contains("Truncated") && !r[5].contains("not accepted"),
            "{out}"
        );
    }
}
