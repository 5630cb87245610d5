//! Protocol documentation and layout snapshots generated from the
//! `#[derive(Wire)]` layout tables.
//!
//! * [`render_markdown`] produces `docs/protocol.md` (every structure with
//!   offsets, sizes, byte order and versions; every opcode by protocol with
//!   its union arm);
//! * [`render_snapshot`] produces the breaking-change baseline
//!   (`sheep/tests/data/layout.snapshot`): `Layout::render()` of every type,
//!   op tables included;
//! * [`check_compat`] compares two snapshots and names every field or opcode
//!   that changed incompatibly without a version bump of its type.

use super::arms::{
    ClusterDefaultRsp, ClusterReq, ForwReq, HashRsp, InodeCoherenceReq, NoArgs, NoRsp, NodeRsp,
    ObjReq, ObjRsp, RawArgs, RefReq, RspKind, VdiReq, VdiRsp, VdiStateCheckpointReq, VdiStateReq,
};
use super::cluster_info::{
    ClusterInfo, ClusterInfoHeader, EpochLog, RecoveryState, SdStat, SdStatus, SheepdogConfig,
    VdiAttr, VdiState,
};
use super::header::{ClusterFlags, ReqFlags, ReqHeader, RspHeader};
use super::inode::{Inode, InodeHeader};
use super::node::{NodeId, SdNode};
use super::oid::Oid;
use super::ops::{has_c_handler, AdminOp, ClientOp, PeerOp, Protocol};
use super::payload::{NodeList, OidList, VdiBitmap, VdiCopies, VdiName, VdiNameTag};
use super::result::SdResult;
use sdwire::{Layout, LayoutKind, OpTable, Version, Wire};
use std::collections::BTreeMap;
use std::fmt::Write as _;

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
            "NBD (big-endian; served with `--nbd`)",
            super::nbd::layouts(),
        ),
    ]
}

/// The breaking-change baseline: `Layout::render()` of every type, in
/// [`layouts`] order, separated by blank lines.
pub fn render_snapshot() -> String {
    let mut s = String::from(
        "# sheep wire layout snapshot: Layout::render() of every type in sheep::proto::spec::layouts().\n\
         # Checked by sheep/tests/layout_compat.rs; re-bless with SHEEP_BLESS=1.\n",
    );
    for (_, group) in layouts() {
        for l in group {
            s.push('\n');
            s.push_str(&l.render());
        }
    }
    s
}

fn versions(since: Option<Version>, until: Option<Version>) -> String {
    match (since, until) {
        (None, None) => String::new(),
        (Some(s), None) => format!("since {s:#x}"),
        (None, Some(u)) => format!("until {u:#x}"),
        (Some(s), Some(u)) => format!("{s:#x}..{u:#x}"),
    }
}

fn opt(n: Option<usize>) -> String {
    n.map_or_else(|| "var".to_string(), |n| n.to_string())
}

fn esc(s: &str) -> String {
    s.replace('|', "\\|").replace(' ', "")
}

fn render_layout(out: &mut String, l: &Layout) {
    let _ = writeln!(out, "### `{}`\n", l.name);
    if !l.doc.is_empty() {
        let _ = writeln!(out, "{}\n", l.doc);
    }
    let kind = match l.kind {
        LayoutKind::Struct => "struct",
        LayoutKind::Enum => "opcode table",
        LayoutKind::Primitive => "primitive",
        LayoutKind::Other => "type",
    };
    let _ = write!(
        out,
        "{kind}, size {} bytes, alignment {}",
        opt(l.size),
        l.align
    );
    if l.order != sdwire::Order::None {
        let _ = write!(out, ", byte order {}", l.order.as_str());
    }
    if let Some((c, v)) = l.versions {
        let _ = write!(out, ", versions {c:#x}..={v:#x}");
    }
    if l.kind == LayoutKind::Enum {
        let _ = write!(out, ", tag {} byte(s)", l.tag_size);
    }
    out.push_str("\n\n");
    if !l.fields.is_empty() {
        out.push_str("| off | size | field | type | order | versions | notes |\n|---:|---:|---|---|---|---|---|\n");
        for f in l.fields {
            let mut notes = Vec::new();
            if f.reserved {
                notes.push("reserved: written as zero, ignored when read".to_string());
            }
            if let Some(d) = f.default {
                notes.push(format!("default `{}`", d.replace(' ', "")));
            }
            if let Some(m) = f.measures {
                notes.push(format!("length of `{m}`"));
            }
            let _ = writeln!(
                out,
                "| {} | {} | {} | `{}` | {} | {} | {} |",
                opt(f.offset),
                opt(f.size),
                f.name,
                esc(f.ty),
                f.order.as_str(),
                versions(f.since, f.until),
                notes.join("; ")
            );
        }
        out.push('\n');
    }
}

/// Splits an op's doc line `NAME (0xNN, kind): text` into `NAME` and `kind: text`.
fn split_doc(doc: &str) -> (&str, String) {
    let (name, rest) = doc.split_once(' ').unwrap_or((doc, ""));
    let Some(inner_end) = rest.strip_prefix('(').and_then(|r| r.find(')')) else {
        return (name, rest.to_string());
    };
    let inner = &rest[1..=inner_end];
    let text = rest[inner_end + 2..].trim_start_matches(':').trim();
    match inner.split_once(", ") {
        Some((_, kind)) => (name, format!("{kind}: {text}")),
        None => (name, text.to_string()),
    }
}

fn rsp_arm_name(k: RspKind) -> &'static str {
    match k {
        RspKind::Obj => "ObjRsp",
        RspKind::Vdi => "VdiRsp",
        RspKind::Node => "NodeRsp",
        RspKind::Hash => "HashRsp",
        RspKind::ClusterDefault => "ClusterDefaultRsp",
        RspKind::None => "NoRsp",
    }
}

/// The protocol specification in Markdown (the content of `docs/protocol.md`).
pub fn render_markdown() -> String {
    let mut o = String::new();
    o.push_str(
        "# Sheepdog wire protocol (as implemented by `sheep::proto`)\n\n\
         <!-- Generated by sheep::proto::spec::render_markdown() from the #[derive(Wire)] layout tables.\n     \
         Do not edit; regenerate with `SHEEP_BLESS=1 cargo test -p sheep --test protocol_spec`. -->\n\n\
         Every structure below is defined once in `sheep/src/proto/` with `#[derive(Wire)]`; offsets,\n\
         sizes and byte orders are the derive's own layout tables, checked at compile time against\n\
         the declared sizes. Conformance with the C sheepdog 1.0 is tested against the golden traces\n\
         (`sheep/tests/conformance.rs`).\n\n\
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
         is answered `EIO` and not stored.\n\n## Opcodes\n",
    );
    for p in Protocol::ALL {
        let _ = writeln!(o, "\n### {} protocol (`{}`)\n", p.name(), p.layout().name);
        o.push_str(
            "| opcode | C name | variant | request arm | response arm | C handler | versions | description |\n\
             |---:|---|---|---|---|---|---|---|\n",
        );
        for op in p.ops() {
            let code = op.opcode as u8;
            let (cname, desc) = split_doc(op.doc);
            let _ = writeln!(
                o,
                "| {:#04x} | {} | `{}` | [`{}`](#{}) | [`{}`](#{}) | {} | {} | {} |",
                code,
                cname,
                op.name,
                op.payload.unwrap_or("-"),
                op.payload.unwrap_or("-").to_lowercase(),
                rsp_arm_name(RspKind::for_opcode(code)),
                rsp_arm_name(RspKind::for_opcode(code)).to_lowercase(),
                if has_c_handler(code) { "yes" } else { "no" },
                versions(op.since, op.until),
                desc.replace('|', "\\|")
            );
        }
    }
    o.push_str("\n## Flags\n\n### Request flags (`ReqFlags`, header offset 2)\n\n| bit | name |\n|---:|---|\n");
    for (f, n) in ReqFlags::NAMED {
        let _ = writeln!(o, "| {:#06x} | {} |", f.bits(), n.replace('|', " / "));
    }
    o.push_str(
        "\nBit 0x0100 is WILDCARD on recovery reads and CREAT on GET_VDI_ATTR.\n\n\
         ### Cluster flags (`ClusterFlags`)\n\n| bit | name |\n|---:|---|\n",
    );
    for (f, n) in ClusterFlags::NAMED {
        let _ = writeln!(o, "| {:#06x} | {} |", f.bits(), n);
    }
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
        let _ = writeln!(o, "\n## {group}\n");
        for l in ls {
            render_layout(&mut o, l);
        }
    }
    while o.ends_with("\n\n") {
        o.pop();
    }
    o
}

// ---------------------------------------------------------------------------
// Breaking-change check.

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct TypeSnap {
    kind: String,
    attrs: BTreeMap<String, String>,
    /// name -> attributes (off, size, order, ty, since, until, reserved, default)
    fields: Vec<(String, BTreeMap<String, String>)>,
    /// opcode -> (name, payload, attrs)
    ops: BTreeMap<String, (String, BTreeMap<String, String>)>,
}

impl TypeSnap {
    /// `(compat, current)` versions, if the type is versioned.
    fn versions(&self) -> Option<(u64, u64)> {
        let v = self.attrs.get("versions")?;
        let (a, b) = v.split_once("..=")?;
        Some((parse_num(a)?, parse_num(b)?))
    }
}

fn parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn kv(words: &[&str]) -> BTreeMap<String, String> {
    words
        .iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (w.to_string(), String::new()),
        })
        .collect()
}

/// Parses a snapshot ([`render_snapshot`] format) into type name -> layout.
fn parse_snapshot(text: &str) -> Result<BTreeMap<String, TypeSnap>, String> {
    let mut out: BTreeMap<String, TypeSnap> = BTreeMap::new();
    let mut cur: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if !line.starts_with(' ') {
            if words.len() < 2 {
                return Err(format!("line {}: expected `<kind> <name> ...`", i + 1));
            }
            let name = words[1].to_string();
            out.insert(
                name.clone(),
                TypeSnap {
                    kind: words[0].to_string(),
                    attrs: kv(&words[2..]),
                    ..TypeSnap::default()
                },
            );
            cur = Some(name);
            continue;
        }
        let t = cur
            .as_ref()
            .and_then(|c| out.get_mut(c))
            .ok_or_else(|| format!("line {}: entry before any type", i + 1))?;
        match words.first().copied() {
            Some("field") if words.len() >= 2 => {
                t.fields.push((words[1].to_string(), kv(&words[2..])))
            }
            Some("op") if words.len() >= 3 => {
                let (name, payload) = match words[2].split_once('(') {
                    Some((n, p)) => (n.to_string(), p.trim_end_matches(')').to_string()),
                    None => (words[2].to_string(), String::new()),
                };
                let mut attrs = kv(&words[3..]);
                attrs.insert("payload".into(), payload);
                t.ops.insert(words[1].to_string(), (name, attrs));
            }
            _ => return Err(format!("line {}: cannot parse `{line}`", i + 1)),
        }
    }
    Ok(out)
}

/// Compares a committed snapshot (`old`) with the current one (`new`) and
/// returns one message per incompatible change, each naming the type and the
/// field or opcode.
///
/// Incompatible unless the type's current version was bumped: a field moved,
/// resized, retyped, re-ordered (byte order), removed, made reserved or given a
/// different default or version bounds; a field added; the type's size
/// changed; an opcode removed, reused for another variant or given another arm.
/// Always allowed: new types, new opcodes, and, with a version bump, new
/// fields whose `since` is above the old current version. Removing a type and
/// narrowing a type's version window (raising `compat`) are always reported.
///
/// # Errors
/// A snapshot that does not parse.
pub fn check_compat(old: &str, new: &str) -> Result<Vec<String>, String> {
    let old = parse_snapshot(old).map_err(|e| format!("old snapshot: {e}"))?;
    let new = parse_snapshot(new).map_err(|e| format!("new snapshot: {e}"))?;
    let mut errs = Vec::new();
    for (name, o) in &old {
        let Some(n) = new.get(name) else {
            errs.push(format!("{name}: type removed"));
            continue;
        };
        let (ov, nv) = (o.versions(), n.versions());
        let bumped = matches!((ov, nv), (Some((_, a)), Some((_, b))) if b > a)
            || (ov.is_none() && nv.is_some());
        if let (Some((oc, _)), Some((nc, _))) = (ov, nv) {
            if nc > oc {
                errs.push(format!("{name}: compat raised from {oc:#x} to {nc:#x}: peers at the old versions are no longer read"));
            }
        }
        if let (Some((_, a)), Some((_, b))) = (ov, nv) {
            if b < a {
                errs.push(format!("{name}: version lowered from {a:#x} to {b:#x}"));
            }
        }
        let why = |what: String| format!("{name}.{what} without a version bump of {name}");
        if !bumped {
            for key in ["size", "align", "tag"] {
                if o.attrs.get(key) != n.attrs.get(key) {
                    errs.push(format!(
                        "{name}: {key} changed from {} to {} without a version bump of {name}",
                        o.attrs.get(key).map_or("-", |s| s.as_str()),
                        n.attrs.get(key).map_or("-", |s| s.as_str())
                    ));
                }
            }
        }
        for (fname, fo) in &o.fields {
            let Some((_, fnew)) = n.fields.iter().find(|(f, _)| f == fname) else {
                if !bumped {
                    errs.push(why(format!("{fname} removed")));
                }
                continue;
            };
            if bumped {
                continue;
            }
            for (key, what) in [
                ("off", "moved"),
                ("size", "resized"),
                ("ty", "retyped"),
                ("order", "byte order changed"),
                ("reserved", "reserved flag changed"),
                ("default", "default changed"),
                ("since", "since changed"),
                ("until", "until changed"),
            ] {
                let (a, b) = (fo.get(key), fnew.get(key));
                if a != b {
                    let show = |v: Option<&String>| {
                        v.map_or("(none)".to_string(), |s| {
                            if s.is_empty() {
                                "set".into()
                            } else {
                                s.clone()
                            }
                        })
                    };
                    errs.push(why(format!(
                        "{fname} {what} from {} to {}",
                        show(a),
                        show(b)
                    )));
                }
            }
        }
        for (fname, fnew) in &n.fields {
            if o.fields.iter().any(|(f, _)| f == fname) {
                continue;
            }
            let since = fnew.get("since").and_then(|s| parse_num(s));
            let old_cur = ov.map(|(_, c)| c);
            let ok = bumped && matches!((since, old_cur), (Some(s), Some(c)) if s > c)
                || bumped && old_cur.is_none() && since.is_some();
            if !ok {
                errs.push(format!(
                    "{name}.{fname} added without a version bump of {name} (new fields need `since` = a new version)"
                ));
            }
        }
        for (code, (oname, oattrs)) in &o.ops {
            let Some((nname, nattrs)) = n.ops.get(code) else {
                if !bumped {
                    errs.push(format!(
                        "{name}: opcode {code} ({oname}) removed without a version bump of {name}"
                    ));
                }
                continue;
            };
            if bumped {
                continue;
            }
            if oname != nname {
                errs.push(format!(
                    "{name}: opcode {code} reused: was {oname}, now {nname} (without a version bump of {name})"
                ));
            }
            for key in ["payload", "since", "until"] {
                if oattrs.get(key) != nattrs.get(key) {
                    errs.push(format!(
                        "{name}: opcode {code} ({oname}) {key} changed from {} to {} without a version bump of {name}",
                        oattrs.get(key).map_or("(none)", |s| s.as_str()),
                        nattrs.get(key).map_or("(none)", |s| s.as_str())
                    ));
                }
            }
        }
    }
    Ok(errs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_parses_and_is_self_compatible() {
        let s = render_snapshot();
        assert_eq!(check_compat(&s, &s).unwrap(), Vec::<String>::new());
        assert!(render_markdown().contains("| 0xa4 | READ_PEER | `ReadPeer` | [`ObjReq`]"));
    }
}
