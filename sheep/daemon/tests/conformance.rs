//! Conformance of `sheep_proto` against every exchange of the golden traces
//! of the C sheepdog (`tests/data/traces`, format in its README).
//!
//! For every exchange:
//! * the request and response headers decode and re-encode byte-identical;
//! * the request union decodes into the typed op of its protocol
//!   ([`decode_op`]) and re-encodes byte-identical; opcodes no table defines
//!   (0x7E and 0xEE, probed on purpose) must be reported unknown;
//! * the response union decodes into the arm of its opcode ([`RspArm`]) and
//!   re-encodes byte-identical;
//! * the proto_ver rules (docs/sheepdog-facts.md §8) agree with what the server answered;
//! * every complete payload decodes into its typed value by opcode and
//!   re-encodes byte-identical, modulo the don't-care bytes listed in
//!   [`DONT_CARE`]; truncated payloads (the trace keeps 64 KiB) are checked
//!   on the prefix where the type allows it (cluster_info, inode header).
//!
//! A coverage table per opcode and the totals are printed (`--nocapture`).

use std::collections::BTreeMap;
use std::ops::Range;

use sheep_proto::inode::{Inode, InodeHeader};
use sheep_proto::oid::{OidKind, SD_INODE_SIZE};
use sheep_proto::payload::{decode_req_payload, decode_rsp_payload, ReqPayload, RspPayload};
use sheep_proto::{
    accepts_version, classify, decode_op, decode_request, ClusterInfo, ObjReq, Protocol, ReqHeader,
    Request, RequestError, RspArm, RspHeader, SdNode, SdResult,
};
use sheep_testkit::trace::{load_all, Exchange};

/// Opcodes the traces send on purpose although no table defines them.
const EXPECTED_UNKNOWN: &[(u8, &str)] = &[
    (
        0x7E,
        "raw-probes: undefined public opcode, answered INVALID_PARMS",
    ),
    (
        0xEE,
        "unknown-opcode-crash: past the end of the C op table; the C sheep crashed",
    ),
];

/// Every byte range the comparison ignores, with the reason. Nothing else is
/// exempt: headers and union arms are compared on all 48 bytes.
const DONT_CARE: &[(&str, &str)] = &[
    (
        "sd_node[0..24]",
        "rb_node: three host pointers of the sender's red-black tree (docs/sheepdog-facts.md §11.2)",
    ),
    (
        "sd_node[66..68]",
        "implicit C padding after nr_vnodes (docs/sheepdog-facts.md §11.2)",
    ),
];

/// The don't-care ranges of `n` sd_nodes starting at `base`.
fn node_masks(base: usize, n: usize) -> Vec<Range<usize>> {
    (0..n)
        .flat_map(|i| {
            SdNode::DONT_CARE
                .iter()
                .map(move |r| base + i * 80 + r.start..base + i * 80 + r.end)
        })
        .collect()
}

/// Compares `ours` with the wire bytes, ignoring `masks`; describes the first difference.
fn compare(what: &str, ours: &[u8], wire: &[u8], masks: &[Range<usize>]) -> Result<(), String> {
    if ours.len() != wire.len() {
        return Err(format!(
            "{what}: re-encoded {} bytes, wire has {}",
            ours.len(),
            wire.len()
        ));
    }
    for (i, (a, b)) in ours.iter().zip(wire).enumerate() {
        if a != b && !masks.iter().any(|m| m.contains(&i)) {
            return Err(format!(
                "{what}: byte {i} differs: ours {a:#04x}, wire {b:#04x}"
            ));
        }
    }
    Ok(())
}

/// The don't-care ranges of a decoded response payload.
fn rsp_masks(p: &RspPayload) -> Vec<Range<usize>> {
    match p {
        RspPayload::NodeList(l) => node_masks(0, l.nodes.len()),
        RspPayload::StatCluster(s) => {
            let rec = 48 + s.slots as usize * 80;
            (0..s.records.len())
                .flat_map(|r| node_masks(r * rec + 48, s.slots as usize))
                .collect()
        }
        RspPayload::ClusterInfo(_) => node_masks(48, sheep_proto::cluster_info::SD_MAX_NODES),
        _ => Vec::new(),
    }
}

fn req_kind(p: &ReqPayload) -> &'static str {
    match p {
        ReqPayload::None => "none",
        ReqPayload::Data(_) => "Data",
        ReqPayload::VdiName(_) => "VdiName",
        ReqPayload::VdiNameTag(_) => "VdiNameTag",
        ReqPayload::VdiAttr(_) => "VdiAttr",
        ReqPayload::MakeFs(_) => "MakeFs",
        ReqPayload::OidList(_) => "OidList",
        ReqPayload::Raw(_) => "Raw",
    }
}

fn rsp_kind(p: &RspPayload) -> &'static str {
    match p {
        RspPayload::None => "none",
        RspPayload::Data(_) => "Data",
        RspPayload::NodeList(_) => "NodeList",
        RspPayload::StatCluster(_) => "StatCluster",
        RspPayload::RecoveryState(_) => "RecoveryState",
        RspPayload::VdiBitmap(_) => "VdiBitmap",
        RspPayload::ClusterInfo(_) => "ClusterInfo",
        RspPayload::OidList(_) => "OidList",
        RspPayload::VdiCopies(_) => "VdiCopies",
        RspPayload::Stat(_) => "Stat",
        RspPayload::Raw(_) => "Raw",
    }
}

#[derive(Default)]
struct Row {
    name: String,
    protocol: String,
    n: usize,
    decoded: usize,
    exact: usize,
    unknown: usize,
    no_rsp: usize,
    payloads: usize,
    payloads_exact: usize,
    truncated: usize,
    prefix_checked: usize,
    kinds: std::collections::BTreeSet<&'static str>,
}

/// Checks one exchange; returns Err with a description of the first failure.
fn check(x: &Exchange, row: &mut Row, inode: &mut Inode) -> Result<(), String> {
    // Request header.
    let req = ReqHeader::from_bytes(&x.req_hdr);
    compare("request header", &req.to_bytes(), &x.req_hdr, &[])?;
    if req.opcode != x.opcode {
        return Err("opcode mismatch with the trace".into());
    }
    // Version rules against the server's answer.
    let ver_ok = accepts_version(req.opcode, req.proto_ver);
    if let Some(p) = classify(req.opcode) {
        if p.accepts_version(req.proto_ver) != ver_ok {
            return Err(format!(
                "{p:?}::accepts_version disagrees with accepts_version"
            ));
        }
    }
    let rsp = x.rsp.as_ref().map(|r| (r, RspHeader::from_bytes(&r.hdr)));
    if let Some((_, h)) = &rsp {
        let vm = h.result == SdResult::VerMismatch;
        if vm == ver_ok {
            return Err(format!(
                "proto_ver {:#04x}: accepts_version says {ver_ok}, server answered {}",
                req.proto_ver, h.result
            ));
        }
    }
    // Request union.
    let op = match decode_op(&req) {
        Ok(op) => op,
        Err(RequestError::UnknownOpcode(o)) => {
            if !EXPECTED_UNKNOWN.iter().any(|(u, _)| *u == o) {
                return Err(format!("opcode {o:#04x} is unknown to every table"));
            }
            if let Some((_, h)) = &rsp {
                if h.result != SdResult::InvalidParms {
                    return Err(format!(
                        "unknown opcode answered {} (expected INVALID_PARMS)",
                        h.result
                    ));
                }
            }
            if !matches!(decode_request(&req), Err(RequestError::UnknownOpcode(_))) {
                return Err("decode_request does not report the opcode unknown".into());
            }
            row.unknown += 1;
            row.exact += 1;
            return Ok(());
        }
        Err(e) => return Err(format!("request union: {e}")),
    };
    if ver_ok != decode_request(&req).is_ok() {
        return Err("decode_request's version check disagrees with accepts_version".into());
    }
    row.protocol = op.protocol().name().to_string();
    row.name = op.op_name().to_string();
    let mut again = req.clone();
    again.body = [0xAA; 32];
    op.encode_into(&mut again);
    compare("request union", &again.to_bytes(), &x.req_hdr, &[])?;

    // Request payload.
    let rp = &x.req_payload;
    if req.has_payload() && rp.len > 0 {
        if rp.is_complete() {
            let p = decode_req_payload(req.opcode, &req, &rp.bytes).map_err(|e| e.to_string())?;
            row.kinds.insert(req_kind(&p));
            row.payloads += 1;
            compare("request payload", &p.encode(), &rp.bytes, &[])?;
            row.payloads_exact += 1;
            inode_write(&op, &rp.bytes, inode)?;
        } else {
            row.truncated += 1;
            if prefix_check(&op, None, &rp.bytes)? {
                row.prefix_checked += 1;
            }
        }
    }

    // Response.
    let Some((r, h)) = rsp else {
        row.no_rsp += 1;
        row.decoded += 1;
        row.exact += 1;
        return Ok(());
    };
    compare("response header", &h.to_bytes(), &r.hdr, &[])?;
    if h.opcode != req.opcode || h.id != req.id {
        return Err("response does not echo opcode and id".into());
    }
    let arm = RspArm::decode(h.opcode, &h.body).map_err(|e| format!("response union: {e}"))?;
    let mut rh = h.clone();
    rh.body = arm.encode();
    compare("response union", &rh.to_bytes(), &r.hdr, &[])?;
    row.decoded += 1;
    let pl = &r.payload;
    if pl.len > 0 {
        if pl.is_complete() {
            let p =
                decode_rsp_payload(req.opcode, &req, &h, &pl.bytes).map_err(|e| e.to_string())?;
            row.kinds.insert(rsp_kind(&p));
            row.payloads += 1;
            compare("response payload", &p.encode(), &pl.bytes, &rsp_masks(&p))?;
            row.payloads_exact += 1;
        } else {
            row.truncated += 1;
            if prefix_check(&op, Some(&h), &pl.bytes)? {
                row.prefix_checked += 1;
            }
        }
    }
    row.exact += 1;
    Ok(())
}

fn obj_arm(op: &Request) -> Option<ObjReq> {
    use sheep_proto::{ClientOp as C, PeerOp as P};
    match *op {
        Request::Client(C::CreateAndWriteObj(o) | C::WriteObj(o) | C::ReadObj(o)) => Some(o),
        Request::Peer(P::CreateAndWritePeer(o) | P::WritePeer(o) | P::ReadPeer(o)) => Some(o),
        _ => None,
    }
}

/// Applies inode writes (e.g. dog's 4-byte data_vdi_id update) to an
/// in-memory inode and reads the bytes back through `read_range`.
fn inode_write(op: &Request, data: &[u8], inode: &mut Inode) -> Result<(), String> {
    let Some(o) = obj_arm(op) else { return Ok(()) };
    if o.oid.kind() != OidKind::Inode || data.len() >= SD_INODE_SIZE {
        return Ok(());
    }
    let off = o.offset as usize;
    inode.apply_write(off, data).map_err(|e| e.to_string())?;
    let back = inode
        .read_range(off, data.len())
        .map_err(|e| e.to_string())?;
    compare("inode write read back", &back, data, &[])
}

/// Checks what a truncated payload allows: the cluster_info header and its
/// node list, or the header of a whole inode. Returns whether it checked anything.
fn prefix_check(op: &Request, rsp: Option<&RspHeader>, bytes: &[u8]) -> Result<bool, String> {
    if rsp.is_some() && op.opcode() == 0xBE {
        let ci = ClusterInfo::decode_prefix(bytes).map_err(|e| e.to_string())?;
        let join = ci.encode_join().map_err(|e| e.to_string())?;
        compare(
            "cluster_info prefix",
            &join,
            &bytes[..join.len()],
            &node_masks(48, ci.nodes.len()),
        )?;
        return Ok(true);
    }
    if let Some(o) = obj_arm(op) {
        let is_inode = o.oid.kind() == OidKind::Inode && o.offset == 0;
        if is_inode && bytes.len() >= InodeHeader::SIZE {
            let h = InodeHeader::from_prefix(bytes).map_err(|e| e.to_string())?;
            let again = sdwire::to_vec(&h, 0).map_err(|e| e.to_string())?;
            compare("inode header", &again, &bytes[..InodeHeader::SIZE], &[])?;
            return Ok(true);
        }
    }
    Ok(false)
}

#[test]
fn every_exchange_decodes_and_re_encodes() {
    let traces = load_all().expect("golden traces load");
    let mut rows: BTreeMap<u8, Row> = BTreeMap::new();
    let mut failures = Vec::new();
    let mut total = 0;
    let mut inode = Inode::default();
    for t in &traces {
        for x in &t.exchanges {
            total += 1;
            let row = rows.entry(x.opcode).or_default();
            row.n += 1;
            if row.name.is_empty() {
                row.name = x.op_name.clone();
                row.protocol = "-".into();
            }
            if let Err(e) = check(x, row, &mut inode) {
                failures.push(format!(
                    "{} #{} op {:#04x} {}: {e}",
                    t.scenario, x.n, x.opcode, x.op_name
                ));
            }
        }
    }

    println!("don't-care bytes (everything else is compared):");
    for (what, why) in DONT_CARE {
        println!("  {what}: {why}");
    }
    println!("expected-unknown opcodes:");
    for (op, why) in EXPECTED_UNKNOWN {
        println!("  {op:#04x}: {why}");
    }
    println!();
    println!(
        "{:<6} {:<8} {:<22} {:>5} {:>8} {:>6} {:>8} {:>11} {:>10}  payload types",
        "opcode", "protocol", "op", "n", "decoded", "exact", "no-rsp", "payld exact", "trunc/pfx"
    );
    let (mut dec, mut exact, mut unk, mut pl, mut ple, mut tr, mut pfx) = (0, 0, 0, 0, 0, 0, 0);
    for (op, r) in &rows {
        let decoded = if r.unknown > 0 {
            "unknown".to_string()
        } else {
            r.decoded.to_string()
        };
        println!(
            "{:#04x}   {:<8} {:<22} {:>5} {:>8} {:>6} {:>8} {:>11} {:>10}  {}",
            op,
            r.protocol,
            r.name,
            r.n,
            decoded,
            r.exact,
            r.no_rsp,
            format!("{}/{}", r.payloads_exact, r.payloads),
            format!("{}/{}", r.truncated, r.prefix_checked),
            r.kinds.iter().copied().collect::<Vec<_>>().join(",")
        );
        dec += r.decoded;
        exact += r.exact;
        unk += r.unknown;
        pl += r.payloads;
        ple += r.payloads_exact;
        tr += r.truncated;
        pfx += r.prefix_checked;
    }
    println!();
    println!(
        "{dec}/{} exchanges decoded (+{unk} expected-unknown opcodes reported unknown)",
        total - unk
    );
    println!("{exact}/{total} exchanges re-encoded exactly (headers and unions, all 48+48 bytes)");
    println!(
        "{ple}/{pl} complete payloads decoded and re-encoded exactly (modulo the don't-care bytes)"
    );
    println!("{tr} truncated payloads, {pfx} of them checked on their prefix");

    assert!(
        failures.is_empty(),
        "{} exchange(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(exact, total);
    assert_eq!(dec + unk, total);
    assert_eq!(ple, pl);
    // Every opcode seen in the traces is covered by a table or expected unknown.
    for op in rows.keys() {
        assert!(
            classify(*op).is_some() || EXPECTED_UNKNOWN.iter().any(|(u, _)| u == op),
            "opcode {op:#04x} not covered"
        );
    }
    let seen_unknown: Vec<u8> = rows
        .iter()
        .filter(|(_, r)| r.unknown > 0)
        .map(|(o, _)| *o)
        .collect();
    assert_eq!(
        seen_unknown,
        EXPECTED_UNKNOWN.iter().map(|(o, _)| *o).collect::<Vec<_>>()
    );
}

/// The version probes of raw-probes: exactly the values docs/sheepdog-facts.md §8 lists.
#[test]
fn raw_probe_versions() {
    let t = sheep_testkit::trace::Trace::load_scenario("raw-probes").expect("raw-probes loads");
    let mut seen = Vec::new();
    for x in &t.exchanges {
        let req = ReqHeader::from_bytes(&x.req_hdr);
        let Some(r) = &x.rsp else { continue };
        let res = RspHeader::from_bytes(&r.hdr).result;
        seen.push((
            req.opcode < 0x80,
            req.proto_ver,
            res != SdResult::VerMismatch,
        ));
    }
    for (public, v, accepted) in [
        (true, 0x00, true),
        (true, 0x01, true),
        (true, 0x02, true),
        (true, 0x03, false),
        (false, 0x0a, true),
        (false, 0x00, false),
        (false, 0x02, false),
        (false, 0x09, false),
        (false, 0x0b, false),
    ] {
        assert!(
            seen.contains(&(public, v, accepted)),
            "probe public={public} proto_ver={v:#04x} not in raw-probes"
        );
        let opcode = if public { 0x02 } else { 0x82 };
        assert_eq!(
            accepts_version(opcode, v),
            accepted,
            "public={public} v={v:#x}"
        );
        let p = if public {
            Protocol::Client
        } else {
            Protocol::Admin
        };
        assert_eq!(p.accepts_version(v), accepted);
    }
}
