//! Derived vs hand-written codecs, measured in the same run so that the
//! ratios are meaningful (`sdwire/benches/summary.py` prints them).
//!
//! ```text
//! cargo bench -p sdwire --bench wire -- --noplot
//! python3 sdwire/benches/summary.py
//! ```

use bytes::{Buf, BufMut, Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use sdwire::codec::{FrameCodec, FrameHeader};
use sdwire::Wire;
use std::hint::black_box;
use tokio_util::codec::Decoder;

/// The 48-byte little-endian request header (sheepdog's `sd_req` with the
/// object arm), derived.
#[derive(Wire, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[wire(le, size = 48)]
pub struct Header {
    pub proto_ver: u8,
    pub opcode: u8,
    pub flags: u16,
    pub epoch: u32,
    pub id: u32,
    pub data_length: u32,
    pub oid: u64,
    pub cow_oid: u64,
    pub copies: u8,
    pub copy_policy: u8,
    pub ec_index: u8,
    pub reserved: u8,
    pub tgt_epoch: u32,
    pub offset: u32,
    pub pad: u32,
}

impl FrameHeader for Header {
    fn payload_len(&self) -> u64 {
        u64::from(self.data_length)
    }
}

/// The same header, hand-written with `from_le_bytes`/`to_le_bytes` at offsets.
mod hand {
    use super::Header;

    #[inline]
    fn u16_at(b: &[u8; 48], o: usize) -> u16 {
        u16::from_le_bytes([b[o], b[o + 1]])
    }
    #[inline]
    fn u32_at(b: &[u8; 48], o: usize) -> u32 {
        u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
    }
    #[inline]
    fn u64_at(b: &[u8; 48], o: usize) -> u64 {
        u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
    }

    #[inline]
    pub fn decode(src: &[u8]) -> Option<Header> {
        let b: &[u8; 48] = src.get(..48)?.try_into().ok()?;
        Some(Header {
            proto_ver: b[0],
            opcode: b[1],
            flags: u16_at(b, 2),
            epoch: u32_at(b, 4),
            id: u32_at(b, 8),
            data_length: u32_at(b, 12),
            oid: u64_at(b, 16),
            cow_oid: u64_at(b, 24),
            copies: b[32],
            copy_policy: b[33],
            ec_index: b[34],
            reserved: b[35],
            tgt_epoch: u32_at(b, 36),
            offset: u32_at(b, 40),
            pad: u32_at(b, 44),
        })
    }

    #[inline]
    pub fn encode(h: &Header, b: &mut [u8; 48]) {
        b[0] = h.proto_ver;
        b[1] = h.opcode;
        b[2..4].copy_from_slice(&h.flags.to_le_bytes());
        b[4..8].copy_from_slice(&h.epoch.to_le_bytes());
        b[8..12].copy_from_slice(&h.id.to_le_bytes());
        b[12..16].copy_from_slice(&h.data_length.to_le_bytes());
        b[16..24].copy_from_slice(&h.oid.to_le_bytes());
        b[24..32].copy_from_slice(&h.cow_oid.to_le_bytes());
        b[32] = h.copies;
        b[33] = h.copy_policy;
        b[34] = h.ec_index;
        b[35] = h.reserved;
        b[36..40].copy_from_slice(&h.tgt_epoch.to_le_bytes());
        b[40..44].copy_from_slice(&h.offset.to_le_bytes());
        b[44..48].copy_from_slice(&h.pad.to_le_bytes());
    }
}

/// A 4 MiB table of little-endian `u32`s (sheepdog's inode `data_vdi_id`).
const TABLE_LEN: usize = 1 << 20;

#[derive(Wire)]
#[wire(le)]
pub struct Table {
    pub ids: Box<[u32; TABLE_LEN]>,
}

const PAYLOAD: usize = 4096;

fn sample_header() -> Header {
    Header {
        proto_ver: 2,
        opcode: 0x02,
        flags: 0x0101,
        epoch: 7,
        id: 0x1234,
        data_length: PAYLOAD as u32,
        oid: 0x00ab_cdef_0000_0042,
        cow_oid: 0,
        copies: 3,
        copy_policy: 0,
        ec_index: 0,
        reserved: 0,
        tgt_epoch: 7,
        offset: 4096,
        pad: 0,
    }
}

fn header(c: &mut Criterion) {
    let h = sample_header();
    let wire = sdwire::to_vec(&h, 0).unwrap();
    assert_eq!(hand::decode(&wire), Some(h));
    let mut hb = [0u8; 48];
    hand::encode(&h, &mut hb);
    assert_eq!(&hb[..], &wire[..]);

    let mut g = c.benchmark_group("header_decode");
    g.throughput(Throughput::Bytes(48));
    g.bench_function("derived", |b| {
        b.iter(|| Header::decode(&mut black_box(&wire[..]), black_box(0)).unwrap())
    });
    g.bench_function("hand", |b| {
        b.iter(|| hand::decode(black_box(&wire[..])).unwrap())
    });
    g.finish();

    let mut g = c.benchmark_group("header_encode_array");
    g.throughput(Throughput::Bytes(48));
    g.bench_function("derived", |b| {
        let mut out = [0u8; 48];
        b.iter(|| {
            black_box(&h)
                .encode(&mut &mut out[..], black_box(0))
                .unwrap();
            black_box(&out);
        })
    });
    g.bench_function("hand", |b| {
        let mut out = [0u8; 48];
        b.iter(|| {
            hand::encode(black_box(&h), &mut out);
            black_box(&out);
        })
    });
    g.finish();

    let mut g = c.benchmark_group("header_encode_bytesmut");
    g.throughput(Throughput::Bytes(48));
    g.bench_function("derived", |b| {
        let mut out = BytesMut::with_capacity(64);
        b.iter(|| {
            out.clear();
            black_box(&h).encode(&mut out, black_box(0)).unwrap();
            black_box(&out);
        })
    });
    g.bench_function("hand", |b| {
        let mut out = BytesMut::with_capacity(64);
        b.iter(|| {
            out.clear();
            let mut t = [0u8; 48];
            hand::encode(black_box(&h), &mut t);
            out.put_slice(&t);
            black_box(&out);
        })
    });
    g.finish();
}

fn table(c: &mut Criterion) {
    let src: Vec<u8> = (0..TABLE_LEN as u32)
        .flat_map(|i| i.to_le_bytes())
        .collect();
    let t = Table::decode(&mut &src[..], 0).unwrap();
    assert_eq!(t.ids[12345], 12345);
    drop(t);

    let mut g = c.benchmark_group("table_decode_4mib");
    g.throughput(Throughput::Bytes(src.len() as u64));
    g.sample_size(40);
    g.bench_function("derived", |b| {
        b.iter(|| Table::decode(&mut black_box(&src[..]), black_box(0)).unwrap())
    });
    // Decode into an existing value: the box is reused (one memcpy).
    g.bench_function("derived_in_place", |b| {
        let mut t = Table::decode(&mut &src[..], 0).unwrap();
        b.iter(|| {
            Table::decode_in_place(&mut t, &mut black_box(&src[..]), black_box(0)).unwrap();
            black_box(&t);
        })
    });
    // A plain memcpy into a reused buffer: the floor.
    g.bench_function("hand", |b| {
        let mut dst = vec![0u32; TABLE_LEN];
        b.iter(|| {
            bytemuck::cast_slice_mut::<u32, u8>(&mut dst).copy_from_slice(black_box(&src[..]));
            black_box(&dst);
        })
    });
    // memcpy into a fresh heap allocation, as the derived decode must do.
    g.bench_function("hand_alloc", |b| {
        b.iter(|| {
            let mut dst = vec![0u32; TABLE_LEN].into_boxed_slice();
            bytemuck::cast_slice_mut::<u32, u8>(&mut dst).copy_from_slice(black_box(&src[..]));
            dst
        })
    });
    g.finish();
}

/// Hand-written frame decode: parse the header, split the payload off
/// without copying.
fn hand_frame(src: &mut BytesMut, max: usize) -> Option<(Header, Bytes)> {
    let h = hand::decode(src.get(..48)?)?;
    let len = h.data_length as usize;
    if len > max || src.len() < 48 + len {
        return None;
    }
    src.advance(48);
    Some((h, src.split_to(len).freeze()))
}

fn frame(c: &mut Criterion) {
    let h = sample_header();
    let mut wire = BytesMut::new();
    h.encode(&mut wire, 0).unwrap();
    wire.extend((0..PAYLOAD).map(|i| i as u8));
    let wire: Bytes = wire.freeze();
    let setup = || BytesMut::from(&wire[..]);

    let mut g = c.benchmark_group("frame_decode_4k");
    g.throughput(Throughput::Bytes(wire.len() as u64));
    g.bench_function("derived", |b| {
        let mut codec = FrameCodec::<Header>::new(0, 1 << 20);
        b.iter_batched_ref(
            setup,
            |src| {
                let f = codec.decode(black_box(src)).unwrap().unwrap();
                debug_assert_eq!(f.payload.len(), PAYLOAD);
                f
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("hand", |b| {
        b.iter_batched_ref(
            setup,
            |src| hand_frame(black_box(src), 1 << 20).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, header, table, frame);
criterion_main!(benches);
