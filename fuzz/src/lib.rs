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
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use sdwire::{Layout, Version, Wire};
use sheep_proto::arms::*;
use sheep_proto::cluster_info::*;
use sheep_proto::*;

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
        "InodeHeader" => sheep_proto::InodeHeader::LAYOUT,
        _ => return None,
    })
}

/// Don't-care byte ranges of a fixed-size struct layout, at `base`:
/// every `reserved` field, recursively through nested proto types and arrays of them.
/// (Walked once per layout, see [`layout_mask`].) Offsets are the layout's,
/// i.e. at the type's current version (see [`dont_care_at`]).
pub fn dont_care(layout: &'static Layout, base: usize, out: &mut Vec<Range<usize>>) {
    dont_care_at(layout, base, None, out);
}

/// [`dont_care`] of the encoding at `version` (`None`: the current one): a
/// versioned type's fields sit where they are at that version, and fields
/// absent at it are skipped (e.g. the 4 bytes of `ObjReq` that are reserved
/// before peer 0x0b and hold the payload CRC from 0x0b).
pub fn dont_care_at(
    layout: &'static Layout,
    base: usize,
    version: Option<Version>,
    out: &mut Vec<Range<usize>>,
) {
    let m = layout_mask_at(layout, version);
    out.extend(m.iter().map(|r| base + r.start..base + r.end));
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
    let place = |v: Version| -> Option<Vec<Option<usize>>> {
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
    let now = place(cur)?;
    let same = layout
        .fields
        .iter()
        .zip(&now)
        .all(|(f, o)| f.offset.is_none() || f.offset == *o);
    if !same {
        return None;
    }
    place(v)
}

fn walk(layout: &Layout, base: usize, version: Option<Version>, out: &mut Vec<Range<usize>>) {
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
            walk(l, at, version, out);
        } else if let Some(inner) = ty.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            if let Some((elem, n)) = inner.split_once(';') {
                if let (Some(l), Ok(n)) = (nested(elem.trim()), n.trim().parse::<usize>()) {
                    let es = l.size.expect("array element of fixed size");
                    for i in 0..n {
                        walk(l, at + i * es, version, out);
                    }
                }
            }
        }
    }
}

/// The don't-care ranges of `layout` at offset 0, walked once per layout and
/// cached (the walk parses field type names: too slow to repeat per exec).
pub fn layout_mask(layout: &'static Layout) -> Rc<[Range<usize>]> {
    layout_mask_at(layout, None)
}

/// [`layout_mask`] at `version` (`None`: the current one), cached per
/// layout and version.
pub fn layout_mask_at(layout: &'static Layout, version: Option<Version>) -> Rc<[Range<usize>]> {
    type Masks = HashMap<(usize, Option<Version>), Rc<[Range<usize>]>>;
    thread_local! {
        static MASKS: RefCell<Masks> = RefCell::new(HashMap::new());
    }
    let key = (core::ptr::from_ref(layout) as usize, version);
    MASKS.with(|c| {
        c.borrow_mut()
            .entry(key)
            .or_insert_with(|| {
                let mut v = Vec::new();
                walk(layout, 0, version, &mut v);
                v.into()
            })
            .clone()
    })
}

/// Don't-care ranges of `T` at offset 0.
pub fn mask_of<T: Wire>() -> Vec<Range<usize>> {
    layout_mask(T::LAYOUT).to_vec()
}

/// Don't-care ranges of `T` encoded at `version`, at offset 0.
pub fn mask_of_at<T: Wire>(version: Version) -> Vec<Range<usize>> {
    layout_mask_at(T::LAYOUT, Some(version)).to_vec()
}

/// The byte ranges of `0..len` outside `mask`, ascending.
fn outside(len: usize, mask: &[Range<usize>]) -> Vec<Range<usize>> {
    let mut m: Vec<Range<usize>> = mask.iter().filter(|r| r.start < r.end).cloned().collect();
    m.sort_unstable_by_key(|r| r.start);
    let mut out = Vec::with_capacity(m.len() + 1);
    let mut at = 0;
    for r in m {
        if r.start >= len {
            break;
        }
        if r.start > at {
            out.push(at..r.start);
        }
        at = at.max(r.end);
    }
    if at < len {
        out.push(at..len);
    }
    out
}

/// Asserts `a == b` except inside `mask` (ranges relative to `a`/`b`).
///
/// Compares the runs between don't-care ranges as slices (memcmp, not an
/// instrumented per-byte loop) and reports the first differing byte outside
/// the mask.
#[track_caller]
pub fn eq_modulo(what: &str, a: &[u8], b: &[u8], mask: &[Range<usize>]) {
    assert_eq!(a.len(), b.len(), "{what}: length differs");
    if a == b {
        return;
    }
    for r in outside(a.len(), mask) {
        if a[r.clone()] != b[r.clone()] {
            let i = r.clone().find(|&i| a[i] != b[i]).unwrap();
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
    static ZEROS: [u8; 4096] = [0; 4096];
    for r in mask {
        let r = r.start.min(enc.len())..r.end.min(enc.len());
        let mut at = r.start;
        while at < r.end {
            let n = (r.end - at).min(ZEROS.len());
            if enc[at..at + n] != ZEROS[..n] {
                let i = (at..at + n).find(|&i| enc[i] != 0).unwrap();
                panic!("{what}: reserved byte {i} not written as zero");
            }
            at += n;
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
    let mut out = Vec::with_capacity(ws);
    v.encode(&mut out, version)
        .expect("a value that decoded re-encodes");
    assert_eq!(
        out.len(),
        ws,
        "{}: encoded len != wire_size",
        T::LAYOUT.name
    );
    // A scratch buffer reused across execs (no per-exec allocation and page
    // faults for the ~0.5 MB types).
    thread_local! {
        static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    SCRATCH.with(|b| {
        let mut b = b.borrow_mut();
        // Into an exact-size slice: fits, fills it.
        b.clear();
        b.resize(ws, 0xA5);
        {
            let mut s = &mut b[..];
            v.encode(&mut s, version).expect("fits in wire_size bytes");
            assert!(s.is_empty(), "{}: slice not filled", T::LAYOUT.name);
        }
        assert_eq!(
            b[..],
            out[..],
            "{}: slice and Vec encodings differ",
            T::LAYOUT.name
        );
        // One byte short: must fail cleanly (no panic, no overrun).
        if ws > 0 && ws <= 1 << 16 {
            b.clear();
            b.resize(ws - 1, 0);
            let mut s = &mut b[..];
            assert!(
                v.encode(&mut s, version).is_err(),
                "{}: encoded into a buffer one byte short",
                T::LAYOUT.name
            );
        }
    });
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

/// Keeps freed memory in the heap: the targets allocate and free buffers of
/// up to ~0.5 MB per exec, which glibc's defaults hand back to the kernel
/// (mmap/munmap, heap trimming), so every exec paid page faults for them.
/// (32 MiB is the largest mmap threshold glibc accepts.)
fn keep_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        const M_TRIM_THRESHOLD: i32 = -1;
        const M_MMAP_THRESHOLD: i32 = -3;
        // SAFETY: mallopt only changes allocator tuning parameters.
        unsafe {
            mallopt(M_MMAP_THRESHOLD, 32 << 20);
            mallopt(M_TRIM_THRESHOLD, 256 << 20);
        }
    }
}

/// The fuzz loop of every target: AFL++ persistent mode (`afl::fuzz`), or,
/// with `FUZZ_BENCH=DIR[:ROUNDS]` set, `f` over every file in DIR (ROUNDS
/// times, default 20, after one warm-up pass) and the execs/s printed to
/// stderr: for profiling a harness (e.g. under `perf record`) without afl-fuzz.
pub fn fuzz_main<F: FnMut(&[u8]) + std::panic::RefUnwindSafe>(mut f: F) {
    keep_heap();
    let Some(spec) = std::env::var_os("FUZZ_BENCH") else {
        afl::fuzz(true, f);
        return;
    };
    let spec = spec.to_string_lossy().into_owned();
    let (dir, rounds) = match spec.rsplit_once(':') {
        Some((d, r)) if r.parse::<usize>().is_ok() => (d.to_string(), r.parse().unwrap()),
        _ => (spec.clone(), 20),
    };
    let mut inputs: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .expect("FUZZ_BENCH directory")
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            Some((
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).ok()?,
            ))
        })
        .collect();
    inputs.sort();
    for (_, i) in &inputs {
        f(i);
    }
    let mut per = vec![std::time::Duration::ZERO; inputs.len()];
    let t = std::time::Instant::now();
    for _ in 0..rounds {
        for (k, (_, i)) in inputs.iter().enumerate() {
            let t = std::time::Instant::now();
            f(i);
            per[k] += t.elapsed();
        }
    }
    let n = rounds * inputs.len();
    let s = t.elapsed().as_secs_f64();
    let mut slow: Vec<usize> = (0..inputs.len()).collect();
    slow.sort_by_key(|&k| std::cmp::Reverse(per[k]));
    let top = std::env::var("FUZZ_BENCH_TOP")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(5);
    for &k in slow.iter().take(top) {
        let avg = per[k].as_secs_f64() * 1e3 / rounds as f64;
        eprintln!("slowest: {avg:.3} ms/exec {}", inputs[k].0);
    }
    eprintln!("{n} execs in {s:.3} s: {:.0} execs/s", n as f64 / s);
}
