//! Shared invariant checks for the fuzz targets.
//!
//! Every check panics (= an AFL crash) when an invariant breaks:
//! * a decoder never reads past its input (consumed <= len, == FIXED_SIZE
//!   for fixed-size types);
//! * an encoder writes exactly `wire_size` bytes (== FIXED_SIZE when fixed);
//! * anything that decodes re-encodes to the input bytes, except in the
//!   documented don't-care ranges (reserved fields, `SdNode`'s 24 pointer
//!   bytes and 2 pad bytes), and the re-encoding decodes to an equal value
//!   and re-encodes to itself.

use core::fmt::Debug;
use core::ops::Range;

use sdwire::{Layout, Version, Wire};
use sheep::proto::arms::*;
use sheep::proto::cluster_info::*;
use sheep::proto::*;

/// Layout of a nested proto type by the name written in a field's `ty`.
fn nested(ty: &str) -> Option<&'static Layout> {
    Some(match ty {
        "NodeId" => NodeId::LAYOUT,
        "SdNode" => SdNode::LAYOUT,
        "EpochLog" => EpochLog::LAYOUT,
        "ClusterInfoHeader" => ClusterInfoHeader::LAYOUT,
        "ObjReq" => ObjReq::LAYOUT,
        "VdiReq" => VdiReq::LAYOUT,
        "ClusterReq" => ClusterReq::LAYOUT,
        "VdiStateReq" => VdiStateReq::LAYOUT,
        "RefReq" => RefReq::LAYOUT,
        "ForwReq" => ForwReq::LAYOUT,
        "VdiStateCheckpointReq" => VdiStateCheckpointReq::LAYOUT,
        "InodeCoherenceReq" => InodeCoherenceReq::LAYOUT,
        "NoArgs" => NoArgs::LAYOUT,
        "RawArgs" => RawArgs::LAYOUT,
        "ObjRsp" => ObjRsp::LAYOUT,
        "VdiRsp" => VdiRsp::LAYOUT,
        "NodeRsp" => NodeRsp::LAYOUT,
        "HashRsp" => HashRsp::LAYOUT,
        "ClusterDefaultRsp" => ClusterDefaultRsp::LAYOUT,
        "NoRsp" => NoRsp::LAYOUT,
        "VdiState" => VdiState::LAYOUT,
        "RecoveryState" => RecoveryState::LAYOUT,
        "SdStat" => SdStat::LAYOUT,
        "VdiAttr" => VdiAttr::LAYOUT,
        "InodeHeader" => sheep::proto::InodeHeader::LAYOUT,
        _ => return None,
    })
}

/// Don't-care byte ranges of a fixed-size struct layout, at `base`:
/// every `reserved` field, recursively through nested proto types and arrays of them.
/// Offsets are the layout's, i.e. at the type's current version (see [`dont_care_at`]).
pub fn dont_care(layout: &Layout, base: usize, out: &mut Vec<Range<usize>>) {
    dont_care_at(layout, base, None, out);
}

/// Whether field `f` exists at `v`.
fn present(f: &sdwire::FieldLayout, v: Version) -> bool {
    f.since.is_none_or(|s| s <= v) && f.until.is_none_or(|u| v < u)
}

/// Field offsets of a versioned layout at version `v` (`None` for a field
/// absent at `v`), when every field has a fixed size and the layout has no
/// explicit padding (checked against the current-version offsets).
fn offsets_at(layout: &Layout, v: Version) -> Option<Vec<Option<usize>>> {
    let (_, cur) = layout.versions?;
    let walk = |v: Version| -> Option<Vec<Option<usize>>> {
        let mut at = 0usize;
        let mut out = Vec::new();
        for f in layout.fields {
            if present(f, v) {
                out.push(Some(at));
                at += f.size?;
            } else {
                out.push(None);
            }
        }
        Some(out)
    };
    let now = walk(cur)?;
    let same = layout
        .fields
        .iter()
        .zip(&now)
        .all(|(f, o)| f.offset.is_none() || f.offset == *o);
    if !same {
        return None;
    }
    walk(v)
}

/// [`dont_care`] of the encoding at `version` (`None`: the current one): a
/// versioned type's fields are placed where they sit at that version, and
/// fields absent at it are skipped (e.g. the 4 bytes of `ObjReq` that are
/// reserved before peer 0x0b and the payload CRC from 0x0b).
pub fn dont_care_at(
    layout: &Layout,
    base: usize,
    version: Option<Version>,
    out: &mut Vec<Range<usize>>,
) {
    let offs = version.and_then(|v| offsets_at(layout, v));
    for (i, f) in layout.fields.iter().enumerate() {
        let off = match &offs {
            Some(o) => o[i],
            None => f.offset,
        };
        let (Some(off), Some(size)) = (off, f.size) else {
            continue;
        };
        let at = base + off;
        if f.reserved {
            out.push(at..at + size);
            continue;
        }
        let ty = f.ty.trim();
        if let Some(l) = nested(ty) {
            dont_care_at(l, at, version, out);
        } else if let Some(inner) = ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            if let Some((elem, n)) = inner.split_once(';') {
                if let (Some(l), Ok(n)) = (nested(elem.trim()), n.trim().parse::<usize>()) {
                    let es = l.size.expect("array element of fixed size");
                    for i in 0..n {
                        dont_care_at(l, at + i * es, version, out);
                    }
                }
            }
        }
    }
}

/// Don't-care ranges of `T` at offset 0.
pub fn mask_of<T: Wire>() -> Vec<Range<usize>> {
    let mut v = Vec::new();
    dont_care(T::LAYOUT, 0, &mut v);
    v
}

/// Don't-care ranges of `T` encoded at `version`, at offset 0.
pub fn mask_of_at<T: Wire>(version: Version) -> Vec<Range<usize>> {
    let mut v = Vec::new();
    dont_care_at(T::LAYOUT, 0, Some(version), &mut v);
    v
}

/// Asserts `a == b` except inside `mask` (ranges relative to `a`/`b`).
#[track_caller]
pub fn eq_modulo(what: &str, a: &[u8], b: &[u8], mask: &[Range<usize>]) {
    assert_eq!(a.len(), b.len(), "{what}: length differs");
    for i in 0..a.len() {
        if a[i] != b[i] && !mask.iter().any(|r| r.contains(&i)) {
            panic!(
                "{what}: byte {i} re-encodes as {:#04x}, input had {:#04x}",
                b[i], a[i]
            );
        }
    }
}

/// Asserts that every byte inside `mask` of `enc` is zero (reserved bytes are written as zeros).
#[track_caller]
pub fn zero_in(what: &str, enc: &[u8], mask: &[Range<usize>]) {
    for r in mask {
        for i in r.clone() {
            if i < enc.len() {
                assert_eq!(enc[i], 0, "{what}: reserved byte {i} not written as zero");
            }
        }
    }
}

/// Encodes, checking `wire_size`, `FIXED_SIZE` and that a buffer of exactly
/// `wire_size` bytes is enough (and one byte less is refused, not overrun).
#[track_caller]
pub fn encode_checked<T: Wire>(v: &T, version: Version) -> Vec<u8> {
    let ws = v.wire_size(version);
    if let Some(n) = T::FIXED_SIZE {
        assert_eq!(ws, n, "{}: wire_size != FIXED_SIZE", T::LAYOUT.name);
    }
    let mut out = Vec::new();
    v.encode(&mut out, version)
        .expect("a value that decoded re-encodes");
    assert_eq!(
        out.len(),
        ws,
        "{}: encoded len != wire_size",
        T::LAYOUT.name
    );
    // Into an exact-size slice: fits, fills it.
    let mut exact = vec![0xA5u8; ws];
    {
        let mut s = &mut exact[..];
        v.encode(&mut s, version).expect("fits in wire_size bytes");
        assert!(s.is_empty(), "{}: slice not filled", T::LAYOUT.name);
    }
    assert_eq!(
        exact,
        out,
        "{}: slice and Vec encodings differ",
        T::LAYOUT.name
    );
    // One byte short: must fail cleanly (no panic, no overrun).
    if ws > 0 && ws <= 1 << 16 {
        let mut short = vec![0u8; ws - 1];
        let mut s = &mut short[..];
        assert!(
            v.encode(&mut s, version).is_err(),
            "{}: encoded into a buffer one byte short",
            T::LAYOUT.name
        );
    }
    out
}

/// Decodes a `T` from the start of `data`; on success checks the full
/// invariant set and returns the value and the consumed byte count.
#[track_caller]
pub fn roundtrip<T: Wire + PartialEq + Debug>(
    data: &[u8],
    version: Version,
    mask: &[Range<usize>],
) -> Option<(T, usize)> {
    let mut s = data;
    let v = T::decode(&mut s, version).ok()?;
    let consumed = data.len() - s.len();
    assert!(consumed <= data.len());
    if let Some(n) = T::FIXED_SIZE {
        assert_eq!(consumed, n, "{}: consumed != FIXED_SIZE", T::LAYOUT.name);
    }
    let enc = encode_checked(&v, version);
    assert_eq!(
        enc.len(),
        consumed,
        "{}: encoded len != consumed",
        T::LAYOUT.name
    );
    eq_modulo(T::LAYOUT.name, &data[..consumed], &enc, mask);
    zero_in(T::LAYOUT.name, &enc, mask);
    let mut s2 = &enc[..];
    let v2 = T::decode(&mut s2, version).expect("re-encoding decodes");
    assert!(s2.is_empty(), "{}: re-decode left bytes", T::LAYOUT.name);
    assert_eq!(v2, v, "{}: re-decoded value differs", T::LAYOUT.name);
    assert_eq!(
        encode_checked(&v2, version),
        enc,
        "{}: encoding not stable",
        T::LAYOUT.name
    );
    // A truncated input never decodes (fixed-size types).
    if T::FIXED_SIZE.is_some() && consumed > 0 {
        let mut t = &data[..consumed - 1];
        assert!(
            T::decode(&mut t, version).is_err(),
            "{}: decoded from short input",
            T::LAYOUT.name
        );
    }
    Some((v, consumed))
}

/// Reads a little-endian u32 at `at` (0 if out of range).
pub fn le32(d: &[u8], at: usize) -> u32 {
    d.get(at..at + 4)
        .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}
