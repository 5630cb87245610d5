//! Driver log records and the local driver's log frame.
//!
//! Both cluster drivers reduce to one ordered log of [`DriverRecord`]s
//! (`cluster::driver`): the etcd driver stores one record per key, the local
//! driver appends them to `events.log`, each wrapped in a [`LogFrame`].

use bytes::Bytes;
use sdwire::Wire;

use crate::SdNode;

/// Upper bound of a record's message (join message, verdict reply, notify
/// body) and of a log frame's body: 16 MiB. Far above what a driver writes
/// (128 KiB messages, a verdict reply of a few KiB per 100 members); a
/// larger length is corruption, refused before anything is allocated.
pub const MAX_RECORD_MSG: usize = 16 << 20;

/// A member's identity in the driver log: address, port and incarnation.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 16 | addr (as in `node_id`) |
/// | 16 | 2 | port |
/// | 18 | 8 | inc (incarnation: a restarted sheep is a new member) |
#[derive(Wire, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[wire(le, packed, size = 26)]
pub struct RecordMember {
    /// `node_id.addr`.
    pub addr: [u8; 16],
    /// `node_id.port`.
    pub port: u16,
    /// Incarnation number.
    pub inc: u64,
}

/// `JoinReq`: a node asks to join, with its join message.
#[derive(Wire, Debug, Clone, PartialEq, Eq, Default)]
#[wire(le, packed)]
pub struct JoinReqRecord {
    /// The joiner.
    pub node: SdNode,
    /// Its incarnation.
    pub inc: u64,
    /// Length of `msg` (written from `msg`).
    pub msg_len: u32,
    /// The join message ([`JoinRequestMsg`](super::JoinRequestMsg) for a sheep).
    #[wire(len = msg_len, max = 16777216)]
    pub msg: Bytes,
}

/// `JoinRsp`: the master's verdict on a pending join.
#[derive(Wire, Debug, Clone, PartialEq, Eq, Default)]
#[wire(le, packed)]
pub struct JoinRspRecord {
    /// The joiner.
    pub id: RecordMember,
    /// Accepted (1) or refused (0).
    pub accepted: bool,
    /// Length of `msg` (written from `msg`).
    pub msg_len: u32,
    /// The reply ([`JoinReplyMsg`](super::JoinReplyMsg) for a sheep).
    #[wire(len = msg_len, max = 16777216)]
    pub msg: Bytes,
}

/// `Notify`: a broadcast from a member.
#[derive(Wire, Debug, Clone, PartialEq, Eq, Default)]
#[wire(le, packed)]
pub struct NotifyRecord {
    /// The sender.
    pub id: RecordMember,
    /// Length of `msg` (written from `msg`).
    pub msg_len: u32,
    /// The message (a [notice](super::notice) for a sheep).
    #[wire(len = msg_len, max = 16777216)]
    pub msg: Bytes,
}

/// One entry of the driver log: a kind byte, then the record.
///
/// A record is a whole etcd value or a whole [`LogFrame`] body: decode it
/// with [`sdwire::from_slice_exact`] (trailing bytes are an error).
#[derive(Wire, Debug, Clone, PartialEq, Eq)]
#[wire(tag = u8, le, version = 1, compat = 1, no_handler)]
pub enum DriverRecord {
    /// A node asks to join.
    #[wire(opcode = 1)]
    JoinReq(JoinReqRecord),
    /// The master's verdict on a join; the first one for a request wins.
    #[wire(opcode = 2)]
    JoinRsp(JoinRspRecord),
    /// A member (or pending joiner) leaves, or was declared dead.
    #[wire(opcode = 3)]
    Leave(RecordMember),
    /// A broadcast from a member.
    #[wire(opcode = 4)]
    Notify(NotifyRecord),
}

/// A frame of the local driver's `events.log`: the body's length and
/// CRC32C, then the body (one encoded [`DriverRecord`]).
///
/// sdwire checks the length; the CRC is computed by [`LogFrame::new`] and
/// checked by [`LogFrame::crc_ok`].
#[derive(Wire, Debug, Clone, PartialEq, Eq, Default)]
#[wire(le, version = 1, compat = 1)]
pub struct LogFrame {
    /// Length of `body` (written from `body`).
    pub len: u32,
    /// CRC32C (Castagnoli) of `body`.
    pub crc32c: u32,
    /// The encoded record.
    #[wire(len = len, max = 16777216)]
    pub body: Bytes,
}

impl LogFrame {
    /// Size of the frame's fixed part (length and CRC).
    pub const HEADER_SIZE: usize = 8;

    /// The frame of `body`, its CRC computed.
    pub fn new(body: Bytes) -> LogFrame {
        LogFrame {
            len: 0,
            crc32c: crc32c::crc32c(&body),
            body,
        }
    }

    /// Whether the body matches its CRC.
    pub fn crc_ok(&self) -> bool {
        crc32c::crc32c(&self.body) == self.crc32c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::CLUSTER_VERSION;

    #[test]
    fn lengths_above_the_maximum_are_refused_before_reading() {
        // `max` takes a literal: it must be MAX_RECORD_MSG.
        let frame = |len: usize| {
            let mut b = u32::try_from(len).unwrap().to_le_bytes().to_vec();
            b.extend_from_slice(&[0; 4]);
            sdwire::from_slice::<LogFrame>(&b, CLUSTER_VERSION)
                .unwrap_err()
                .kind()
                .clone()
        };
        assert!(matches!(
            frame(MAX_RECORD_MSG + 1),
            sdwire::DecodeErrorKind::LengthTooLarge { .. }
        ));
        assert!(matches!(
            frame(MAX_RECORD_MSG),
            sdwire::DecodeErrorKind::Truncated { .. }
        ));
    }

    #[test]
    fn a_frame_roundtrips_and_checks_its_crc() {
        let rec = DriverRecord::Leave(RecordMember {
            addr: [1; 16],
            port: 7000,
            inc: 9,
        });
        let body = sdwire::to_bytes(&rec, CLUSTER_VERSION).unwrap();
        assert_eq!(body.len(), 27);
        let f = LogFrame::new(body.clone());
        let b = sdwire::to_vec(&f, CLUSTER_VERSION).unwrap();
        assert_eq!(&b[..4], &27u32.to_le_bytes());
        let back: LogFrame = sdwire::from_slice(&b, CLUSTER_VERSION).unwrap();
        assert!(back.crc_ok());
        assert_eq!(back.body, body);
        let mut bad = b.clone();
        bad[8] ^= 1;
        let back: LogFrame = sdwire::from_slice(&bad, CLUSTER_VERSION).unwrap();
        assert!(!back.crc_ok());
        assert!(sdwire::from_slice::<LogFrame>(&b[..b.len() - 1], CLUSTER_VERSION).is_err());
    }
}
