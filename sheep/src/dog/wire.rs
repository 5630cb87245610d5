//! The only place the dog touches the client's header types: requests are
//! built as plain 48-byte C `struct sd_req` images and answers come back as
//! `struct sd_rsp` images, so the verb code only knows byte offsets from the
//! fact sheet.

use bytes::Bytes;

use crate::client::{Client, ClientError};
use crate::net::frame::Req;

/// A request header under construction (`struct sd_req`).
#[derive(Clone, Copy)]
pub(crate) struct Hdr(pub [u8; 48]);

impl Hdr {
    /// A header for `opcode` with the proto_ver the C helper picks.
    pub(crate) fn new(opcode: u8) -> Hdr {
        let mut b = [0u8; 48];
        b[0] = if opcode >= 0x80 { 0x0a } else { 0x02 };
        b[1] = opcode;
        Hdr(b)
    }
    pub(crate) fn flags(mut self, f: u16) -> Hdr {
        self.0[2..4].copy_from_slice(&f.to_le_bytes());
        self
    }
    pub(crate) fn len(mut self, n: u32) -> Hdr {
        self.0[12..16].copy_from_slice(&n.to_le_bytes());
        self
    }
    pub(crate) fn u8(mut self, off: usize, v: u8) -> Hdr {
        self.0[off] = v;
        self
    }
    pub(crate) fn u16(mut self, off: usize, v: u16) -> Hdr {
        self.0[off..off + 2].copy_from_slice(&v.to_le_bytes());
        self
    }
    pub(crate) fn u32(mut self, off: usize, v: u32) -> Hdr {
        self.0[off..off + 4].copy_from_slice(&v.to_le_bytes());
        self
    }
    pub(crate) fn u64(mut self, off: usize, v: u64) -> Hdr {
        self.0[off..off + 8].copy_from_slice(&v.to_le_bytes());
        self
    }
}

/// An answer header (`struct sd_rsp`).
pub(crate) struct RspHdr(pub [u8; 48]);

impl RspHdr {
    pub(crate) fn epoch(&self) -> u32 {
        self.u32(4)
    }
    pub(crate) fn result(&self) -> u32 {
        self.u32(16)
    }
    pub(crate) fn u32(&self, off: usize) -> u32 {
        u32::from_le_bytes(self.0[off..off + 4].try_into().unwrap_or_default())
    }
    pub(crate) fn u64(&self, off: usize) -> u64 {
        u64::from_le_bytes(self.0[off..off + 8].try_into().unwrap_or_default())
    }
}

/// Sends one request (WRITE and data_length are filled from a non-empty
/// payload) and returns the answer whatever its result.
pub(crate) async fn send(
    c: &Client,
    h: Hdr,
    payload: Bytes,
) -> Result<(RspHdr, Bytes), ClientError> {
    let (r, p) = c.raw(Req::from_bytes(&h.0), payload).await?;
    Ok((RspHdr(r.to_bytes()), p))
}
