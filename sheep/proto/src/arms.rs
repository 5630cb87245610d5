//! The per-opcode arms of the header unions (docs/sheepdog-facts.md §3).
//!
//! Request arms are the 32 bytes at offset 16 of [`ReqHeader`](super::ReqHeader)
//! (`size = 32`); response arms are the 28 bytes at offset 20 of
//! [`RspHeader`](super::RspHeader), after `result` (`size = 28`, `packed`
//! because the C union starts at offset 16, so its 8-byte fields sit at odd
//! multiples of 4 relative to byte 20).
//!
//! Which arm an opcode uses is fixed by the op tables in [`super::ops`]. Bytes
//! the C code leaves untouched are marked `reserved` (written as zero, ignored
//! when read) only where every golden trace shows them zero; bytes that carry
//! stale values in the traces are named fields so re-encoding is byte-exact.
//! Offsets in the `# Format` tables are relative to the arm; add 16 (requests)
//! or 20 (responses) for the header offset.

use sdwire::Wire;

use super::oid::Oid;

/// `obj` arm: object I/O (READ/WRITE/CREATE_AND_WRITE/REMOVE/DISCARD_OBJ, the
/// `*_PEER` ops, FLUSH_VDI, GET_HASH, EXIST, GET_OBJ_LIST, GET_EPOCH).
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 8 | oid |
/// | 8 | 8 | cow_oid |
/// | 16 | 1 | copies |
/// | 17 | 1 | copy_policy |
/// | 18 | 1 | ec_index |
/// | 19 | 1 | reserved |
/// | 20 | 4 | tgt_epoch |
/// | 24 | 4 | offset |
/// | 28 | 4 | reserved (`__pad`) before 0x0b; `payload_crc32c` from 0x0b |
///
/// # Versions
/// The arm is shared by the client (proto_ver 0..=2), admin (0x0a) and peer
/// (0x0a..=0x0b) protocols, whose version numbers do not overlap, so the
/// type's window `0..=0x0b` is the union of theirs and every message is
/// encoded at its header's proto_ver. Peer protocol 0x0b turns the unused
/// tail into [`payload_crc32c`](ObjReq::payload_crc32c); at every older
/// version those 4 bytes stay reserved (written as zero), so the C layout
/// and the golden traces are unchanged.
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 32, version = 0x0b, compat = 0)]
pub struct ObjReq {
    /// Object id.
    pub oid: Oid,
    /// Source object for copy-on-write (flag COW).
    pub cow_oid: Oid,
    /// Replica count the client believes in; 0 = the VDI's.
    pub copies: u8,
    /// 0 = replication; else erasure code (high nibble data/2, low nibble parity).
    pub copy_policy: u8,
    /// On forwarded peer writes: index of this target in the replica list.
    pub ec_index: u8,
    /// Unused byte.
    #[wire(reserved)]
    pub _rsvd: u8,
    /// Epoch to read from (recovery, GET_HASH, GET_EPOCH).
    pub tgt_epoch: u32,
    /// Byte offset inside the object.
    pub offset: u32,
    /// Unused tail (before peer protocol 0x0b).
    #[wire(reserved, until = 0x0b, default)]
    pub _pad: u32,
    /// Peer protocol 0x0b: CRC32C (Castagnoli) of the request payload
    /// (`data_length` bytes after the header; 0 for an empty one), checked
    /// by the receiver before anything is stored.
    #[wire(since = 0x0b, default)]
    pub payload_crc32c: u32,
}

/// `vdi` arm: NEW_VDI, LOCK_VDI, RELEASE_VDI, GET_VDI_INFO, DEL_VDI, GET_VDI_ATTR.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 8 | vdi_size |
/// | 8 | 4 | base_vdi_id |
/// | 12 | 1 | copies |
/// | 13 | 1 | copy_policy |
/// | 14 | 1 | store_policy |
/// | 15 | 1 | block_size_shift |
/// | 16 | 4 | snapid |
/// | 20 | 4 | type (lock type) |
/// | 24 | 8 | reserved |
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 32)]
pub struct VdiReq {
    /// VDI size in bytes.
    pub vdi_size: u64,
    /// Parent vid (clone/snapshot); RELEASE_VDI: the vid to release.
    pub base_vdi_id: u32,
    /// Copies; 0 = cluster default.
    pub copies: u8,
    /// Copy policy (0 = replication).
    pub copy_policy: u8,
    /// 0 = flat data_vdi_id array, 1 = B-tree index.
    pub store_policy: u8,
    /// Object size shift; 0 = cluster default (22).
    pub block_size_shift: u8,
    /// Snapshot id for lookups; NEW_VDI: non-zero takes a snapshot.
    pub snapid: u32,
    /// Lock type: 0 = normal, 1 = shared.
    pub lock_type: u32,
    /// Unused tail.
    #[wire(reserved)]
    pub _rsvd: u64,
}

/// `cluster` arm: MAKE_FS, STAT_CLUSTER, CLUSTER_INFO, ALTER_CLUSTER_COPY.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 8 | oid (unused by the handlers) |
/// | 8 | 8 | ctime |
/// | 16 | 1 | copies |
/// | 17 | 1 | copy_policy |
/// | 18 | 2 | flags ([`ClusterFlags`](super::ClusterFlags)) |
/// | 20 | 4 | tag |
/// | 24 | 4 | nodes_nr |
/// | 28 | 1 | block_size_shift |
/// | 29 | 3 | reserved |
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 32)]
pub struct ClusterReq {
    /// Unused by the handlers checked.
    pub oid: u64,
    /// Cluster creation time `(sec << 32) | usec*1000`.
    pub ctime: u64,
    /// Copies.
    pub copies: u8,
    /// Copy policy.
    pub copy_policy: u8,
    /// Cluster flags.
    pub flags: super::header::ClusterFlags,
    /// Tag.
    pub tag: u32,
    /// STAT_CLUSTER: number of sd_node slots per epoch record.
    pub nodes_nr: u32,
    /// Object size shift.
    pub block_size_shift: u8,
    /// Unused tail.
    #[wire(reserved)]
    pub _rsvd: [u8; 3],
}

/// `vdi_state` arm: NOTIFY_VDI_ADD, ALTER_VDI_COPY.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 4 | old_vid |
/// | 4 | 4 | new_vid |
/// | 8 | 1 | copies |
/// | 9 | 1 | set_bitmap |
/// | 10 | 1 | copy_policy |
/// | 11 | 1 | block_size_shift |
/// | 12 | 20 | reserved |
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 32)]
pub struct VdiStateReq {
    /// Old vid.
    pub old_vid: u32,
    /// New vid.
    pub new_vid: u32,
    /// Copies.
    pub copies: u8,
    /// Whether to set the vid in the in-use bitmap (C bool).
    pub set_bitmap: u8,
    /// Copy policy.
    pub copy_policy: u8,
    /// Object size shift.
    pub block_size_shift: u8,
    /// Unused tail.
    #[wire(reserved)]
    pub _rsvd: [u8; 20],
}

/// `ref` arm: DECREF_OBJ, DECREF_PEER.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 8 | oid (ledger object) |
/// | 8 | 4 | generation |
/// | 12 | 4 | count |
/// | 16 | 2 | reserved |
/// | 18 | 1 | ec_index (the `obj.ec_index` byte, stamped by the gateway's forward path) |
/// | 19 | 13 | reserved |
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 32)]
pub struct RefReq {
    /// Ledger object id (LEDGER_BIT set).
    pub oid: Oid,
    /// Generation.
    pub generation: u32,
    /// Count.
    pub count: u32,
    /// Unused (obj.copies/copy_policy position).
    #[wire(reserved)]
    pub _rsvd0: [u8; 2],
    /// The forwarding gateway writes the replica index here (shares the byte
    /// with `obj.ec_index`); DECREF_PEER in the traces carries 0/1.
    pub ec_index: u8,
    /// Unused tail.
    #[wire(reserved)]
    pub _rsvd1: [u8; 13],
}

/// `forw` arm: REPAIR_REPLICA.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 8 | oid |
/// | 8 | 16 | addr (node_id address format) |
/// | 24 | 2 | port |
/// | 26 | 6 | reserved |
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 32)]
pub struct ForwReq {
    /// Object to repair.
    pub oid: Oid,
    /// Node to copy from: IPv6 bytes, or 12 zero bytes + IPv4.
    pub addr: [u8; 16],
    /// Its port.
    pub port: u16,
    /// Unused tail.
    #[wire(reserved)]
    pub _rsvd: [u8; 6],
}

/// `vdi_state_checkpoint` arm: VDI_STATE_CHECKPOINT_CTL.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 4 | get (1 = get, 0 = free) |
/// | 4 | 4 | tgt_epoch |
/// | 8 | 4 | vid |
/// | 12 | 20 | reserved |
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 32)]
pub struct VdiStateCheckpointReq {
    /// 1 = get, 0 = free.
    pub get: u32,
    /// Epoch.
    pub tgt_epoch: u32,
    /// Vid (get only).
    pub vid: u32,
    /// Unused tail.
    #[wire(reserved)]
    pub _rsvd: [u8; 20],
}

/// `inode_coherence` arm: INODE_COHERENCE.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 4 | vid |
/// | 4 | 4 | validate (1 = validate, 0 = invalidate) |
/// | 8 | 24 | reserved |
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 32)]
pub struct InodeCoherenceReq {
    /// Vid.
    pub vid: u32,
    /// 1 = validate, 0 = invalidate.
    pub validate: u32,
    /// Unused tail.
    #[wire(reserved)]
    pub _rsvd: [u8; 24],
}

/// The arm of opcodes that take no arguments in the union.
///
/// # Format
/// 32 reserved bytes: written as zero, ignored when read (all zero in the traces).
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 32)]
pub struct NoArgs {
    /// Unused.
    #[wire(reserved)]
    pub _rsvd: [u8; 32],
}

/// The arm of opcodes whose union use is not documented (defined without a
/// handler, obsolete): the 32 bytes kept as sent.
///
/// # Format
/// 32 raw bytes.
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 32)]
pub struct RawArgs {
    /// The union bytes.
    pub bytes: [u8; 32],
}

// ---------------------------------------------------------------------------
// Response arms (28 bytes after `result`).

/// `obj` response arm (object I/O).
///
/// # Format
/// | rsp off | arm off | size | field |
/// |---:|---:|---:|---|
/// | 20 | 0 | 1 | copies (never set; 0) |
/// | 21 | 1 | 3 | reserved |
/// | 24 | 4 | 8 | offset (recovery reads) |
/// | 32 | 12 | 16 | reserved (before 0x0b) |
/// | 32 | 12 | 4 | `payload_crc32c` (peer protocol 0x0b) |
/// | 36 | 16 | 12 | reserved (0x0b) |
///
/// # Versions
/// Like [`ObjReq`]: window `0..=0x0b`, encoded at the request's proto_ver.
/// From peer protocol 0x0b the first 4 reserved tail bytes carry the CRC32C
/// of the reply payload (READ_PEER).
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 28, packed, version = 0x0b, compat = 0)]
pub struct ObjRsp {
    /// Copies (never set by the C server).
    pub copies: u8,
    /// Unused.
    #[wire(reserved)]
    pub _rsvd0: [u8; 3],
    /// Offset (recovery reads).
    pub offset: u64,
    /// Unused tail (before peer protocol 0x0b).
    #[wire(reserved, until = 0x0b, default)]
    pub _rsvd1: [u8; 16],
    /// Peer protocol 0x0b: CRC32C of the reply payload (READ_PEER), checked
    /// by the gateway that asked.
    #[wire(since = 0x0b, default)]
    pub payload_crc32c: u32,
    /// Unused tail (peer protocol 0x0b).
    #[wire(reserved, since = 0x0b, default)]
    pub _rsvd2: [u8; 12],
}

/// `vdi` response arm (NEW_VDI, GET_VDI_INFO, LOCK_VDI, DEL_VDI, GET_VDI_ATTR).
///
/// # Format
/// | rsp off | arm off | size | field |
/// |---:|---:|---:|---|
/// | 20 | 0 | 4 | rsvd |
/// | 24 | 4 | 4 | vdi_id |
/// | 28 | 8 | 4 | attr_id |
/// | 32 | 12 | 1 | copies |
/// | 33 | 13 | 1 | block_size_shift |
/// | 34 | 14 | 14 | reserved |
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 28, packed)]
pub struct VdiRsp {
    /// Unused.
    #[wire(reserved)]
    pub _rsvd0: u32,
    /// The VDI id (stale on some errors, e.g. VDI_EXIST).
    pub vdi_id: u32,
    /// Attribute id (GET_VDI_ATTR).
    pub attr_id: u32,
    /// Copies.
    pub copies: u8,
    /// Object size shift.
    pub block_size_shift: u8,
    /// Unused tail.
    #[wire(reserved)]
    pub _rsvd1: [u8; 14],
}

/// `node` response arm (GET_NODE_LIST, STAT_SHEEP).
///
/// # Format
/// | rsp off | arm off | size | field |
/// |---:|---:|---:|---|
/// | 20 | 0 | 4 | nr_nodes |
/// | 24 | 4 | 8 | reserved |
/// | 32 | 12 | 8 | store_size |
/// | 40 | 20 | 8 | store_free |
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 28, packed)]
pub struct NodeRsp {
    /// Number of nodes (GET_NODE_LIST).
    pub nr_nodes: u32,
    /// Unused.
    #[wire(reserved)]
    pub _rsvd: u64,
    /// Store capacity in bytes (STAT_SHEEP).
    pub store_size: u64,
    /// Free store bytes (STAT_SHEEP).
    pub store_free: u64,
}

/// `hash` response arm (GET_HASH).
///
/// # Format
/// | rsp off | arm off | size | field |
/// |---:|---:|---:|---|
/// | 20 | 0 | 4 | pad |
/// | 24 | 4 | 20 | digest (SHA-1) |
/// | 44 | 24 | 4 | reserved |
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 28, packed)]
pub struct HashRsp {
    /// Unused.
    #[wire(reserved)]
    pub _pad: u32,
    /// SHA-1 of the object.
    pub digest: [u8; 20],
    /// Unused tail.
    #[wire(reserved)]
    pub _rsvd: u32,
}

/// `cluster_default` response arm (GET_CLUSTER_DEFAULT).
///
/// # Format
/// | rsp off | arm off | size | field |
/// |---:|---:|---:|---|
/// | 20 | 0 | 1 | nr_copies |
/// | 21 | 1 | 1 | copy_policy |
/// | 22 | 2 | 1 | block_size_shift |
/// | 23 | 3 | 25 | reserved |
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 28, packed)]
pub struct ClusterDefaultRsp {
    /// Default copies.
    pub nr_copies: u8,
    /// Default copy policy.
    pub copy_policy: u8,
    /// Default object size shift.
    pub block_size_shift: u8,
    /// Unused tail.
    #[wire(reserved)]
    pub _rsvd: [u8; 25],
}

/// The response arm of opcodes that put nothing in the union.
///
/// # Format
/// 28 reserved bytes (all zero in the traces).
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 28, packed)]
pub struct NoRsp {
    /// Unused.
    #[wire(reserved)]
    pub _rsvd: [u8; 28],
}

/// Which response arm an opcode's answer uses.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RspKind {
    /// [`ObjRsp`].
    Obj,
    /// [`VdiRsp`].
    Vdi,
    /// [`NodeRsp`].
    Node,
    /// [`HashRsp`].
    Hash,
    /// [`ClusterDefaultRsp`].
    ClusterDefault,
    /// [`NoRsp`].
    None,
}

/// A decoded response arm.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum RspArm {
    /// Object I/O.
    Obj(ObjRsp),
    /// VDI ops.
    Vdi(VdiRsp),
    /// Node list / sheep stats.
    Node(NodeRsp),
    /// GET_HASH.
    Hash(HashRsp),
    /// GET_CLUSTER_DEFAULT.
    ClusterDefault(ClusterDefaultRsp),
    /// Nothing in the union.
    None(NoRsp),
}

impl RspKind {
    /// The response arm the answer to `opcode` uses (docs/sheepdog-facts.md §3.2).
    pub fn for_opcode(opcode: u8) -> RspKind {
        match opcode {
            0x01..=0x05 | 0x16 | 0xA1..=0xA6 | 0xC1 | 0xC2 | 0xBD => RspKind::Obj,
            0x11..=0x14 | 0x17 | 0x89 => RspKind::Vdi,
            0x82 | 0x86 => RspKind::Node,
            0xB4 => RspKind::Hash,
            0x18 => RspKind::ClusterDefault,
            _ => RspKind::None,
        }
    }
}

impl RspArm {
    /// Decodes the 28 union bytes after `result` as the arm of `opcode`
    /// (at version 0: the C layout, no peer 0x0b fields).
    ///
    /// # Errors
    /// Never in practice (every arm is 28 bytes of plain integers); kept for symmetry.
    pub fn decode(opcode: u8, body: &[u8; 28]) -> Result<RspArm, sdwire::DecodeError> {
        RspArm::decode_at(opcode, body, 0)
    }

    /// Decodes the arm at protocol version `v` (the proto_ver of the
    /// request it answers: a READ_PEER answered at peer 0x0b carries the
    /// payload CRC).
    ///
    /// # Errors
    /// `v` outside the arm's version window.
    pub fn decode_at(
        opcode: u8,
        body: &[u8; 28],
        v: sdwire::Version,
    ) -> Result<RspArm, sdwire::DecodeError> {
        let b = &body[..];
        Ok(match RspKind::for_opcode(opcode) {
            RspKind::Obj => RspArm::Obj(sdwire::from_slice(b, v)?),
            RspKind::Vdi => RspArm::Vdi(sdwire::from_slice(b, v)?),
            RspKind::Node => RspArm::Node(sdwire::from_slice(b, v)?),
            RspKind::Hash => RspArm::Hash(sdwire::from_slice(b, v)?),
            RspKind::ClusterDefault => RspArm::ClusterDefault(sdwire::from_slice(b, v)?),
            RspKind::None => RspArm::None(sdwire::from_slice(b, v)?),
        })
    }

    /// Encodes the arm into the 28 union bytes (at version 0: the C layout).
    ///
    /// # Panics
    /// If a peer 0x0b field is set (use [`RspArm::encode_at`]).
    pub fn encode(&self) -> [u8; 28] {
        self.encode_at(0).expect("arm has no 0x0b field set")
    }

    /// Encodes the arm at protocol version `v` (the request's proto_ver).
    ///
    /// # Errors
    /// `v` outside the arm's window, or a field that `v` lacks holds a
    /// non-default value (e.g. a payload CRC at a version before 0x0b).
    pub fn encode_at(&self, v: sdwire::Version) -> Result<[u8; 28], sdwire::EncodeError> {
        let mut out = [0u8; 28];
        let mut s = &mut out[..];
        match self {
            RspArm::Obj(a) => a.encode(&mut s, v),
            RspArm::Vdi(a) => a.encode(&mut s, v),
            RspArm::Node(a) => a.encode(&mut s, v),
            RspArm::Hash(a) => a.encode(&mut s, v),
            RspArm::ClusterDefault(a) => a.encode(&mut s, v),
            RspArm::None(a) => a.encode(&mut s, v),
        }?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        // The obj arms have versioned fields, so no FIXED_SIZE: check the
        // size at every version instead (obj_arms_at_every_version).
        assert_eq!(ObjReq::FIXED_SIZE, None);
        assert_eq!(ObjRsp::FIXED_SIZE, None);
        for (n, s) in [
            ("VdiReq", VdiReq::FIXED_SIZE),
            ("ClusterReq", ClusterReq::FIXED_SIZE),
            ("VdiStateReq", VdiStateReq::FIXED_SIZE),
            ("RefReq", RefReq::FIXED_SIZE),
            ("ForwReq", ForwReq::FIXED_SIZE),
            ("VdiStateCheckpointReq", VdiStateCheckpointReq::FIXED_SIZE),
            ("InodeCoherenceReq", InodeCoherenceReq::FIXED_SIZE),
            ("NoArgs", NoArgs::FIXED_SIZE),
            ("RawArgs", RawArgs::FIXED_SIZE),
        ] {
            assert_eq!(s, Some(32), "{n}");
        }
        for (n, s) in [
            ("VdiRsp", VdiRsp::FIXED_SIZE),
            ("NodeRsp", NodeRsp::FIXED_SIZE),
            ("HashRsp", HashRsp::FIXED_SIZE),
            ("ClusterDefaultRsp", ClusterDefaultRsp::FIXED_SIZE),
            ("NoRsp", NoRsp::FIXED_SIZE),
        ] {
            assert_eq!(s, Some(28), "{n}");
        }
        assert_eq!(ObjReq::LAYOUT.field("offset").unwrap().offset, Some(24));
        assert_eq!(
            NodeRsp::LAYOUT.field("store_size").unwrap().offset,
            Some(12)
        );
    }

    /// The obj arms at 0x0a encode exactly the C layout (the CRC bytes stay
    /// reserved zeros, a sender's stale bytes there are ignored); at 0x0b the
    /// same 4 bytes carry the CRC; both are 32 / 28 bytes at every version.
    #[test]
    fn obj_arms_at_every_version() {
        let a = ObjReq {
            oid: Oid(0x0080_0000_0000_0001),
            cow_oid: Oid(0),
            copies: 2,
            copy_policy: 0,
            ec_index: 1,
            _rsvd: 0,
            tgt_epoch: 7,
            offset: 4096,
            _pad: 0,
            payload_crc32c: 0,
        };
        let mut c_bytes = [0u8; 32];
        c_bytes[..8].copy_from_slice(&0x0080_0000_0000_0001u64.to_le_bytes());
        c_bytes[16] = 2;
        c_bytes[18] = 1;
        c_bytes[20] = 7;
        c_bytes[24..28].copy_from_slice(&4096u32.to_le_bytes());
        for v in [0, 2, 0x0a] {
            assert_eq!(sdwire::to_vec(&a, v).unwrap(), c_bytes, "v={v:#x}");
            // Garbage in the reserved tail is ignored at the old versions.
            let mut dirty = c_bytes;
            dirty[28..].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
            assert_eq!(sdwire::from_slice::<ObjReq>(&dirty, v).unwrap(), a);
        }
        // A CRC cannot be silently dropped by an old-version encode.
        let with = ObjReq {
            payload_crc32c: 0xdead_beef,
            ..a
        };
        assert!(sdwire::to_vec(&with, 0x0a).is_err());
        let b = sdwire::to_vec(&with, 0x0b).unwrap();
        assert_eq!(b.len(), 32);
        assert_eq!(b[..28], c_bytes[..28]);
        assert_eq!(b[28..], 0xdead_beefu32.to_le_bytes());
        assert_eq!(sdwire::from_slice::<ObjReq>(&b, 0x0b).unwrap(), with);
        // The same bytes read by a 0x0a node: CRC ignored.
        assert_eq!(sdwire::from_slice::<ObjReq>(&b, 0x0a).unwrap(), a);
        assert!(sdwire::to_vec(&a, 0x0c).is_err());

        let r = ObjRsp {
            offset: 9,
            payload_crc32c: 0x0102_0304,
            ..ObjRsp::default()
        };
        let arm = RspArm::Obj(r);
        let b = arm.encode_at(0x0b).unwrap();
        assert_eq!(b[4..12], 9u64.to_le_bytes());
        assert_eq!(b[12..16], 0x0102_0304u32.to_le_bytes());
        assert_eq!(b[16..], [0u8; 12]);
        assert_eq!(RspArm::decode_at(0xA4, &b, 0x0b).unwrap(), arm);
        // At 0x0a (and in the C layout) those bytes are reserved.
        assert!(arm.encode_at(0x0a).is_err());
        let old = RspArm::Obj(ObjRsp {
            payload_crc32c: 0,
            ..r
        });
        assert_eq!(RspArm::decode_at(0xA4, &b, 0x0a).unwrap(), old);
        assert_eq!(old.encode_at(0x0a).unwrap(), old.encode());
        assert_eq!(old.encode()[12..], [0u8; 16]);
    }

    #[test]
    fn rsp_round_trip() {
        let mut body = [0u8; 28];
        body[4] = 0x25;
        body[12] = 2;
        body[13] = 22;
        let a = RspArm::decode(0x14, &body).unwrap();
        match a {
            RspArm::Vdi(v) => assert_eq!((v.vdi_id, v.copies, v.block_size_shift), (0x25, 2, 22)),
            other => panic!("{other:?}"),
        }
        assert_eq!(a.encode(), body);
    }
}
