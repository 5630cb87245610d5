//! `sdwire::codec::FrameCodec` (the daemon's request and response codecs and
//! small-limit variants) fed one byte stream in arbitrary chunkings: every
//! chunking yields the same frames and the same error as feeding it whole,
//! frames are exactly the stream bytes (re-encoding them gives the consumed
//! prefix back), and no frame above the limit is ever accepted.
//!
//! Input: [limit selector, chunking seed x2, stream...].
use bytes::BytesMut;
use sdwire::codec::{Frame, FrameCodec, FrameError, FrameHeader};
use sheep_proto::{ReqHeader, RspHeader};
use tokio_util::codec::{Decoder, Encoder};

#[derive(Debug, PartialEq)]
enum End {
    /// Bytes still buffered, and whether decode_eof called the end an error.
    NeedMore(usize, bool),
    Error(String),
}

fn run<H: FrameHeader + Clone + PartialEq + core::fmt::Debug>(
    max: usize,
    stream: &[u8],
    mut chunk: impl FnMut() -> usize,
) -> (Vec<Frame<H>>, End) {
    let mut codec = FrameCodec::<H>::new(0, max);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut pos = 0;
    loop {
        match codec.decode(&mut buf) {
            Ok(Some(f)) => {
                assert!(f.payload.len() <= max, "frame above the limit");
                assert_eq!(f.payload.len() as u64, f.header.payload_len());
                frames.push(f);
                continue;
            }
            Ok(None) => {}
            Err(e) => {
                let k = match e {
                    FrameError::TooLarge { len, max: m } => {
                        assert!(len > m as u64);
                        format!("too large {len}")
                    }
                    other => format!("{other}"),
                };
                return (frames, End::Error(k));
            }
        }
        if pos == stream.len() {
            let left = buf.len();
            // decode_eof: a clean end only between frames.
            let eof = codec.decode_eof(&mut buf);
            return (frames, End::NeedMore(left, eof.is_err()));
        }
        let n = chunk().clamp(1, stream.len() - pos);
        buf.extend_from_slice(&stream[pos..pos + n]);
        pos += n;
    }
}

fn check<H: FrameHeader + Clone + PartialEq + core::fmt::Debug>(
    max: usize,
    seed: u16,
    stream: &[u8],
) {
    let whole = run::<H>(max, stream, || usize::MAX);
    let mut x = u32::from(seed) | 1;
    let chunked = run::<H>(max, stream, || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        match x % 4 {
            0 => 1,
            1 => (x >> 8) as usize % 8 + 1,
            2 => (x >> 8) as usize % 64 + 1,
            _ => (x >> 8) as usize % 4096 + 1,
        }
    });
    let bytewise = run::<H>(max, stream, || 1);
    assert_eq!(whole.0, chunked.0, "chunking changed the frames");
    assert_eq!(whole.1, chunked.1, "chunking changed the outcome");
    assert_eq!(whole.0, bytewise.0, "byte-at-a-time changed the frames");
    assert_eq!(whole.1, bytewise.1, "byte-at-a-time changed the outcome");
    // Frames are the stream: re-encode them and compare with the consumed prefix.
    let mut enc = BytesMut::new();
    let mut codec = FrameCodec::<H>::new(0, max);
    for f in &whole.0 {
        codec
            .encode(f.clone(), &mut enc)
            .expect("a decoded frame re-encodes");
    }
    assert!(
        enc.len() <= stream.len(),
        "decoder consumed more than its input"
    );
    assert_eq!(
        &enc[..],
        &stream[..enc.len()],
        "frames are not the stream bytes"
    );
    if let End::NeedMore(left, eof_err) = whole.1 {
        // Unconsumed bytes, or a pending header whose payload has not arrived.
        let hs = H::FIXED_SIZE.unwrap();
        assert!(
            enc.len() + left == stream.len() || enc.len() + hs + left == stream.len(),
            "bytes lost between frames"
        );
        assert_eq!(
            eof_err,
            enc.len() != stream.len(),
            "decode_eof disagrees with a cut frame"
        );
    }
    let hs = H::FIXED_SIZE.unwrap();
    for f in &whole.0 {
        assert_eq!(sdwire::to_vec(&f.header, 0).unwrap().len(), hs);
    }
    // An encoder refuses a payload that disagrees with its header.
    if let Some(f) = whole.0.first() {
        let mut bad = f.clone();
        bad.payload = bytes::Bytes::from(vec![0u8; f.payload.len() + 1]);
        let mut out = BytesMut::new();
        assert!(codec.encode(bad, &mut out).is_err());
        assert!(out.is_empty(), "refused frame still wrote bytes");
    }
}

fn main() {
    sdwire_fuzz::fuzz_main(|data: &[u8]| {
        if data.len() < 3 {
            return;
        }
        let sel = data[0];
        let seed = u16::from_le_bytes([data[1], data[2]]);
        let stream = &data[3..];
        let max = match sel >> 2 {
            0 => sheep_proto::frame::MAX_PAYLOAD,
            1 => 0,
            n => usize::from(n) * 7,
        };
        if sel & 1 == 0 {
            check::<ReqHeader>(max, seed, stream);
        } else {
            check::<RspHeader>(max, seed, stream);
        }
    });
}
