//! The sheepdog protocol family as sdwire's views see it, and the documents
//! generated from it (all rendering is generic code in `sdwire`):
//!
//! * [`family`] / [`framing`]: the three protocols (client, peer, admin),
//!   their opcode tables and response arms, the shared types, the framing;
//! * [`render_markdown`] produces `docs/wire/protocol.md` (every structure with
//!   offsets, sizes, byte order and versions; every opcode by protocol with
//!   its union arms);
//! * [`artifacts`] adds the C headers and the Wireshark dissector
//!   (`docs/wire/`), checked by `sheep/daemon/tests/wire_views.rs`;
//! * [`render_snapshot`] produces the breaking-change baseline
//!   (`sheep/daemon/tests/data/layout.snapshot`) that [`check_compat`]
//!   (`sdwire::compat::check`) compares.

use super::arms::{
    ClusterDefaultRsp, ClusterReq, ForwReq, HashRsp, InodeCoherenceReq, NoArgs, NoRsp, NodeRsp,
    ObjReq, ObjRsp, RawArgs, RefReq, RspKind, VdiReq, VdiRsp, VdiStateCheckpointReq, VdiStateReq,
};
use super::cluster::{
    AcceptedReply, DriverRecord, EpochFile, EpochNode, JoinReplyMsg, JoinReqRecord, JoinRequestMsg,
    JoinRspRecord, LogFrame, MakeFsNotice, MemberRangesEntry, MemberRangesTable, NotifyRecord,
    ProtoKind, RangePair, RecordMember, RefusalMsg, ShutdownNotice, VersionRanges, CLUSTER_COMPAT,
    CLUSTER_VERSION,
};
use super::cluster_info::{
    ClusterInfo, ClusterInfoHeader, EpochLog, LogLevel, RecoveryState, RecoveryThrottling, SdStat,
    SdStatus, SheepdogConfig, VdiAttr, VdiState,
};
use super::header::{ClusterFlags, ReqFlags, ReqHeader, RspHeader};
use super::inode::{Inode, InodeHeader};
use super::node::{NodeId, SdNode};
use super::oid::Oid;
use super::ops::{has_c_handler, AdminOp, ClientOp, PeerOp, Protocol};
use super::payload::{NodeList, OidList, VdiBitmap, VdiCopies, VdiName, VdiNameTag};
use super::result::SdResult;
use sdwire::views::{self, markdown};
use sdwire::{Layout, OpTable, Wire};
use std::fmt::Write as _;

pub use sdwire::compat::check as check_compat;

/// Every wire type of the protocol, grouped by family, in documentation order.
pub fn layouts() -> Vec<(&'static str, Vec<&'static Layout>)> {
    vec![
        (
            "Headers",
            vec![
                ReqHeader::LAYOUT,
                RspHeader::LAYOUT,
                ReqFlags::LAYOUT,
                ClusterFlags::LAYOUT,
            ],
        ),
        (
            "Request union arms (header bytes 16..48)",
            vec![
                ObjReq::LAYOUT,
                VdiReq::LAYOUT,
                ClusterReq::LAYOUT,
                VdiStateReq::LAYOUT,
                RefReq::LAYOUT,
                ForwReq::LAYOUT,
                VdiStateCheckpointReq::LAYOUT,
                InodeCoherenceReq::LAYOUT,
                NoArgs::LAYOUT,
                RawArgs::LAYOUT,
            ],
        ),
        (
            "Response union arms (header bytes 20..48)",
            vec![
                ObjRsp::LAYOUT,
                VdiRsp::LAYOUT,
                NodeRsp::LAYOUT,
                HashRsp::LAYOUT,
                ClusterDefaultRsp::LAYOUT,
                NoRsp::LAYOUT,
            ],
        ),
        (
            "Opcode tables",
            vec![ClientOp::LAYOUT, PeerOp::LAYOUT, AdminOp::LAYOUT],
        ),
        (
            "Result and status codes",
            vec![SdResult::LAYOUT, SdStatus::LAYOUT],
        ),
        ("Nodes", vec![NodeId::LAYOUT, SdNode::LAYOUT]),
        (
            "Cluster structures",
            vec![
                ClusterInfoHeader::LAYOUT,
                ClusterInfo::LAYOUT,
                EpochLog::LAYOUT,
                RecoveryState::LAYOUT,
                SdStat::LAYOUT,
                LogLevel::LAYOUT,
                RecoveryThrottling::LAYOUT,
                VdiState::LAYOUT,
                VdiAttr::LAYOUT,
                SheepdogConfig::LAYOUT,
            ],
        ),
        (
            "Objects",
            vec![Oid::LAYOUT, InodeHeader::LAYOUT, Inode::LAYOUT],
        ),
        (
            "Payloads",
            vec![
                VdiName::LAYOUT,
                VdiNameTag::LAYOUT,
                NodeList::LAYOUT,
                OidList::LAYOUT,
                VdiCopies::LAYOUT,
                VdiBitmap::LAYOUT,
            ],
        ),
        (
            "Cluster protocol (driver records, join, notices, epoch files)",
            vec![
                DriverRecord::LAYOUT,
                RecordMember::LAYOUT,
                JoinReqRecord::LAYOUT,
                JoinRspRecord::LAYOUT,
                NotifyRecord::LAYOUT,
                LogFrame::LAYOUT,
                JoinRequestMsg::LAYOUT,
                RangePair::LAYOUT,
                VersionRanges::LAYOUT,
                JoinReplyMsg::LAYOUT,
                AcceptedReply::LAYOUT,
                RefusalMsg::LAYOUT,
                ProtoKind::LAYOUT,
                MemberRangesTable::LAYOUT,
                MemberRangesEntry::LAYOUT,
                MakeFsNotice::LAYOUT,
                ShutdownNotice::LAYOUT,
                EpochFile::LAYOUT,
                EpochNode::LAYOUT,
            ],
        ),
        (
            "NBD (big-endian; served with `--nbd`)",
            super::nbd::layouts(),
        ),
    ]
}

/// The breaking-change baseline: `Layout::render()` of every type, in
/// [`layouts`] order, separated by blank lines.
pub fn render_snapshot() -> String {
    sdwire::compat::snapshot(
        "sheep wire layout snapshot: Layout::render() of every type in sheep_proto::spec::layouts().\n\
         Checked by sheep/daemon/tests/layout_compat.rs; re-bless with SHEEP_BLESS=1.",
        layouts().into_iter().flat_map(|(_, g)| g),
    )
}

fn response_arm(opcode: u64) -> Option<&'static Layout> {
    let k = RspKind::for_opcode(u8::try_from(opcode).ok()?);
    Some(match k {
        RspKind::Obj => ObjRsp::LAYOUT,
        RspKind::Vdi => VdiRsp::LAYOUT,
        RspKind::Node => NodeRsp::LAYOUT,
        RspKind::Hash => HashRsp::LAYOUT,
        RspKind::ClusterDefault => ClusterDefaultRsp::LAYOUT,
        RspKind::None => NoRsp::LAYOUT,
    })
}

/// The sheepdog protocol family: client, peer and admin, each with its
/// opcode table and response arms; headers, result codes, flags and every
/// structure of [`layouts`] in the common part. A new protocol (the cluster
/// protocol) is one more entry in `protocols`.
pub fn family() -> views::Family {
    let protocol = |p: Protocol| views::Protocol {
        name: p.name(),
        ops: p.layout(),
        response_arm,
        types: Vec::new(),
    };
    views::Family {
        name: "sheepdog",
        title: "Sheepdog",
        c_prefix: "sd",
        // Opcode tables go to their protocol's header, everything else is shared.
        common: layouts()
            .into_iter()
            .flat_map(|(_, g)| g)
            .filter(|l| !Protocol::ALL.iter().any(|p| p.layout().name == l.name))
            .collect(),
        protocols: Protocol::ALL.into_iter().map(protocol).collect(),
    }
}

/// How sheepdog frames its messages: 48-byte headers on TCP port 7000, a
/// request payload only with flag WRITE, a response payload of `data_length`.
pub fn framing() -> views::Framing {
    views::Framing {
        tcp_port: 7000,
        request: ReqHeader::LAYOUT,
        response: RspHeader::LAYOUT,
        version: "proto_ver",
        opcode: "opcode",
        id: "id",
        length: "data_length",
        body: "body",
        result: "result",
        request_payload_flag: Some(("flags", u64::from(ReqFlags::WRITE.bits()))),
    }
}

/// Every generated file of `docs/wire/`: (file name, content).
pub fn artifacts() -> Vec<(String, String)> {
    let f = family();
    let mut out: Vec<(String, String)> = views::c::render(&f)
        .into_iter()
        .map(|h| (h.file, h.text))
        .collect();
    out.push(("sheepdog.lua".into(), views::lua::render(&f, &framing())));
    out.push(("protocol.md".into(), render_markdown()));
    out
}

/// The protocol specification in Markdown (the content of `docs/wire/protocol.md`).
pub fn render_markdown() -> String {
    let mut o = String::new();
    o.push_str(
        "# Sheepdog wire protocol (as implemented by `sheep-proto`)\n\n\
         <!-- Generated by sheep_proto::spec::render_markdown() from the #[derive(Wire)] layout tables.\n     \
         Do not edit; regenerate with `SDWIRE_BLESS=1 cargo test -p sheep --test wire_views`. -->\n\n\
         Every structure below is defined once in `sheep/proto/src/` with `#[derive(Wire)]`; offsets,\n\
         sizes and byte orders are the derive's own layout tables, checked at compile time against\n\
         the declared sizes. Conformance with the C sheepdog 1.0 is tested against the golden traces\n\
         (`sheep/daemon/tests/conformance.rs`).\n\n\
         ## Framing\n\n\
         * All three protocols (client, peer, admin) share one framing over TCP: a 48-byte\n  \
         [`ReqHeader`](#reqheader), then `data_length` payload bytes **only if** flag WRITE (0x01) is\n  \
         set; the answer is a 48-byte [`RspHeader`](#rspheader) followed by exactly\n  \
         `rsp.data_length` bytes.\n\
         * The opcode alone selects the protocol and the union arm in header bytes 16..48\n  \
         (requests) or 20..48 (responses, after `result`).\n\
         * Every integer is little-endian.\n\
         * Responses echo `opcode` and `id`, carry the responder's epoch, and always have\n  \
         proto_ver 0 and flags 0.\n\n\
         ## Protocols and versions\n\n\
         | protocol | op table | opcodes | version | accepted proto_ver |\n|---|---|---|---:|---|\n",
    );
    for p in Protocol::ALL {
        let (table, range) = match p {
            Protocol::Client => ("`ClientOp`", "0x00..=0x7f"),
            Protocol::Peer => ("`PeerOp`", "0x80..=0xff"),
            Protocol::Admin => ("`AdminOp`", "0x80..=0xff"),
        };
        let acc = if p.compat() == p.version() {
            format!("exactly {:#04x}", p.version())
        } else if p.compat() == 0 {
            format!(
                "{:#04x}..={:#04x} (0 = unversioned)",
                p.compat(),
                p.version()
            )
        } else {
            format!("{:#04x}..={:#04x}", p.compat(), p.version())
        };
        let _ = writeln!(
            o,
            "| {} | {table} | {range} | {:#04x} | {acc} |",
            p.name(),
            p.version()
        );
    }
    o.push_str(
        "\nA request whose proto_ver is not accepted is answered `VER_MISMATCH` (0x14) with no payload;\n\
         the check comes before the opcode lookup. Opcodes no table defines are answered\n\
         `INVALID_PARMS` (0x05); so are the opcodes the C server defines without a handler\n\
         (marked \"no\" below).\n\n\
         Peer protocol 0x0b (not in sheepdog 1.0) adds one thing: the CRC32C of the payload,\n\
         in bytes that are reserved at 0x0a (`payload_crc32c` of [`ObjReq`](#objreq) on\n\
         CREATE_AND_WRITE_PEER / WRITE_PEER, of [`ObjRsp`](#objrsp) on READ_PEER answers). A\n\
         peer request is decoded at its header's proto_ver and answered at the same version;\n\
         each peer link speaks the highest version both nodes know (a node started with\n\
         `--peer-version 0x0a` speaks and accepts only 0x0a). A payload whose CRC does not match\n\
         is answered `EIO` and not stored.\n\n",
    );
    let _ = writeln!(
        o,
        "The cluster protocol (what the cluster drivers carry: [`DriverRecord`](#driverrecord)s in\n\
         the driver log, each in a [`LogFrame`](#logframe) in the local driver's `events.log`; the\n\
         join message [`JoinRequestMsg`](#joinrequestmsg) and reply [`JoinReplyMsg`](#joinreplymsg);\n\
         the notices [`MakeFsNotice`](#makefsnotice) and [`ShutdownNotice`](#shutdownnotice); the\n\
         epoch files [`EpochFile`](#epochfile) a node keeps) is\n\
         versioned on its own: this build speaks {CLUSTER_COMPAT:#04x}..={CLUSTER_VERSION:#04x}.\n\
         Version 1 is the format of commit 185809b, byte for byte\n\
         (`sheep/daemon/tests/data/cluster-v1/`).\n\n## Opcodes"
    );
    let fam = family();
    let c_handler = |code: u64| {
        let yes = u8::try_from(code).is_ok_and(has_c_handler);
        (if yes { "yes" } else { "no" }).to_string()
    };
    for p in &fam.protocols {
        let _ = writeln!(o, "\n### {} protocol (`{}`)\n", p.name, p.ops.name);
        markdown::op_table(&mut o, p, &[("C handler", &c_handler)]);
    }
    o.push_str("\n## Flags\n\n### Request flags (`ReqFlags`, header offset 2)\n\n");
    markdown::flags_table(&mut o, ReqFlags::LAYOUT);
    o.push_str(
        "\nBit 0x0100 is WILDCARD on recovery reads and CREAT on GET_VDI_ATTR.\n\n\
         ### Cluster flags (`ClusterFlags`)\n\n",
    );
    markdown::flags_table(&mut o, ClusterFlags::LAYOUT);
    o.push_str("\n## Result codes (`SdResult`, response offset 16)\n\n| code | name | meaning |\n|---:|---|---|\n");
    for r in SdResult::ALL {
        let _ = writeln!(
            o,
            "| {:#04x} | {} | {} |",
            r.tag(),
            r.name(),
            r.description()
        );
    }
    o.push_str(
        "\nAny other value decodes as `SdResult::Unknown(code)` and re-encodes unchanged.\n\n\
         ## Don't-care bytes\n\n\
         * `SdNode` bytes 0..24 carry the sender's red-black-tree pointers and bytes 66..68 are\n  \
         padding: written as zero, ignored when read.\n\
         * Stale union bytes: the C server leaves old values in unused union bytes on some errors\n  \
         (e.g. `vdi_id` of NEW_VDI answering VDI_EXIST); they sit in named fields and round-trip.\n\
         * `ClusterInfo` node slots beyond `nr_nodes` and STAT_CLUSTER slots beyond a record's\n  \
         `nr_nodes` are written as zero and ignored when read.\n",
    );
    for (group, ls) in layouts() {
        markdown::types(&mut o, group, &ls);
    }
    while o.ends_with("\n\n") {
        o.pop();
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_parses_and_is_self_compatible() {
        let s = render_snapshot();
        assert_eq!(check_compat(&s, &s).unwrap(), Vec::<String>::new());
        assert!(render_markdown()
            .contains("| 0xa4 | `ReadPeer` | [`ObjReq`](#objreq) | [`ObjRsp`](#objrsp) | yes |"));
    }
}
