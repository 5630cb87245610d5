//! Property tests of derived codecs and of the frame codec.
//!
//! For a representative set of derived types (fixed headers in both byte
//! orders, nested structs, a versioned struct, payloads bound to length and
//! count fields, opcode tables with data and a catch-all, `Le`/`Be`):
//! * encode -> decode is the identity at every version of the type's window,
//!   and `wire_size` is the encoded length;
//! * a value encoded as an older version decodes (as that version) to the
//!   value with the fields that version lacks set to their defaults, and
//!   encoding refuses to drop a non-default, non-ignorable field;
//! * decoding arbitrary bytes (garbage, and truncated or corrupted valid
//!   encodings) never panics, and when it succeeds, encoding the value again
//!   gives back the bytes it consumed (reserved fields, written as zeros,
//!   are zeroed in the input first);
//! * `FrameCodec` yields the same frames however the stream is chunked, and
//!   refuses a frame announcing more than its maximum payload as soon as
//!   the header is in, before any of the payload arrives.

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use sdwire::codec::{Frame, FrameCodec, FrameError, FrameHeader, FrameWriter};
use sdwire::{Be, DecodeErrorKind, EncodeErrorKind, Le, Version, Wire};
use tokio_util::codec::{Decoder, Encoder};

// ---------------------------------------------------------------- types

/// A little-endian fixed header with every number width.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(le, size = 48)]
struct ReqHeader {
    proto_ver: u8,
    opcode: u8,
    flags: u16,
    epoch: u32,
    id: u32,
    data_length: u32,
    offset: u64,
    signed: i64,
    body: [u8; 16],
}

/// A big-endian fixed header: bools, signed bytes, arrays of numbers,
/// typed integers, a per-field override, padding and a reserved field.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be, size = 48)]
struct BeHeader {
    magic: u32,
    kind: i16,
    flag: bool,
    tiny: i8,
    words: [u16; 4],
    #[wire(le)]
    little: u32,
    #[wire(pad = 4)]
    big: u64,
    #[wire(reserved)]
    _reserved: [u8; 4],
    le_typed: Le<u32>,
    be_typed: Be<u64>,
}

/// A fixed header nesting another one (the const layout path).
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(le, size = 64)]
struct Outer {
    seq: u64,
    hdr: ReqHeader,
    crc: u32,
    #[wire(reserved)]
    _pad: u32,
}

/// A versioned struct: fields added, removed, with custom defaults, an
/// ignorable one, a reserved tail.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(le, version = 4, compat = 1)]
struct Versioned {
    a: u32,
    #[wire(since = 2, default)]
    b: u16,
    #[wire(since = 3, default = 7)]
    c: u16,
    #[wire(until = 3, default)]
    old: u32,
    #[wire(since = 2, until = 4, default, ignorable)]
    mid: u8,
    #[wire(reserved)]
    _r: [u8; 4],
}

const V_COMPAT: Version = 1;
const V_CURRENT: Version = 4;

/// An element of a `Vec<T>` payload.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be, packed)]
struct Item {
    id: u32,
    flag: bool,
}

/// Payloads: bytes bound to a length with a maximum, a counted `Vec` of
/// nested values, and the rest of the input.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(le)]
struct Payload {
    len: u16,
    #[wire(len = len, max = 64)]
    data: Bytes,
    n: u8,
    #[wire(count = n)]
    items: Vec<Item>,
    #[wire(rest)]
    tail: Vec<u8>,
}

/// An opcode table with a u8 tag and a catch-all.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(tag = u8, le, range = 0x00..=0x7f, no_handler)]
enum Op {
    #[wire(opcode = 0x01)]
    Read(ReqHeader),
    #[wire(opcode = 0x02)]
    Write {
        len: u8,
        #[wire(len = len)]
        data: Vec<u8>,
    },
    #[wire(opcode = 0x03)]
    Nop,
    #[wire(opcode = 0x04)]
    Pair(Be<u16>, bool, u32),
    #[wire(other)]
    Unknown(u8),
}
const OP_CODES: [u8; 4] = [1, 2, 3, 4];

/// A versioned opcode table with a big-endian u32 tag.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(tag = u32, be, version = 3, compat = 1, no_handler)]
enum Res {
    #[wire(opcode = 0)]
    Success,
    #[wire(opcode = 1, since = 2)]
    Busy(u32),
    #[wire(opcode = 2, until = 3)]
    Old { code: u16 },
    #[wire(other)]
    Unknown(u32),
}
const RES_CODES: [u32; 3] = [0, 1, 2];

/// The header of the frame codec tests.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(le, size = 8)]
struct FrameHdr {
    opcode: u32,
    len: u32,
}

impl FrameHeader for FrameHdr {
    fn payload_len(&self) -> u64 {
        u64::from(self.len)
    }
}

// ----------------------------------------------------------- strategies

fn req_header() -> impl Strategy<Value = ReqHeader> {
    (
        (
            any::<u8>(),
            any::<u8>(),
            any::<u16>(),
            any::<u32>(),
            any::<u32>(),
        ),
        (any::<u32>(), any::<u64>(), any::<i64>(), any::<[u8; 16]>()),
    )
        .prop_map(
            |((proto_ver, opcode, flags, epoch, id), (data_length, offset, signed, body))| {
                ReqHeader {
                    proto_ver,
                    opcode,
                    flags,
                    epoch,
                    id,
                    data_length,
                    offset,
                    signed,
                    body,
                }
            },
        )
}

fn be_header() -> impl Strategy<Value = BeHeader> {
    (
        (
            any::<u32>(),
            any::<i16>(),
            any::<bool>(),
            any::<i8>(),
            any::<[u16; 4]>(),
        ),
        (any::<u32>(), any::<u64>(), any::<u32>(), any::<u64>()),
    )
        .prop_map(
            |((magic, kind, flag, tiny, words), (little, big, le, be))| BeHeader {
                magic,
                kind,
                flag,
                tiny,
                words,
                little,
                big,
                _reserved: [0; 4],
                le_typed: Le::new(le),
                be_typed: Be::new(be),
            },
        )
}

fn outer() -> impl Strategy<Value = Outer> {
    (any::<u64>(), req_header(), any::<u32>()).prop_map(|(seq, hdr, crc)| Outer {
        seq,
        hdr,
        crc,
        _pad: 0,
    })
}

/// Any value of the newest version (fields absent there at their default).
fn versioned() -> impl Strategy<Value = Versioned> {
    (
        any::<u32>(),
        any::<u16>(),
        any::<u16>(),
        any::<u32>(),
        any::<u8>(),
    )
        .prop_map(|(a, b, c, old, mid)| Versioned {
            a,
            b,
            c,
            old,
            mid,
            _r: [0; 4],
        })
}

fn present(since: Option<Version>, until: Option<Version>, v: Version) -> bool {
    since.is_none_or(|s| v >= s) && until.is_none_or(|u| v < u)
}

/// `x` as decoded at version `v`: every field `v` lacks at its default.
fn at_version(x: &Versioned, v: Version) -> Versioned {
    Versioned {
        a: x.a,
        b: if present(Some(2), None, v) { x.b } else { 0 },
        c: if present(Some(3), None, v) { x.c } else { 7 },
        old: if present(None, Some(3), v) { x.old } else { 0 },
        mid: if present(Some(2), Some(4), v) {
            x.mid
        } else {
            0
        },
        _r: [0; 4],
    }
}

fn item() -> impl Strategy<Value = Item> {
    (any::<u32>(), any::<bool>()).prop_map(|(id, flag)| Item { id, flag })
}

/// A payload whose length fields match (as decoding gives them).
fn payload() -> impl Strategy<Value = Payload> {
    (
        vec(any::<u8>(), 0..=64),
        vec(item(), 0..8),
        vec(any::<u8>(), 0..32),
    )
        .prop_map(|(data, items, tail)| Payload {
            len: data.len() as u16,
            data: Bytes::from(data),
            n: items.len() as u8,
            items,
            tail,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        req_header().prop_map(Op::Read),
        vec(any::<u8>(), 0..40).prop_map(|data| Op::Write {
            len: data.len() as u8,
            data
        }),
        Just(Op::Nop),
        (any::<u16>(), any::<bool>(), any::<u32>()).prop_map(|(a, b, c)| Op::Pair(
            Be::new(a),
            b,
            c
        )),
        any::<u8>()
            .prop_filter("an unknown tag", |t| !OP_CODES.contains(t))
            .prop_map(Op::Unknown),
    ]
}

fn res() -> impl Strategy<Value = Res> {
    prop_oneof![
        Just(Res::Success),
        any::<u32>().prop_map(Res::Busy),
        any::<u16>().prop_map(|code| Res::Old { code }),
        any::<u32>()
            .prop_filter("an unknown tag", |t| !RES_CODES.contains(t))
            .prop_map(Res::Unknown),
    ]
}

/// Whether a `Res` variant exists at `v`.
fn res_present(r: &Res, v: Version) -> bool {
    match r {
        Res::Busy(_) => v >= 2,
        Res::Old { .. } => v < 3,
        _ => true,
    }
}

// ------------------------------------------------------------- helpers

/// Encodes, checks `wire_size`, decodes (from a slice and from a `Bytes`),
/// and checks that the decode used every byte.
fn round_trip<T: Wire + PartialEq + std::fmt::Debug>(
    value: &T,
    v: Version,
) -> Result<Vec<u8>, TestCaseError> {
    let bytes =
        sdwire::to_vec(value, v).map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
    prop_assert_eq!(bytes.len(), value.wire_size(v), "wire_size of {:?}", value);
    if let Some(n) = T::FIXED_SIZE {
        prop_assert_eq!(bytes.len(), n);
    }
    let back: T = sdwire::from_slice_exact(&bytes, v)
        .map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
    prop_assert_eq!(&back, value);
    let mut buf = Bytes::from(bytes.clone());
    let back =
        T::decode(&mut buf, v).map_err(|e| TestCaseError::fail(format!("decode Bytes: {e}")))?;
    prop_assert_eq!(&back, value);
    prop_assert!(buf.is_empty());
    Ok(bytes)
}

/// Decodes arbitrary `input` as `v`: must not panic; on success, encoding
/// the value again gives back exactly the bytes consumed, with the ranges of
/// reserved fields (`zeroed`) written as zeros.
fn decode_any<T: Wire + std::fmt::Debug>(
    input: &[u8],
    v: Version,
    zeroed: &[(usize, usize)],
) -> Result<(), TestCaseError> {
    let mut rest = input;
    let Ok(value) = T::decode(&mut rest, v) else {
        return Ok(());
    };
    let used = input.len() - rest.len();
    let mut expected = input[..used].to_vec();
    for &(off, len) in zeroed {
        if off + len <= used {
            expected[off..off + len].fill(0);
        }
    }
    let again = sdwire::to_vec(&value, v)
        .map_err(|e| TestCaseError::fail(format!("re-encode {value:?}: {e}")))?;
    prop_assert_eq!(again, expected, "re-encoding {:?}", value);
    prop_assert_eq!(value.wire_size(v), used);
    Ok(())
}

/// Byte ranges a fixed-size type writes as zeros whatever the value:
/// reserved fields and explicit `pad` bytes (the gaps between fields), from
/// its layout table.
fn zeroed_ranges<T: Wire>() -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut end = 0;
    for f in T::LAYOUT.fields {
        let (off, size) = (f.offset.expect("fixed offset"), f.size.expect("fixed size"));
        if off > end {
            out.push((end, off - end));
        }
        if f.reserved {
            out.push((off, size));
        }
        end = off + size;
    }
    out
}

/// A valid encoding, then truncated at `cut` (a fraction) and with one byte
/// flipped at `flip`, for the "arbitrary input" properties.
fn mangle(mut bytes: Vec<u8>, cut: f64, flip: Option<(prop::sample::Index, u8)>) -> Vec<u8> {
    if let Some((i, x)) = flip {
        if !bytes.is_empty() {
            let i = i.index(bytes.len());
            bytes[i] ^= x;
        }
    }
    let keep = ((bytes.len() as f64) * cut).round() as usize;
    bytes.truncate(keep.min(bytes.len()));
    bytes
}

fn mangling() -> impl Strategy<Value = (f64, Option<(prop::sample::Index, u8)>)> {
    (
        prop_oneof![Just(1.0), 0.0..1.0f64],
        proptest::option::of((any::<prop::sample::Index>(), 1..=255u8)),
    )
}

// ---------------------------------------------------------- properties

/// Failures print their minimal input; nothing is persisted (integration
/// tests have no `lib.rs` for proptest to put regressions next to).
fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn fixed_headers_round_trip(h in req_header(), b in be_header(), o in outer()) {
        let bytes = round_trip(&h, 0)?;
        prop_assert_eq!(&bytes[4..8], &h.epoch.to_le_bytes());
        prop_assert_eq!(&bytes[32..48], &h.body);
        let bytes = round_trip(&b, 0)?;
        prop_assert_eq!(&bytes[0..4], &b.magic.to_be_bytes());
        prop_assert_eq!(&bytes[16..20], &b.little.to_le_bytes());
        prop_assert_eq!(&bytes[24..32], &b.big.to_be_bytes());
        prop_assert_eq!(&bytes[32..36], &[0u8; 4]);
        prop_assert_eq!(&bytes[36..40], &b.le_typed.get().to_le_bytes());
        prop_assert_eq!(&bytes[40..48], &b.be_typed.get().to_be_bytes());
        let bytes = round_trip(&o, 0)?;
        prop_assert_eq!(&bytes[8..56], &sdwire::to_vec(&o.hdr, 0).unwrap()[..]);
        // Unversioned types speak every version the same way.
        prop_assert_eq!(sdwire::to_vec(&o, 0xffff).unwrap(), bytes);
    }

    #[test]
    fn fixed_headers_decode_any_bytes(
        raw in vec(any::<u8>(), 0..80),
        h in req_header(), b in be_header(), o in outer(),
        (cut, flip) in mangling(),
    ) {
        for input in [raw.clone(), mangle(sdwire::to_vec(&h, 0).unwrap(), cut, flip)] {
            decode_any::<ReqHeader>(&input, 0, &[])?;
        }
        for input in [raw.clone(), mangle(sdwire::to_vec(&b, 0).unwrap(), cut, flip)] {
            decode_any::<BeHeader>(&input, 0, &zeroed_ranges::<BeHeader>())?;
            // A bool other than 0/1 is refused, never misread.
            if input.len() >= 48 && input[6] > 1 {
                prop_assert!(sdwire::from_slice::<BeHeader>(&input, 0).is_err());
            }
        }
        for input in [raw, mangle(sdwire::to_vec(&o, 0).unwrap(), cut, flip)] {
            decode_any::<Outer>(&input, 0, &zeroed_ranges::<Outer>())?;
            if input.len() < 64 {
                let e = sdwire::from_slice::<Outer>(&input, 0).unwrap_err();
                prop_assert!(matches!(e.kind(), DecodeErrorKind::Truncated { .. }), "{}", e);
            }
        }
    }

    #[test]
    fn versioned_round_trips_at_every_version(x in versioned()) {
        for v in V_COMPAT..=V_CURRENT {
            round_trip(&at_version(&x, v), v)?;
        }
        // Outside the window: refused both ways.
        for v in [0, V_CURRENT + 1] {
            let e = sdwire::to_vec(&x, v).unwrap_err();
            prop_assert!(matches!(e.kind(), EncodeErrorKind::UnsupportedVersion { .. }), "{}", e);
            let e = sdwire::from_slice::<Versioned>(&[0; 32], v).unwrap_err();
            prop_assert!(matches!(e.kind(), DecodeErrorKind::UnsupportedVersion { .. }), "{}", e);
        }
    }

    #[test]
    fn versioned_encode_as_older_then_decode_as_older(x in versioned()) {
        let current = at_version(&x, V_CURRENT);
        for older in V_COMPAT..=V_CURRENT {
            let expected = at_version(&current, older);
            // The fields `older` lacks that `current` holds at a non-default:
            // `mid` is ignorable (dropped silently); the others are refused.
            let dropped = (!present(Some(2), None, older) && current.b != 0)
                || (!present(Some(3), None, older) && current.c != 7);
            match sdwire::to_vec(&current, older) {
                Ok(bytes) => {
                    prop_assert!(!dropped, "encoding as {} dropped a field of {:?}", older, current);
                    prop_assert_eq!(bytes.len(), current.wire_size(older));
                    let back: Versioned = sdwire::from_slice_exact(&bytes, older).unwrap();
                    prop_assert_eq!(back, expected.clone());
                }
                Err(e) => {
                    prop_assert!(dropped, "{}", e);
                    prop_assert!(matches!(e.kind(), EncodeErrorKind::FieldDropped { .. }), "{}", e);
                }
            }
            // The value as the older version knows it always encodes.
            round_trip(&expected, older)?;
        }
    }

    #[test]
    fn versioned_decode_any_bytes(raw in vec(any::<u8>(), 0..24), x in versioned(), (cut, flip) in mangling()) {
        for v in V_COMPAT..=V_CURRENT {
            // The reserved tail is the last 4 bytes of each version's encoding.
            let size = at_version(&x, v).wire_size(v);
            for input in [raw.clone(), mangle(sdwire::to_vec(&at_version(&x, v), v).unwrap(), cut, flip)] {
                decode_any::<Versioned>(&input, v, &[(size - 4, 4)])?;
            }
        }
    }

    #[test]
    fn payloads_round_trip(p in payload()) {
        let bytes = round_trip(&p, 0)?;
        prop_assert_eq!(bytes.len(), 2 + p.data.len() + 1 + 5 * p.items.len() + p.tail.len());
        // The length fields are written from the payloads, whatever they held.
        let stale = Payload { len: 999, n: 0, ..p.clone() };
        prop_assert_eq!(sdwire::to_vec(&stale, 0).unwrap(), bytes);
        // Above `max`, refused both ways.
        let big = Payload { data: Bytes::from(vec![0; 65]), ..p };
        let e = sdwire::to_vec(&big, 0).unwrap_err();
        prop_assert!(matches!(e.kind(), EncodeErrorKind::LengthOverflow { .. }), "{}", e);
        let e = sdwire::from_slice::<Payload>(&[65, 0], 0).unwrap_err();
        prop_assert!(matches!(e.kind(), DecodeErrorKind::LengthTooLarge { .. }), "{}", e);
    }

    #[test]
    fn payloads_decode_any_bytes(raw in vec(any::<u8>(), 0..128), p in payload(), (cut, flip) in mangling()) {
        for input in [raw, mangle(sdwire::to_vec(&p, 0).unwrap(), cut, flip)] {
            decode_any::<Payload>(&input, 0, &[])?;
        }
    }

    #[test]
    fn enums_round_trip(o in op(), r in res()) {
        let bytes = round_trip(&o, 0)?;
        prop_assert_eq!(bytes[0], sdwire::OpTable::tag(&o));
        for v in 1..=3 {
            if res_present(&r, v) {
                let bytes = round_trip(&r, v)?;
                prop_assert_eq!(&bytes[..4], &sdwire::OpTable::tag(&r).to_be_bytes());
            } else {
                let e = sdwire::to_vec(&r, v).unwrap_err();
                prop_assert!(matches!(e.kind(), EncodeErrorKind::VariantUnavailable { .. }), "{}", e);
            }
        }
    }

    #[test]
    fn enums_decode_any_bytes(raw in vec(any::<u8>(), 0..64), o in op(), r in res(), (cut, flip) in mangling()) {
        for input in [raw.clone(), mangle(sdwire::to_vec(&o, 0).unwrap(), cut, flip)] {
            decode_any::<Op>(&input, 0, &[])?;
            // Every tag decodes to something: a known op or the catch-all.
            if let Some(&t) = input.first() {
                if let Ok(Op::Unknown(u)) = sdwire::from_slice::<Op>(&input, 0) {
                    prop_assert_eq!(u, t);
                    prop_assert!(!OP_CODES.contains(&t));
                }
            }
        }
        for v in 1..=3 {
            let valid = if res_present(&r, v) { sdwire::to_vec(&r, v).unwrap() } else { vec![] };
            for input in [raw.clone(), mangle(valid, cut, flip)] {
                decode_any::<Res>(&input, v, &[])?;
            }
        }
    }
}

// ---------------------------------------------------------- frame codec

const MAX_PAYLOAD: usize = 256;

fn frames() -> impl Strategy<Value = Vec<(u32, Vec<u8>)>> {
    vec((any::<u32>(), vec(any::<u8>(), 0..=MAX_PAYLOAD)), 0..6)
}

/// An `AsyncWrite` that accepts at most a few bytes per call (sizes from a
/// script, cycled), vectored or not, and records what it got.
struct Trickle {
    out: Vec<u8>,
    sizes: Vec<usize>,
    next: usize,
    vectored: bool,
}

impl Trickle {
    fn take(&mut self) -> usize {
        let n = self.sizes[self.next % self.sizes.len()];
        self.next += 1;
        n
    }
}

impl tokio::io::AsyncWrite for Trickle {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let n = self.take().min(buf.len());
        self.out.extend_from_slice(&buf[..n]);
        std::task::Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let mut n = self.take();
        let mut done = 0;
        for b in bufs {
            let k = n.min(b.len());
            self.out.extend_from_slice(&b[..k]);
            done += k;
            n -= k;
            if n == 0 {
                break;
            }
        }
        std::task::Poll::Ready(Ok(done))
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

fn encode_frames(frames: &[(u32, Vec<u8>)]) -> BytesMut {
    let mut codec = FrameCodec::<FrameHdr>::new(0, MAX_PAYLOAD);
    let mut wire = BytesMut::new();
    for (opcode, payload) in frames {
        let hdr = FrameHdr {
            opcode: *opcode,
            len: payload.len() as u32,
        };
        codec
            .encode(Frame::new(hdr, payload.clone()), &mut wire)
            .unwrap();
    }
    wire
}

/// Feeds `wire` to a fresh codec in chunks of the given sizes (cycled),
/// collecting every frame it yields.
fn decode_chunked(wire: &[u8], chunks: &[usize]) -> Result<Vec<(u32, Vec<u8>)>, FrameError> {
    let mut codec = FrameCodec::<FrameHdr>::new(0, MAX_PAYLOAD);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut pos = 0;
    let mut k = 0;
    while pos < wire.len() {
        let n = chunks[k % chunks.len()].clamp(1, wire.len() - pos);
        k += 1;
        buf.extend_from_slice(&wire[pos..pos + n]);
        pos += n;
        while let Some(f) = codec.decode(&mut buf)? {
            assert_eq!(f.payload.len() as u64, f.header.payload_len());
            out.push((f.header.opcode, f.payload.to_vec()));
        }
    }
    assert!(codec.decode_eof(&mut buf)?.is_none());
    Ok(out)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn frame_codec_any_chunking(frames in frames(), chunks in vec(1..64usize, 1..8)) {
        let wire = encode_frames(&frames);
        prop_assert_eq!(decode_chunked(&wire, &[wire.len().max(1)]).unwrap(), frames.clone());
        prop_assert_eq!(decode_chunked(&wire, &chunks).unwrap(), frames.clone());
        prop_assert_eq!(decode_chunked(&wire, &[1]).unwrap(), frames);
    }

    #[test]
    fn frame_codec_refuses_oversized_before_payload(
        good in frames(),
        opcode in any::<u32>(),
        len in (MAX_PAYLOAD as u32 + 1)..=u32::MAX,
        chunks in vec(1..16usize, 1..4),
    ) {
        // Valid frames, then only the 8-byte header of an oversized one: no
        // payload byte of it ever arrives, yet the codec refuses it.
        let mut wire = encode_frames(&good);
        wire.extend_from_slice(&sdwire::to_vec(&FrameHdr { opcode, len }, 0).unwrap());
        let err = decode_chunked(&wire, &chunks).unwrap_err();
        match err {
            FrameError::TooLarge { len: l, max } => {
                prop_assert_eq!(l, u64::from(len));
                prop_assert_eq!(max, MAX_PAYLOAD);
            }
            other => prop_assert!(false, "expected TooLarge, got {}", other),
        }
        // A partial header is just "not yet".
        let mut codec = FrameCodec::<FrameHdr>::new(0, MAX_PAYLOAD);
        let hdr = sdwire::to_vec(&FrameHdr { opcode, len }, 0).unwrap();
        let mut buf = BytesMut::from(&hdr[..7]);
        prop_assert!(codec.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(&hdr[7..]);
        let refused = matches!(codec.decode(&mut buf), Err(FrameError::TooLarge { .. }));
        prop_assert!(refused);
    }

    #[test]
    fn frame_writer_writes_what_the_codec_encodes(
        good in frames(),
        limit in 0..=MAX_PAYLOAD + 1,
        sizes in vec(1..64usize, 1..5),
        vectored in any::<bool>(),
        flush_every in 1..4usize,
    ) {
        // Whatever the copy limit, partial writes and vectored support, the
        // bytes on the wire are exactly the codec's encoding.
        let want = encode_frames(&good);
        let io = Trickle { out: Vec::new(), sizes, next: 0, vectored };
        let mut w = FrameWriter::<_, FrameHdr>::new(io, 0).with_copy_limit(limit);
        tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
            for (i, (opcode, payload)) in good.iter().enumerate() {
                let hdr = FrameHdr { opcode: *opcode, len: payload.len() as u32 };
                w.send(Frame::new(hdr, payload.clone())).await.unwrap();
                if i % flush_every == 0 {
                    w.flush().await.unwrap();
                }
            }
            w.flush().await.unwrap();
        });
        prop_assert_eq!(w.buffered(), 0);
        prop_assert_eq!(&w.get_ref().out[..], &want[..]);
        // A mismatched frame is refused and leaves nothing behind.
        let bad = FrameHdr { opcode: 0, len: 5 };
        let refused = tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(
            w.send(Frame::new(bad, vec![0u8; 4])),
        );
        let mismatch = matches!(refused, Err(FrameError::LengthMismatch { .. }));
        prop_assert!(mismatch);
        prop_assert_eq!(w.buffered(), 0);
    }

    #[test]
    fn frame_codec_refuses_mismatched_outgoing_frame(payload in vec(any::<u8>(), 0..32), delta in 1..8u32) {
        let mut codec = FrameCodec::<FrameHdr>::new(0, MAX_PAYLOAD);
        let hdr = FrameHdr { opcode: 1, len: payload.len() as u32 + delta };
        let mut wire = BytesMut::new();
        let refused = matches!(
            codec.encode(Frame::new(hdr, payload), &mut wire),
            Err(FrameError::LengthMismatch { .. })
        );
        prop_assert!(refused);
        prop_assert!(wire.is_empty());
    }
}
