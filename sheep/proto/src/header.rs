//! The common 48-byte request and response headers (docs/sheepdog-facts.md §2, §3.2, §5, §8).
//!
//! Both headers carry their opcode-specific arguments in a union; here the
//! union is kept as raw bytes (`body`) and decoded into a typed arm by the
//! op tables in [`super::ops`] (requests) or [`super::arms::RspArm`]
//! (responses), because only the opcode says which arm applies.

use super::result::SdResult;
use sdwire::codec::FrameHeader;
use sdwire::Wire;
use std::fmt;

/// Client protocol version (`SD_PROTO_VER`), stamped on opcodes below 0x80.
pub const SD_PROTO_VER: u8 = 0x02;

/// The TCP port a sheep listens on by default (`SD_LISTEN_PORT`).
pub const SD_LISTEN_PORT: u16 = 7000;
/// Internal protocol version (`SD_SHEEP_PROTO_VER`), stamped on opcodes 0x80 and up
/// and carried in `cluster_info.proto_ver` at join.
pub const SD_SHEEP_PROTO_VER: u8 = 0x0a;
/// Size of both headers in bytes.
pub const SD_HEADER_SIZE: usize = 48;
/// First internal opcode: opcodes below are the public (client) protocol.
pub const SD_INTERNAL_OPCODE_MIN: u8 = 0x80;

/// The proto_ver a well-behaved sender stamps for `opcode`: [`SD_PROTO_VER`]
/// below 0x80, [`SD_SHEEP_PROTO_VER`] from 0x80 (what the C `sd_init_req` does).
pub const fn proto_ver_for(opcode: u8) -> u8 {
    if opcode < SD_INTERNAL_OPCODE_MIN {
        SD_PROTO_VER
    } else {
        SD_SHEEP_PROTO_VER
    }
}

/// Whether a request with `opcode` and `proto_ver` passes the server's version
/// check (docs/sheepdog-facts.md §8): public opcodes accept 0 ("unversioned") and any
/// value up to [`SD_PROTO_VER`]; internal opcodes need exactly
/// [`SD_SHEEP_PROTO_VER`], except the peer protocol's, which also accept
/// peer protocol 0x0b (payload CRCs, see
/// [`Protocol::accepts_version`](super::Protocol::accepts_version)). A
/// rejected request is answered `VER_MISMATCH`.
pub fn accepts_version(opcode: u8, proto_ver: u8) -> bool {
    match super::ops::classify(opcode) {
        Some(p) => p.accepts_version(proto_ver),
        None if opcode < SD_INTERNAL_OPCODE_MIN => proto_ver <= SD_PROTO_VER,
        None => proto_ver == SD_SHEEP_PROTO_VER,
    }
}

macro_rules! flag_set {
    (
        $(#[$m:meta])* $name:ident, $size:literal, $int:ty;
        $( $(#[$fm:meta])* $flag:ident = $val:expr, $fname:literal; )*
    ) => {
        $(#[$m])*
        #[derive(Wire, Clone, Copy, PartialEq, Eq, Hash, Default)]
        #[wire(le, size = $size)]
        pub struct $name(pub $int);

        impl $name {
            $( $(#[$fm])* pub const $flag: $name = $name($val); )*
            /// No flag set.
            pub const EMPTY: $name = $name(0);
            /// Every named flag with its name, in bit order.
            pub const NAMED: &'static [($name, &'static str)] = &[$( ($name($val), $fname) ),*];

            /// The raw bits.
            pub const fn bits(self) -> $int {
                self.0
            }
            /// Whether every bit of `other` is set.
            pub const fn contains(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }
            /// Whether no bit is set.
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }
            /// Bits of `self` not named by any constant.
            pub const fn unknown_bits(self) -> $int {
                let mut known: $int = 0;
                let mut i = 0;
                while i < Self::NAMED.len() {
                    known |= Self::NAMED[i].0 .0;
                    i += 1;
                }
                self.0 & !known
            }
            /// `self` with the bits of `other` set.
            #[must_use]
            pub const fn with(self, other: $name) -> $name {
                $name(self.0 | other.0)
            }
            /// `self` with the bits of `other` cleared.
            #[must_use]
            pub const fn without(self, other: $name) -> $name {
                $name(self.0 & !other.0)
            }
        }

        impl core::ops::BitOr for $name {
            type Output = $name;
            fn bitor(self, o: $name) -> $name {
                $name(self.0 | o.0)
            }
        }

        impl core::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, o: $name) {
                self.0 |= o.0;
            }
        }

        impl core::ops::BitAnd for $name {
            type Output = $name;
            fn bitand(self, o: $name) -> $name {
                $name(self.0 & o.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:#06x}", stringify!($name), self.0)?;
                let mut sep = " ";
                for (flag, n) in Self::NAMED {
                    if !flag.is_empty() && self.contains(*flag) {
                        write!(f, "{sep}{n}")?;
                        sep = "|";
                    }
                }
                if self.unknown_bits() != 0 {
                    write!(f, "{sep}{:#x}", self.unknown_bits())?;
                }
                f.write_str(")")
            }
        }
    };
}

flag_set! {
    /// `hdr.flags` of a request (docs/sheepdog-facts.md §5.1, §5.2).
    ///
    /// # Format
    /// A little-endian u16 at offset 2 of the request header. Responses carry 0.
    /// Bit 0x0100 has two names: [`ReqFlags::WILDCARD`] on recovery reads and
    /// [`ReqFlags::CREAT`] on `GET_VDI_ATTR`; which one applies depends on the opcode.
    ReqFlags, 2, u16;
    /// 0x0001: `data_length` payload bytes follow the request header.
    WRITE = 0x0001, "WRITE";
    /// 0x0002: copy `obj.cow_oid` first, then apply the write (CREATE_AND_WRITE).
    COW = 0x0002, "COW";
    /// 0x0004: use the legacy object cache (writeback).
    CACHE = 0x0004, "CACHE";
    /// 0x0008: bypass the object cache (dog sets it on inode I/O).
    DIRECT = 0x0008, "DIRECT";
    /// 0x0010: with WRITE, the response also carries data back (OIDS_EXIST).
    PIGGYBACK = 0x0010, "PIGGYBACK";
    /// 0x0020: request from tgt (iSCSI multipath); may get INODE_INVALIDATED.
    TGT = 0x0020, "TGT";
    /// 0x0040: request generated inside a sheep (index/generation updates, DECREF).
    FWD = 0x0040, "FWD";
    /// 0x0080 (internal): recovery request; the peer uses `obj.tgt_epoch`.
    RECOVERY = 0x0080, "RECOVERY";
    /// 0x0100 (internal, recovery reads): any stored epoch of the object will do.
    /// Same bit as [`ReqFlags::CREAT`]; the meaning depends on the opcode.
    WILDCARD = 0x0100, "WILDCARD|CREAT";
    /// 0x0200 (GET_VDI_ATTR): fail if the attribute exists.
    EXCL = 0x0200, "EXCL";
    /// 0x0400 (GET_VDI_ATTR): delete the attribute.
    DEL = 0x0400, "DEL";
}

impl ReqFlags {
    /// 0x0100 (GET_VDI_ATTR): create the attribute if missing.
    /// Same bit as [`ReqFlags::WILDCARD`]; the meaning depends on the opcode.
    pub const CREAT: ReqFlags = ReqFlags(0x0100);
}

flag_set! {
    /// Cluster flags `SD_CLUSTER_FLAG_*` (docs/sheepdog-facts.md §5.3).
    ///
    /// # Format
    /// A little-endian u16 in `cluster.flags` (request offset 34),
    /// `cluster_info.flags` (offset 16), `epoch_log.flags` (offset 30) and the
    /// config file (offset 8).
    ClusterFlags, 2, u16;
    /// 0x0001: writes need the full copy count of zones.
    STRICT = 0x0001, "STRICT";
    /// 0x0002: vnodes come from disks (diskvnodes build only).
    DISKMODE = 0x0002, "DISKMODE";
    /// 0x0004: vnode count from free space (default of `dog cluster format`).
    AUTO_VNODES = 0x0004, "AUTO_VNODES";
    /// 0x0008: lock VDIs.
    USE_LOCK = 0x0008, "USE_LOCK";
    /// 0x0010: recycle vids of deleted VDIs.
    RECYCLE_VID = 0x0010, "RECYCLE_VID";
    /// 0x0020: avoid filling disks.
    AVOID_DISKFULL = 0x0020, "AVOID_DISKFULL";
}

/// The 48-byte request header `struct sd_req`.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 1 | proto_ver |
/// | 1 | 1 | opcode |
/// | 2 | 2 | flags (LE) |
/// | 4 | 4 | epoch (LE) |
/// | 8 | 4 | id (LE) |
/// | 12 | 4 | data_length (LE) |
/// | 16 | 32 | body: the per-opcode union arm (see [`super::arms`]) |
///
/// If and only if `flags & WRITE`, `data_length` payload bytes follow.
#[derive(Wire, Clone, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 48)]
pub struct ReqHeader {
    /// Protocol version (§8): see [`accepts_version`].
    pub proto_ver: u8,
    /// Operation code (§4).
    pub opcode: u8,
    /// Request flags.
    pub flags: ReqFlags,
    /// Sender's epoch; checked on peer ops only.
    pub epoch: u32,
    /// Opaque tag echoed in the response.
    pub id: u32,
    /// Payload length with WRITE, else the size of the reply buffer.
    pub data_length: u32,
    /// The union (bytes 16..48), decoded by opcode.
    pub body: [u8; 32],
}

impl ReqHeader {
    /// A header for `opcode` with the right proto_ver for its range, the given
    /// flags and data length, epoch and id 0 and a zeroed union.
    pub fn new(opcode: u8, flags: ReqFlags, data_length: u32) -> ReqHeader {
        ReqHeader {
            proto_ver: proto_ver_for(opcode),
            opcode,
            flags,
            epoch: 0,
            id: 0,
            data_length,
            body: [0; 32],
        }
    }

    /// Whether a payload follows the header (WRITE set).
    pub fn has_payload(&self) -> bool {
        self.flags.contains(ReqFlags::WRITE)
    }

    /// Whether the proto_ver passes the server's check for this opcode.
    pub fn version_ok(&self) -> bool {
        accepts_version(self.opcode, self.proto_ver)
    }

    /// Encodes the header into its 48 wire bytes.
    pub fn to_bytes(&self) -> [u8; 48] {
        let mut out = [0u8; 48];
        self.encode(&mut &mut out[..], 0)
            .expect("fixed 48-byte header always encodes");
        out
    }

    /// Decodes a header from its 48 wire bytes (never fails: every byte pattern is a header).
    pub fn from_bytes(b: &[u8; 48]) -> ReqHeader {
        sdwire::from_slice(b, 0).expect("fixed 48-byte header always decodes")
    }
}

impl FrameHeader for ReqHeader {
    /// `data_length` if WRITE is set, else 0.
    fn payload_len(&self) -> u64 {
        if self.has_payload() {
            u64::from(self.data_length)
        } else {
            0
        }
    }
}

/// The 48-byte response header `struct sd_rsp`.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 1 | proto_ver (always 0 from the C server; do not check) |
/// | 1 | 1 | opcode (the request's) |
/// | 2 | 2 | flags (0) |
/// | 4 | 4 | epoch (the server's) |
/// | 8 | 4 | id (the request's) |
/// | 12 | 4 | data_length: payload bytes that follow, always |
/// | 16 | 4 | result ([`SdResult`]) |
/// | 20 | 28 | body: the per-opcode response arm (see [`super::arms::RspArm`]) |
#[derive(Wire, Clone, PartialEq, Eq, Debug)]
#[wire(le, size = 48)]
pub struct RspHeader {
    /// Protocol version; the C server always sends 0.
    pub proto_ver: u8,
    /// The request's opcode.
    pub opcode: u8,
    /// Flags; always 0.
    pub flags: u16,
    /// The responder's epoch.
    pub epoch: u32,
    /// The request's id.
    pub id: u32,
    /// Payload bytes following the header.
    pub data_length: u32,
    /// Result code.
    pub result: SdResult,
    /// The union after `result` (bytes 20..48), decoded by opcode.
    pub body: [u8; 28],
}

impl Default for RspHeader {
    fn default() -> Self {
        RspHeader {
            proto_ver: 0,
            opcode: 0,
            flags: 0,
            epoch: 0,
            id: 0,
            data_length: 0,
            result: SdResult::Success,
            body: [0; 28],
        }
    }
}

impl RspHeader {
    /// A response to `req`: proto_ver 0, the request's opcode and id, flags 0,
    /// the server's `epoch`, `result`, no payload and a zeroed union.
    pub fn for_request(req: &ReqHeader, result: SdResult, epoch: u32) -> RspHeader {
        RspHeader {
            proto_ver: 0,
            opcode: req.opcode,
            flags: 0,
            epoch,
            id: req.id,
            data_length: 0,
            result,
            body: [0; 28],
        }
    }

    /// Encodes the header into its 48 wire bytes.
    pub fn to_bytes(&self) -> [u8; 48] {
        let mut out = [0u8; 48];
        self.encode(&mut &mut out[..], 0)
            .expect("fixed 48-byte header always encodes");
        out
    }

    /// Decodes a header from its 48 wire bytes (never fails: unknown results
    /// become [`SdResult::Unknown`]).
    pub fn from_bytes(b: &[u8; 48]) -> RspHeader {
        sdwire::from_slice(b, 0).expect("fixed 48-byte header always decodes")
    }
}

impl FrameHeader for RspHeader {
    /// Always `data_length`.
    fn payload_len(&self) -> u64 {
        u64::from(self.data_length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(ReqHeader::FIXED_SIZE, Some(48));
        assert_eq!(RspHeader::FIXED_SIZE, Some(48));
        assert_eq!(ReqFlags::FIXED_SIZE, Some(2));
        assert_eq!(ClusterFlags::FIXED_SIZE, Some(2));
        assert_eq!(RspHeader::LAYOUT.field("result").unwrap().offset, Some(16));
        assert_eq!(RspHeader::LAYOUT.field("body").unwrap().offset, Some(20));
    }

    #[test]
    fn versions_and_framing() {
        assert!(accepts_version(0x02, 0) && accepts_version(0x02, 1) && accepts_version(0x02, 2));
        assert!(!accepts_version(0x02, 3));
        assert!(accepts_version(0x82, 0x0a));
        for v in [0u8, 2, 9, 0x0b] {
            assert!(!accepts_version(0x82, v));
        }
        let h = ReqHeader::new(0x82, ReqFlags::EMPTY, 491_520);
        assert_eq!(h.proto_ver, SD_SHEEP_PROTO_VER);
        assert_eq!(h.payload_len(), 0);
        let w = ReqHeader::new(0x03, ReqFlags::WRITE | ReqFlags::DIRECT, 4);
        assert_eq!(w.proto_ver, SD_PROTO_VER);
        assert_eq!(w.payload_len(), 4);
        assert_eq!(ReqHeader::from_bytes(&w.to_bytes()), w);
        let r = RspHeader::for_request(&w, SdResult::NoObj, 7);
        assert_eq!(r.to_bytes()[16], 2);
        assert_eq!(RspHeader::from_bytes(&r.to_bytes()), r);
        assert_eq!(
            format!("{:?}", ReqFlags(0x0103)),
            "ReqFlags(0x0103 WRITE|COW|WILDCARD|CREAT)"
        );
    }
}
