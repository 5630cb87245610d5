//! Regressions from fuzzing (fuzz/frame_codec): inputs that broke an
//! invariant of `FrameCodec`, replayed as plain tests.

use bytes::BytesMut;
use sdwire::codec::{FrameCodec, FrameHeader};
use sdwire::Wire;
use tokio_util::codec::Decoder;

#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(le, size = 8)]
struct Hdr {
    opcode: u32,
    len: u32,
}

impl FrameHeader for Hdr {
    fn payload_len(&self) -> u64 {
        u64::from(self.len)
    }
}

fn hdr(len: u32) -> Vec<u8> {
    sdwire::to_vec(&Hdr { opcode: 1, len }, 0).unwrap()
}

/// fuzz/out/frame_codec crash id:000000 (first run): a stream that ends right
/// after a header announcing a payload left nothing in the read buffer (the
/// header was consumed into the codec's pending state), so the default
/// `decode_eof` took it for a clean end of stream and the truncated frame
/// went unreported (the daemon closed without logging it). It is an error now.
#[test]
fn eof_right_after_a_header_is_an_error() {
    let mut c = FrameCodec::<Hdr>::new(0, 1 << 20);
    let mut b = BytesMut::from(&hdr(5)[..]);
    assert!(c.decode(&mut b).unwrap().is_none());
    assert!(b.is_empty(), "header consumed into the pending state");
    assert!(c.decode_eof(&mut b).is_err());
}

#[test]
fn eof_cut_anywhere_is_an_error_and_between_frames_is_not() {
    let mut stream = hdr(3);
    stream.extend_from_slice(b"abc");
    stream.extend(hdr(0));
    for cut in 0..=stream.len() {
        let mut c = FrameCodec::<Hdr>::new(0, 1 << 20);
        let mut b = BytesMut::from(&stream[..cut]);
        let mut n = 0;
        while c.decode(&mut b).unwrap().is_some() {
            n += 1;
        }
        let clean = matches!(cut, 0 | 11 | 19);
        let r = c.decode_eof(&mut b);
        assert_eq!(r.is_ok(), clean, "cut at {cut} ({n} frames)");
    }
}
