//! The 48-byte sheepdog header as the daemon frames it, plus the opcode,
//! flag and result numbers the daemon dispatches on (fact sheet §2-§7).
//!
//! The header keeps its 32-byte union raw; op handlers read the arm they need
//! with the little-endian accessors below. Requests carry a payload only when
//! `flags & WRITE`; responses always carry exactly `data_length` bytes.

use sdwire::codec::{FrameCodec, FrameHeader};
use sdwire::Wire;

/// Largest payload the daemon accepts or answers with (32 MiB). The largest
/// legitimate message is a full inode, 12,587,576 bytes.
pub const MAX_PAYLOAD: usize = 32 << 20;

/// Size of every header.
pub const HEADER_SIZE: usize = 48;

macro_rules! header {
    ($(#[$m:meta])* $name:ident, $payload:expr) => {
        $(#[$m])*
        #[derive(Wire, Debug, Clone, Copy, PartialEq, Eq, Default)]
        #[wire(le, size = 48)]
        pub struct $name {
            /// Protocol version (0x02 public, 0x0a internal; 0 in responses).
            pub proto_ver: u8,
            /// Operation code.
            pub opcode: u8,
            /// `SD_FLAG_CMD_*`.
            pub flags: u16,
            /// Sender's epoch (requests) or server epoch (responses).
            pub epoch: u32,
            /// Opaque request id, echoed.
            pub id: u32,
            /// Payload length (requests without WRITE: expected reply size).
            pub data_length: u32,
            /// The opcode-specific union, bytes 16..48 of the header.
            pub body: [u8; 32],
        }

        impl FrameHeader for $name {
            fn payload_len(&self) -> u64 {
                let f: fn(&$name) -> u64 = $payload;
                f(self)
            }
        }

        impl $name {
            /// Little-endian u8 at absolute header offset `off` (16..48).
            pub fn u8_at(&self, off: usize) -> u8 {
                self.body[off - 16]
            }
            /// Little-endian u16 at absolute header offset `off`.
            pub fn u16_at(&self, off: usize) -> u16 {
                u16::from_le_bytes(self.body[off - 16..off - 14].try_into().unwrap())
            }
            /// Little-endian u32 at absolute header offset `off`.
            pub fn u32_at(&self, off: usize) -> u32 {
                u32::from_le_bytes(self.body[off - 16..off - 12].try_into().unwrap())
            }
            /// Little-endian u64 at absolute header offset `off`.
            pub fn u64_at(&self, off: usize) -> u64 {
                u64::from_le_bytes(self.body[off - 16..off - 8].try_into().unwrap())
            }
            /// Sets a u8 at absolute header offset `off`.
            pub fn set_u8(&mut self, off: usize, v: u8) -> &mut Self {
                self.body[off - 16] = v;
                self
            }
            /// Sets a little-endian u16 at absolute header offset `off`.
            pub fn set_u16(&mut self, off: usize, v: u16) -> &mut Self {
                self.body[off - 16..off - 14].copy_from_slice(&v.to_le_bytes());
                self
            }
            /// Sets a little-endian u32 at absolute header offset `off`.
            pub fn set_u32(&mut self, off: usize, v: u32) -> &mut Self {
                self.body[off - 16..off - 12].copy_from_slice(&v.to_le_bytes());
                self
            }
            /// Sets a little-endian u64 at absolute header offset `off`.
            pub fn set_u64(&mut self, off: usize, v: u64) -> &mut Self {
                self.body[off - 16..off - 8].copy_from_slice(&v.to_le_bytes());
                self
            }
            /// The 48 wire bytes.
            pub fn to_bytes(&self) -> [u8; 48] {
                let mut out = [0u8; 48];
                out[0] = self.proto_ver;
                out[1] = self.opcode;
                out[2..4].copy_from_slice(&self.flags.to_le_bytes());
                out[4..8].copy_from_slice(&self.epoch.to_le_bytes());
                out[8..12].copy_from_slice(&self.id.to_le_bytes());
                out[12..16].copy_from_slice(&self.data_length.to_le_bytes());
                out[16..].copy_from_slice(&self.body);
                out
            }
            /// Parses 48 wire bytes.
            pub fn from_bytes(b: &[u8; 48]) -> Self {
                $name {
                    proto_ver: b[0],
                    opcode: b[1],
                    flags: u16::from_le_bytes([b[2], b[3]]),
                    epoch: u32::from_le_bytes(b[4..8].try_into().unwrap()),
                    id: u32::from_le_bytes(b[8..12].try_into().unwrap()),
                    data_length: u32::from_le_bytes(b[12..16].try_into().unwrap()),
                    body: b[16..].try_into().unwrap(),
                }
            }
        }
    };
}

header!(
    /// A request header: a payload follows only with the WRITE flag.
    Req,
    |h| if h.flags & flags::WRITE != 0 { u64::from(h.data_length) } else { 0 }
);
header!(
    /// A response header: exactly `data_length` payload bytes follow.
    Rsp,
    |h| u64::from(h.data_length)
);

impl Rsp {
    /// `result`, at offset 16 in every response.
    pub fn result(&self) -> u32 {
        self.u32_at(16)
    }
}

/// Codec for requests (server side decode, client side encode).
pub fn req_codec() -> FrameCodec<Req> {
    FrameCodec::new(0, MAX_PAYLOAD)
}

/// Codec for responses (server side encode, client side decode).
pub fn rsp_codec() -> FrameCodec<Rsp> {
    FrameCodec::new(0, MAX_PAYLOAD)
}

/// Protocol versions (fact sheet §8).
pub mod ver {
    /// Client protocol (opcodes < 0x80); 0 and 1 are accepted too.
    pub const SD_PROTO_VER: u8 = 0x02;
    /// Internal protocol (opcodes >= 0x80), exact match required.
    pub const SD_SHEEP_PROTO_VER: u8 = 0x0a;
}

/// `hdr.flags` bits (fact sheet §5).
pub mod flags {
    /// A payload follows the request.
    pub const WRITE: u16 = 0x0001;
    /// Copy `cow_oid` before writing.
    pub const COW: u16 = 0x0002;
    /// Object cache (ignored).
    pub const CACHE: u16 = 0x0004;
    /// Bypass cache (ignored).
    pub const DIRECT: u16 = 0x0008;
    /// Response carries data although WRITE is set.
    pub const PIGGYBACK: u16 = 0x0010;
    /// Request from tgt.
    pub const TGT: u16 = 0x0020;
    /// Internally generated.
    pub const FWD: u16 = 0x0040;
    /// Recovery request.
    pub const RECOVERY: u16 = 0x0080;
    /// GET_VDI_ATTR: create.
    pub const CREAT: u16 = 0x0100;
    /// GET_VDI_ATTR: exclusive.
    pub const EXCL: u16 = 0x0200;
    /// GET_VDI_ATTR: delete.
    pub const DEL: u16 = 0x0400;
}

/// Opcodes (fact sheet §4).
#[allow(missing_docs)]
pub mod op {
    pub const CREATE_AND_WRITE_OBJ: u8 = 0x01;
    pub const READ_OBJ: u8 = 0x02;
    pub const WRITE_OBJ: u8 = 0x03;
    pub const REMOVE_OBJ: u8 = 0x04;
    pub const DISCARD_OBJ: u8 = 0x05;
    pub const NEW_VDI: u8 = 0x11;
    pub const LOCK_VDI: u8 = 0x12;
    pub const RELEASE_VDI: u8 = 0x13;
    pub const GET_VDI_INFO: u8 = 0x14;
    pub const READ_VDIS: u8 = 0x15;
    pub const FLUSH_VDI: u8 = 0x16;
    pub const DEL_VDI: u8 = 0x17;
    pub const GET_CLUSTER_DEFAULT: u8 = 0x18;
    pub const GET_NODE_LIST: u8 = 0x82;
    pub const MAKE_FS: u8 = 0x84;
    pub const SHUTDOWN: u8 = 0x85;
    pub const STAT_SHEEP: u8 = 0x86;
    pub const STAT_CLUSTER: u8 = 0x87;
    pub const GET_VDI_ATTR: u8 = 0x89;
    pub const STAT_RECOVERY: u8 = 0x97;
    pub const KILL_NODE: u8 = 0x9A;
    pub const GET_OBJ_LIST: u8 = 0xA1;
    pub const GET_EPOCH: u8 = 0xA2;
    pub const CREATE_AND_WRITE_PEER: u8 = 0xA3;
    pub const READ_PEER: u8 = 0xA4;
    pub const WRITE_PEER: u8 = 0xA5;
    pub const REMOVE_PEER: u8 = 0xA6;
    pub const GET_HASH: u8 = 0xB4;
    pub const EXIST: u8 = 0xBD;
    pub const CLUSTER_INFO: u8 = 0xBE;
    pub const READ_DEL_VDIS: u8 = 0xC9;
}

/// Result codes (fact sheet §7).
#[allow(missing_docs)]
pub mod res {
    pub const SUCCESS: u32 = 0x00;
    pub const UNKNOWN: u32 = 0x01;
    pub const NO_OBJ: u32 = 0x02;
    pub const EIO: u32 = 0x03;
    pub const VDI_EXIST: u32 = 0x04;
    pub const INVALID_PARMS: u32 = 0x05;
    pub const SYSTEM_ERROR: u32 = 0x06;
    pub const VDI_LOCKED: u32 = 0x07;
    pub const NO_VDI: u32 = 0x08;
    pub const NO_BASE_VDI: u32 = 0x09;
    pub const NO_TAG: u32 = 0x0E;
    pub const VDI_NOT_LOCKED: u32 = 0x10;
    pub const SHUTDOWN: u32 = 0x11;
    pub const FULL_VDI: u32 = 0x13;
    pub const VER_MISMATCH: u32 = 0x14;
    pub const NO_SPACE: u32 = 0x15;
    pub const WAIT_FOR_FORMAT: u32 = 0x16;
    pub const READONLY: u32 = 0x1A;
    pub const OLD_NODE_VER: u32 = 0x81;
    pub const NEW_NODE_VER: u32 = 0x82;
    pub const BUFFER_SMALL: u32 = 0x88;
    pub const NO_STORE: u32 = 0x8A;
}
