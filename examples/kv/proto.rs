//! The kv protocol: what a third-party tool author writes with sdwire.
//!
//! Every message is a frame: a 16-byte little-endian [`Header`] whose
//! `body_len` announces the body that follows. A request body is a
//! [`Request`] (an opcode table), a response body a [`Response`], both
//! encoded at the version named by the header's `proto_ver`.
//!
//! Versions:
//! * v1: `Get`, `Put`, `Delete`.
//! * v2: `Put` gains `ttl_secs` (`since = 2`), and the `List` opcode is new
//!   (`since = 2`). A v2 server answers v1 clients in v1.

use bytes::Bytes;
use sdwire::codec::FrameHeader;
use sdwire::{Version, Wire};

/// Oldest protocol version spoken.
pub const COMPAT: Version = 1;
/// Newest protocol version spoken.
pub const CURRENT: Version = 2;
/// Largest value or body.
pub const MAX_BODY: usize = 1 << 20;

/// Frame header, the same for requests and responses.
#[derive(Wire, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[wire(le, size = 16)]
pub struct Header {
    /// Protocol version of the body.
    pub proto_ver: u8,
    /// 0 for a request, 1 for a response.
    pub kind: u8,
    /// Unused flags.
    pub flags: u16,
    /// Request id, echoed in the response.
    pub id: u32,
    /// Length of the body that follows.
    pub body_len: u32,
    /// Zero on the wire.
    #[wire(reserved)]
    pub reserved: u32,
}

impl FrameHeader for Header {
    fn payload_len(&self) -> u64 {
        u64::from(self.body_len)
    }
}

/// Header `kind` of a request.
pub const KIND_REQUEST: u8 = 0;
/// Header `kind` of a response.
pub const KIND_RESPONSE: u8 = 1;

/// A key (also a key prefix).
#[derive(Wire, Debug, Clone, PartialEq, Eq)]
#[wire(le)]
pub struct Key {
    /// Length of `key`.
    pub key_len: u16,
    /// The key bytes.
    #[wire(len = key_len, max = 256)]
    pub key: Bytes,
}

impl Key {
    /// A key from bytes (the length field is filled in on encode).
    pub fn new(key: impl Into<Bytes>) -> Self {
        Key {
            key_len: 0,
            key: key.into(),
        }
    }
}

/// Arguments of `Put`.
#[derive(Wire, Debug, Clone, PartialEq, Eq)]
#[wire(le, version = 2, compat = 1)]
pub struct PutReq {
    /// Length of `value`.
    pub value_len: u32,
    /// Length of `key`.
    pub key_len: u16,
    /// Seconds to live, 0 for ever (v2 only: a v1 put never expires).
    #[wire(since = 2, default)]
    pub ttl_secs: u16,
    /// The key.
    #[wire(len = key_len, max = 256)]
    pub key: Bytes,
    /// The value.
    #[wire(len = value_len, max = 1048576)]
    pub value: Bytes,
}

impl PutReq {
    /// A put without a time to live.
    pub fn new(key: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        PutReq {
            value_len: 0,
            key_len: 0,
            ttl_secs: 0,
            key: key.into(),
            value: value.into(),
        }
    }
}

/// The request opcode table; the server implements [`KvHandler`].
#[derive(Wire, Debug, Clone, PartialEq, Eq)]
#[wire(tag = u8, le, version = 2, compat = 1, range = 0x01..=0x7f, handler = KvHandler)]
pub enum Request {
    /// Reads a key.
    #[wire(opcode = 0x01)]
    Get(Key),
    /// Writes a key.
    #[wire(opcode = 0x02)]
    Put(PutReq),
    /// Deletes a key.
    #[wire(opcode = 0x03)]
    Delete(Key),
    /// Lists the keys with a prefix, newline-separated (v2).
    #[wire(opcode = 0x04, since = 2)]
    List(Key),
}

/// Result codes.
#[derive(Wire, Debug, Clone, Copy, PartialEq, Eq)]
#[wire(tag = u8, no_handler)]
pub enum Status {
    /// Done.
    #[wire(opcode = 0)]
    Ok,
    /// No such key.
    #[wire(opcode = 1)]
    NotFound,
    /// The request did not decode at its version (unknown opcode, version
    /// out of range, bad lengths); `value` holds the reason.
    #[wire(opcode = 2)]
    BadRequest,
    /// A code this build does not know.
    #[wire(other)]
    Unknown(u8),
}

/// A response body.
#[derive(Wire, Debug, Clone, PartialEq, Eq)]
#[wire(le)]
pub struct Response {
    /// The result.
    pub status: Status,
    /// Length of `value`.
    #[wire(pad = 3)]
    pub value_len: u32,
    /// The value read, the listing, or an error message.
    #[wire(len = value_len, max = 1048576)]
    pub value: Bytes,
}

impl Response {
    /// A response with a value.
    pub fn new(status: Status, value: impl Into<Bytes>) -> Self {
        Response {
            status,
            value_len: 0,
            value: value.into(),
        }
    }
}
