//! Cluster-wide structures: `cluster_info`, `epoch_log`, `vdi_state`,
//! `sheepdog_vdi_attr`, `recovery_state`, `sd_stat` and the on-disk
//! `sheepdog_config` (docs/sheepdog-facts.md §6, §11.3-§11.5).

use super::header::ClusterFlags;
use super::node::{NodeId, SdNode};
use sdwire::{
    bytes::{Buf, BufMut},
    DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind, FieldLayout, Layout, LayoutKind,
    Order, Version, Wire,
};

/// `SD_MAX_NODES`: node slots in `cluster_info`.
pub const SD_MAX_NODES: usize = 6144;
/// `SD_MAX_COPIES`.
pub const SD_MAX_COPIES: usize = 31;
/// Length of VDI names and tags (`SD_MAX_VDI_LEN`, `SD_MAX_VDI_TAG_LEN`).
pub const SD_MAX_VDI_LEN: usize = 256;
/// `SD_MAX_VDI_ATTR_VALUE_LEN`.
pub const SD_MAX_VDI_ATTR_VALUE_LEN: usize = 65_536;

/// Cluster status `sd_status` (docs/sheepdog-facts.md §6).
///
/// # Format
/// One byte (`cluster_info.status`, offset 20).
#[derive(Wire, Clone, Copy, PartialEq, Eq, Hash, Debug)]
#[wire(tag = u8, no_handler)]
pub enum SdStatus {
    /// Running.
    #[wire(opcode = 1)]
    Ok,
    /// Waiting for format or join.
    #[wire(opcode = 2)]
    Wait,
    /// Shutting down.
    #[wire(opcode = 3)]
    Shutdown,
    /// Killed.
    #[wire(opcode = 4)]
    Killed,
    /// Any other value, kept as sent.
    #[wire(other)]
    Unknown(u8),
}

/// The fixed 48-byte head of `cluster_info`.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 1 | proto_ver (SD_SHEEP_PROTO_VER) |
/// | 1 | 1 | disable_recovery |
/// | 2 | 2 | nr_nodes |
/// | 4 | 4 | epoch |
/// | 8 | 8 | ctime (cluster identity) |
/// | 16 | 2 | flags ([`ClusterFlags`]) |
/// | 18 | 1 | nr_copies |
/// | 19 | 1 | copy_policy |
/// | 20 | 1 | status ([`SdStatus`]) |
/// | 21 | 1 | block_size_shift |
/// | 22 | 3 | reserved |
/// | 25 | 16 | default_store (NUL-padded) |
/// | 41 | 7 | reserved (alignment) |
#[derive(Wire, Clone, Copy, PartialEq, Eq, Debug)]
#[wire(le, size = 48)]
pub struct ClusterInfoHeader {
    /// Internal protocol version of the sender.
    pub proto_ver: u8,
    /// Recovery disabled.
    pub disable_recovery: u8,
    /// Meaningful entries in the node list.
    pub nr_nodes: u16,
    /// Epoch of the node list.
    pub epoch: u32,
    /// Cluster creation time (cluster identity).
    pub ctime: u64,
    /// Cluster flags.
    pub flags: ClusterFlags,
    /// Default copies.
    pub nr_copies: u8,
    /// Default copy policy.
    pub copy_policy: u8,
    /// Cluster status.
    pub status: SdStatus,
    /// Default object size shift.
    pub block_size_shift: u8,
    /// Padding.
    #[wire(reserved)]
    pub _pad: [u8; 3],
    /// Backend store name, NUL-padded (e.g. "plain").
    pub default_store: [u8; 16],
    /// Alignment padding.
    #[wire(reserved)]
    pub _pad2: [u8; 7],
}

/// `cluster_info`: the join message and the CLUSTER_INFO reply.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 48 | header ([`ClusterInfoHeader`]) |
/// | 48 | 6144 x 80 | nodes: `nr_nodes` [`SdNode`]s, then unused slots |
///
/// 491,568 bytes in all. Unused node slots are written as zero and ignored
/// when read; `header.nr_nodes` is written as `nodes.len()`. The join message
/// is the same structure truncated after the last meaningful node
/// ([`ClusterInfo::encode_join`]).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ClusterInfo {
    /// The header.
    pub header: ClusterInfoHeader,
    /// The meaningful nodes.
    pub nodes: Vec<SdNode>,
}

impl ClusterInfo {
    /// Full encoded size: 48 + 6144 x 80.
    pub const SIZE: usize = 48 + SD_MAX_NODES * SdNode::SIZE;

    fn header_for_encode(&self) -> Result<ClusterInfoHeader, EncodeError> {
        if self.nodes.len() > SD_MAX_NODES {
            return Err(EncodeError::new(EncodeErrorKind::LengthOverflow {
                len: self.nodes.len() as u64,
                max: SD_MAX_NODES as u64,
            }));
        }
        let mut h = self.header;
        h.nr_nodes = self.nodes.len() as u16;
        Ok(h)
    }

    /// Encodes the join-message form: header + `nr_nodes` nodes, no unused slots.
    ///
    /// # Errors
    /// More than [`SD_MAX_NODES`] nodes.
    pub fn encode_join(&self) -> Result<Vec<u8>, EncodeError> {
        let h = self.header_for_encode()?;
        let mut v = Vec::with_capacity(48 + self.nodes.len() * SdNode::SIZE);
        h.encode(&mut v, 0)?;
        for n in &self.nodes {
            n.encode(&mut v, 0)?;
        }
        Ok(v)
    }

    /// Decodes either form (full or join message): header, then `nr_nodes`
    /// nodes; anything after them is ignored.
    ///
    /// # Errors
    /// Short input or `nr_nodes` above [`SD_MAX_NODES`].
    pub fn decode_prefix(bytes: &[u8]) -> Result<ClusterInfo, DecodeError> {
        let mut s = bytes;
        let header = ClusterInfoHeader::decode(&mut s, 0)?;
        let n = usize::from(header.nr_nodes);
        if n > SD_MAX_NODES {
            return Err(DecodeError::new(DecodeErrorKind::LengthTooLarge {
                len: n as u64,
                max: SD_MAX_NODES as u64,
            }));
        }
        let mut nodes = Vec::with_capacity(n);
        for _ in 0..n {
            nodes.push(SdNode::decode(&mut s, 0)?);
        }
        Ok(ClusterInfo { header, nodes })
    }
}

impl Wire for ClusterInfo {
    const FIXED_SIZE: Option<usize> = Some(ClusterInfo::SIZE);
    const ALIGN: usize = 8;
    const LAYOUT: &'static Layout = &Layout {
        name: "ClusterInfo",
        kind: LayoutKind::Struct,
        size: Some(ClusterInfo::SIZE),
        align: 8,
        order: Order::Le,
        versions: None,
        fields: &[
            FieldLayout {
                name: "header",
                ty: "ClusterInfoHeader",
                offset: Some(0),
                size: Some(48),
                order: Order::None,
                since: None,
                until: None,
                reserved: false,
                default: None,
                measures: None,
            },
            FieldLayout {
                name: "nodes",
                ty: "[SdNode; 6144] (header.nr_nodes used, rest zero)",
                offset: Some(48),
                size: Some(SD_MAX_NODES * SdNode::SIZE),
                order: Order::None,
                since: None,
                until: None,
                reserved: false,
                default: None,
                measures: None,
            },
        ],
        ops: &[],
        tag_size: 0,
        doc: "`cluster_info`: the join message and the CLUSTER_INFO reply.",
    };

    fn wire_size(&self, _: Version) -> usize {
        ClusterInfo::SIZE
    }

    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B, version: Version) -> Result<(), EncodeError> {
        if buf.remaining_mut() < ClusterInfo::SIZE {
            return Err(EncodeError::new(EncodeErrorKind::BufferTooSmall {
                needed: ClusterInfo::SIZE,
                available: buf.remaining_mut(),
            }));
        }
        self.header_for_encode()?.encode(buf, version)?;
        for n in &self.nodes {
            n.encode(buf, version)?;
        }
        buf.put_bytes(0, (SD_MAX_NODES - self.nodes.len()) * SdNode::SIZE);
        Ok(())
    }

    fn decode<B: Buf + ?Sized>(buf: &mut B, version: Version) -> Result<Self, DecodeError> {
        if buf.remaining() < ClusterInfo::SIZE {
            return Err(DecodeError::new(DecodeErrorKind::Truncated {
                needed: ClusterInfo::SIZE,
                available: buf.remaining(),
            }));
        }
        let header = ClusterInfoHeader::decode(buf, version)?;
        let n = usize::from(header.nr_nodes);
        if n > SD_MAX_NODES {
            return Err(DecodeError::new(DecodeErrorKind::LengthTooLarge {
                len: n as u64,
                max: SD_MAX_NODES as u64,
            }));
        }
        let mut nodes = Vec::with_capacity(n);
        for _ in 0..n {
            nodes.push(SdNode::decode(buf, version)?);
        }
        buf.advance((SD_MAX_NODES - n) * SdNode::SIZE);
        Ok(ClusterInfo { header, nodes })
    }
}

/// `epoch_log`: the 48-byte head of an epoch record (STAT_CLUSTER, epoch files).
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 8 | ctime |
/// | 8 | 8 | time (time_t of the epoch) |
/// | 16 | 4 | epoch |
/// | 20 | 4 | nr_nodes |
/// | 24 | 1 | disable_recovery |
/// | 25 | 1 | nr_copies |
/// | 26 | 1 | copy_policy |
/// | 27 | 3 | reserved |
/// | 30 | 2 | flags ([`ClusterFlags`]) |
/// | 32 | 16 | drv_name (NUL-padded) |
///
/// Followed on the wire by `sd_node` slots (see [`super::payload::EpochRecord`]).
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 48)]
pub struct EpochLog {
    /// Cluster creation time.
    pub ctime: u64,
    /// When the epoch started.
    pub time: u64,
    /// The epoch.
    pub epoch: u32,
    /// Meaningful nodes following.
    pub nr_nodes: u32,
    /// Recovery disabled.
    pub disable_recovery: u8,
    /// Copies.
    pub nr_copies: u8,
    /// Copy policy.
    pub copy_policy: u8,
    /// Padding.
    #[wire(reserved)]
    pub _pad: [u8; 3],
    /// Cluster flags.
    pub flags: ClusterFlags,
    /// Cluster driver name, NUL-padded.
    pub drv_name: [u8; 16],
}

/// `recovery_state`, the STAT_RECOVERY reply.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 1 | in_recovery |
/// | 1 | 3 | reserved |
/// | 4 | 4 | state (rw_state enum) |
/// | 8 | 8 | nr_finished |
/// | 16 | 8 | nr_total |
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 24)]
pub struct RecoveryState {
    /// Non-zero while recovering.
    pub in_recovery: u8,
    /// Padding.
    #[wire(reserved)]
    pub _pad: [u8; 3],
    /// Recovery state machine state.
    pub state: u32,
    /// Objects recovered.
    pub nr_finished: u64,
    /// Objects to recover.
    pub nr_total: u64,
}

/// `sd_stat`, the STAT reply: request counters (not traced; layout from
/// sheepdog's `struct sd_stat`, 15 u64 counters = 120 B as in docs/sheepdog-facts.md §11).
///
/// # Format
/// 15 little-endian u64 at offsets 0, 8, ... 112, in field order.
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 120)]
pub struct SdStat {
    /// Running gateway requests.
    pub gway_active_nr: u64,
    /// Running peer requests.
    pub peer_active_nr: u64,
    /// Gateway requests received.
    pub gway_total_nr: u64,
    /// Peer requests received.
    pub peer_total_nr: u64,
    /// Gateway bytes in.
    pub gway_total_rx: u64,
    /// Gateway bytes out.
    pub gway_total_tx: u64,
    /// Peer bytes in.
    pub peer_total_rx: u64,
    /// Peer bytes out.
    pub peer_total_tx: u64,
    /// Gateway removes (and discards).
    pub gway_total_remove_nr: u64,
    /// Gateway reads.
    pub gway_total_read_nr: u64,
    /// Gateway writes.
    pub gway_total_write_nr: u64,
    /// Gateway flushes.
    pub gway_total_flush_nr: u64,
    /// Peer removes.
    pub peer_total_remove_nr: u64,
    /// Peer reads.
    pub peer_total_read_nr: u64,
    /// Peer writes.
    pub peer_total_write_nr: u64,
}

/// `vdi_state`, an entry of the GET_VDI_COPIES reply.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 4 | vid |
/// | 4 | 1 | nr_copies |
/// | 5 | 1 | snapshot |
/// | 6 | 1 | deleted |
/// | 7 | 1 | copy_policy |
/// | 8 | 1 | block_size_shift |
/// | 9 | 3 | reserved |
/// | 12 | 4 | parent_vid |
/// | 16 | 4 | lock_state (UNLOCKED=1, LOCKED=2, SHARED=3) |
/// | 20 | 40 | lock_owner ([`NodeId`]) |
/// | 60 | 4 | nr_participants |
/// | 64 | 31 x 4 | participants_state |
/// | 188 | 31 x 40 | participants ([`NodeId`]) |
#[derive(Wire, Clone, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 1428)]
pub struct VdiState {
    /// Vid.
    pub vid: u32,
    /// Copies.
    pub nr_copies: u8,
    /// Whether it is a snapshot.
    pub snapshot: u8,
    /// Whether it is deleted.
    pub deleted: u8,
    /// Copy policy.
    pub copy_policy: u8,
    /// Object size shift.
    pub block_size_shift: u8,
    /// Padding.
    #[wire(reserved)]
    pub _pad: [u8; 3],
    /// Parent vid.
    pub parent_vid: u32,
    /// Lock state.
    pub lock_state: u32,
    /// Lock owner.
    pub lock_owner: NodeId,
    /// Entries used in the participant arrays.
    pub nr_participants: u32,
    /// Shared-lock state of each participant.
    pub participants_state: [u32; 31],
    /// Participants.
    pub participants: [NodeId; 31],
}

/// `sheepdog_vdi_attr` (66,320 B): GET_VDI_ATTR request payload and the attribute object.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 256 | name |
/// | 256 | 256 | tag |
/// | 512 | 8 | ctime |
/// | 520 | 4 | snap_id |
/// | 524 | 4 | value_len |
/// | 528 | 256 | key |
/// | 784 | 65536 | value |
#[derive(Wire, Clone, PartialEq, Eq, Debug)]
#[wire(le, size = 66320)]
pub struct VdiAttr {
    /// VDI name, NUL-padded.
    pub name: [u8; 256],
    /// Snapshot tag, NUL-padded.
    pub tag: [u8; 256],
    /// Creation time of the VDI.
    pub ctime: u64,
    /// Snapshot id.
    pub snap_id: u32,
    /// Bytes of `value` used.
    pub value_len: u32,
    /// Attribute key, NUL-padded.
    pub key: [u8; 256],
    /// Attribute value.
    pub value: Box<[u8; 65536]>,
}

impl Default for VdiAttr {
    fn default() -> Self {
        VdiAttr {
            name: [0; 256],
            tag: [0; 256],
            ctime: 0,
            snap_id: 0,
            value_len: 0,
            key: [0; 256],
            value: vec![0u8; 65536]
                .into_boxed_slice()
                .try_into()
                .expect("65536 bytes"),
        }
    }
}

/// `sheepdog_config`: the store's `config` file (40 B; on disk, not on the wire).
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 8 | ctime |
/// | 8 | 2 | flags ([`ClusterFlags`]) |
/// | 10 | 1 | copies |
/// | 11 | 16 | default_store |
/// | 27 | 1 | shutdown |
/// | 28 | 1 | copy_policy |
/// | 29 | 1 | block_size_shift |
/// | 30 | 2 | version (6) |
/// | 32 | 8 | space |
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 40)]
pub struct SheepdogConfig {
    /// Cluster creation time.
    pub ctime: u64,
    /// Cluster flags.
    pub flags: ClusterFlags,
    /// Copies.
    pub copies: u8,
    /// Backend store name.
    pub default_store: [u8; 16],
    /// Clean shutdown marker.
    pub shutdown: u8,
    /// Copy policy.
    pub copy_policy: u8,
    /// Object size shift.
    pub block_size_shift: u8,
    /// Config format version (6).
    pub version: u16,
    /// Store capacity.
    pub space: u64,
}

/// Reads a NUL-padded byte string up to its first NUL.
pub fn c_str(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    &b[..end]
}

/// A NUL-padded fixed array from a byte string (truncated if too long).
pub fn padded<const N: usize>(s: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let n = s.len().min(N);
    out[..n].copy_from_slice(&s[..n]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(ClusterInfoHeader::FIXED_SIZE, Some(48));
        assert_eq!(ClusterInfo::FIXED_SIZE, Some(491_568));
        assert_eq!(EpochLog::FIXED_SIZE, Some(48));
        assert_eq!(RecoveryState::FIXED_SIZE, Some(24));
        assert_eq!(SdStat::FIXED_SIZE, Some(120));
        assert_eq!(VdiState::FIXED_SIZE, Some(1428));
        assert_eq!(VdiAttr::FIXED_SIZE, Some(66_320));
        assert_eq!(SheepdogConfig::FIXED_SIZE, Some(40));
        assert_eq!(SdStatus::FIXED_SIZE, Some(1));
        assert_eq!(
            ClusterInfoHeader::LAYOUT
                .field("default_store")
                .unwrap()
                .offset,
            Some(25)
        );
        assert_eq!(EpochLog::LAYOUT.field("flags").unwrap().offset, Some(30));
        assert_eq!(
            VdiState::LAYOUT.field("participants").unwrap().offset,
            Some(188)
        );
        assert_eq!(VdiAttr::LAYOUT.field("value").unwrap().offset, Some(784));
        assert_eq!(
            SheepdogConfig::LAYOUT.field("version").unwrap().offset,
            Some(30)
        );
    }

    #[test]
    fn cluster_info_round_trip() {
        let ci = ClusterInfo {
            header: ClusterInfoHeader {
                proto_ver: 0x0a,
                disable_recovery: 0,
                nr_nodes: 1,
                epoch: 3,
                ctime: 42,
                flags: ClusterFlags::AUTO_VNODES,
                nr_copies: 2,
                copy_policy: 0,
                status: SdStatus::Ok,
                block_size_shift: 22,
                _pad: [0; 3],
                default_store: padded(b"plain"),
                _pad2: [0; 7],
            },
            nodes: vec![SdNode::new("127.0.0.1:7000".parse().unwrap(), 128, 1 << 30)],
        };
        let b = sdwire::to_vec(&ci, 0).unwrap();
        assert_eq!(b.len(), ClusterInfo::SIZE);
        assert_eq!(sdwire::from_slice::<ClusterInfo>(&b, 0).unwrap(), ci);
        let j = ci.encode_join().unwrap();
        assert_eq!(j.len(), 128);
        assert_eq!(ClusterInfo::decode_prefix(&j).unwrap(), ci);
        assert_eq!(c_str(&ci.header.default_store), b"plain");
    }
}
