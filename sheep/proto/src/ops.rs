//! The three opcode tables: client, peer and admin (docs/sheepdog-facts.md §4).
//!
//! All three protocols share one framing ([`ReqHeader`]); the opcode alone says
//! which protocol a request belongs to. Public opcodes (< 0x80) form the
//! client protocol ([`ClientOp`], versioned by [`SD_PROTO_VER`], reading
//! 0..=2). Internal opcodes (>= 0x80) are split by who sends them:
//! * [`PeerOp`]: sheep -> sheep (the `*_PEER` forwards, recovery and join
//!   exchanges, sheep-generated bookkeeping such as DECREF_OBJ);
//! * [`AdminOp`]: dog (or another management client) -> sheep.
//!
//! The admin protocol is at [`SD_SHEEP_PROTO_VER`] (0x0a) and accepts only
//! that version, like the C server. The peer protocol reads and writes
//! 0x0a..=0x0b ([`PEER_COMPAT`]..=[`PEER_VERSION`]): 0x0b adds a CRC32C of
//! the payload to the obj arms (fields `since = 0x0b` in
//! [`super::ObjReq`] and [`super::ObjRsp`]); a peer request
//! is decoded at the proto_ver of its header and answered at the same
//! version. Every opcode defined by sheepdog
//! 1.0 is in exactly one table, including the ones the C server defines
//! without a handler (they decode; a server answers them `INVALID_PARMS`, see
//! [`has_c_handler`]).

use super::arms::{
    ClusterReq, ForwReq, InodeCoherenceReq, NoArgs, ObjReq, RawArgs, RefReq, VdiReq,
    VdiStateCheckpointReq, VdiStateReq,
};
use super::header::{
    accepts_version, proto_ver_for, ReqFlags, ReqHeader, SD_PROTO_VER, SD_SHEEP_PROTO_VER,
};
use sdwire::{OpTable, Version, Wire};

/// Newest client protocol version (`SD_PROTO_VER`).
pub const CLIENT_VERSION: Version = SD_PROTO_VER as Version;
/// Oldest client protocol version accepted (0 = "unversioned", libsheepdog).
pub const CLIENT_COMPAT: Version = 0;
/// Newest peer protocol version: 0x0b (payload CRC32C in the obj arms).
pub const PEER_VERSION: Version = 0x0b;
/// Oldest peer protocol version accepted (`SD_SHEEP_PROTO_VER`, sheepdog 1.0).
pub const PEER_COMPAT: Version = SD_SHEEP_PROTO_VER as Version;
/// First peer protocol version whose obj arms carry `payload_crc32c`:
/// CREATE_AND_WRITE_PEER / WRITE_PEER requests the CRC32C of their payload,
/// READ_PEER answers the CRC32C of theirs.
pub const PEER_CRC_VERSION: u8 = 0x0b;
/// Admin protocol version (`SD_SHEEP_PROTO_VER`).
pub const ADMIN_VERSION: Version = SD_SHEEP_PROTO_VER as Version;
/// Oldest admin protocol version accepted.
pub const ADMIN_COMPAT: Version = SD_SHEEP_PROTO_VER as Version;

/// Public (client) operations: QEMU, tgt, libsheepdog and dog (docs/sheepdog-facts.md §4.1).
///
/// # Format
/// Tag = `hdr.opcode` (byte 1), range 0x00..=0x7f; body = the 32-byte union at offset 16.
#[derive(Wire, Clone, Copy, PartialEq, Eq, Debug)]
#[wire(tag = u8, range = 0x00..=0x7f, version = 2, compat = 0, handler = ClientHandler)]
pub enum ClientOp {
    /// CREATE_AND_WRITE_OBJ (0x01, gateway): create an object and write the payload at obj.offset.
    #[wire(opcode = 0x01)]
    CreateAndWriteObj(ObjReq),
    /// READ_OBJ (0x02, gateway): read `data_length` bytes at obj.offset.
    #[wire(opcode = 0x02)]
    ReadObj(ObjReq),
    /// WRITE_OBJ (0x03, gateway): write the payload at obj.offset of an existing object.
    #[wire(opcode = 0x03)]
    WriteObj(ObjReq),
    /// REMOVE_OBJ (0x04, gateway): remove an object (fans out REMOVE_PEER).
    #[wire(opcode = 0x04)]
    RemoveObj(ObjReq),
    /// DISCARD_OBJ (0x05, local): punch/discard.
    #[wire(opcode = 0x05)]
    DiscardObj(ObjReq),
    /// NEW_VDI (0x11, cluster): create a VDI; payload = name (256 B).
    #[wire(opcode = 0x11)]
    NewVdi(VdiReq),
    /// LOCK_VDI (0x12, cluster): lock a VDI; payload = name (256 B).
    #[wire(opcode = 0x12)]
    LockVdi(VdiReq),
    /// RELEASE_VDI (0x13, cluster): release the lock of vid `base_vdi_id`.
    #[wire(opcode = 0x13)]
    ReleaseVdi(VdiReq),
    /// GET_VDI_INFO (0x14, cluster): look a VDI up; payload = name + tag (512 B).
    #[wire(opcode = 0x14)]
    GetVdiInfo(VdiReq),
    /// READ_VDIS (0x15, local): the in-use vid bitmap (2 MiB).
    #[wire(opcode = 0x15)]
    ReadVdis(NoArgs),
    /// FLUSH_VDI (0x16, local): obsolete flush.
    #[wire(opcode = 0x16)]
    FlushVdi(ObjReq),
    /// DEL_VDI (0x17, cluster): delete a VDI; payload = name + tag (512 B).
    #[wire(opcode = 0x17)]
    DelVdi(VdiReq),
    /// GET_CLUSTER_DEFAULT (0x18, local): defaults in rsp.cluster_default.
    #[wire(opcode = 0x18)]
    GetClusterDefault(NoArgs),
}

/// Sheep -> sheep operations (docs/sheepdog-facts.md §4.2.2 and the sheep-to-sheep local ops of §4.2.1).
///
/// # Format
/// Tag = `hdr.opcode`, range 0x80..=0xff; body = the 32-byte union at offset 16.
#[derive(Wire, Clone, Copy, PartialEq, Eq, Debug)]
#[wire(tag = u8, range = 0x80..=0xff, version = 0x0b, compat = 0x0a, handler = PeerHandler)]
pub enum PeerOp {
    /// NOTIFY_VDI_DEL (0x99, cluster): a sheep announces a deleted vid.
    #[wire(opcode = 0x99)]
    NotifyVdiDel(RawArgs),
    /// GET_OBJ_LIST (0xA1, local): oids stored for an epoch (recovery); reply = u64 oids.
    #[wire(opcode = 0xA1)]
    GetObjList(ObjReq),
    /// GET_EPOCH (0xA2, local): node list of obj.tgt_epoch.
    #[wire(opcode = 0xA2)]
    GetEpoch(ObjReq),
    /// CREATE_AND_WRITE_PEER (0xA3, peer): forwarded create; obj.ec_index = replica index.
    #[wire(opcode = 0xA3)]
    CreateAndWritePeer(ObjReq),
    /// READ_PEER (0xA4, peer): forwarded read (flag RECOVERY for recovery fetches).
    #[wire(opcode = 0xA4)]
    ReadPeer(ObjReq),
    /// WRITE_PEER (0xA5, peer): forwarded write.
    #[wire(opcode = 0xA5)]
    WritePeer(ObjReq),
    /// REMOVE_PEER (0xA6, peer): forwarded remove.
    #[wire(opcode = 0xA6)]
    RemovePeer(ObjReq),
    /// GET_VDI_COPIES (0xAB, local): vdi states, exchanged at join; reply = vdi_state[].
    #[wire(opcode = 0xAB)]
    GetVdiCopies(NoArgs),
    /// COMPLETE_RECOVERY (0xAC, cluster): a sheep announces its recovery finished.
    #[wire(opcode = 0xAC)]
    CompleteRecovery(NoArgs),
    /// FLUSH_PEER (0xAE): defined without a handler (INVALID_PARMS).
    #[wire(opcode = 0xAE)]
    FlushPeer(RawArgs),
    /// NOTIFY_VDI_ADD (0xAF, cluster): a sheep announces a new vdi state.
    #[wire(opcode = 0xAF)]
    NotifyVdiAdd(VdiStateReq),
    /// DECREF_OBJ (0xC1, gateway): sheep-generated reference decrement (flag FWD).
    #[wire(opcode = 0xC1)]
    DecrefObj(RefReq),
    /// DECREF_PEER (0xC2, peer): forwarded reference decrement on a ledger object.
    #[wire(opcode = 0xC2)]
    DecrefPeer(RefReq),
    /// VDI_STATE_CHECKPOINT_CTL (0xC7, local): get/free a vdi state checkpoint.
    #[wire(opcode = 0xC7)]
    VdiStateCheckpointCtl(VdiStateCheckpointReq),
}

/// Dog (admin client) -> sheep operations (docs/sheepdog-facts.md §4.2.1).
///
/// # Format
/// Tag = `hdr.opcode`, range 0x80..=0xff; body = the 32-byte union at offset 16.
#[derive(Wire, Clone, Copy, PartialEq, Eq, Debug)]
#[wire(tag = u8, range = 0x80..=0xff, version = 0x0a, compat = 0x0a, handler = AdminHandler)]
pub enum AdminOp {
    /// GET_NODE_LIST (0x82, local): reply = nr_nodes x sd_node.
    #[wire(opcode = 0x82)]
    GetNodeList(NoArgs),
    /// MAKE_FS (0x84, cluster): format; payload = store name with NUL.
    #[wire(opcode = 0x84)]
    MakeFs(ClusterReq),
    /// SHUTDOWN (0x85, cluster): stop the cluster.
    #[wire(opcode = 0x85)]
    Shutdown(NoArgs),
    /// STAT_SHEEP (0x86, local): store size/free in rsp.node.
    #[wire(opcode = 0x86)]
    StatSheep(NoArgs),
    /// STAT_CLUSTER (0x87, local): reply = epoch records (epoch_log + nodes_nr sd_nodes).
    #[wire(opcode = 0x87)]
    StatCluster(ClusterReq),
    /// GET_VDI_ATTR (0x89, cluster): payload = sheepdog_vdi_attr; flags CREAT/EXCL/DEL.
    #[wire(opcode = 0x89)]
    GetVdiAttr(VdiReq),
    /// FORCE_RECOVER (0x8A, cluster).
    #[wire(opcode = 0x8A)]
    ForceRecover(NoArgs),
    /// GET_STORE_LIST (0x90, local): backend store names.
    #[wire(opcode = 0x90)]
    GetStoreList(NoArgs),
    /// SNAPSHOT (0x91): defined without a handler (INVALID_PARMS, probed).
    #[wire(opcode = 0x91)]
    Snapshot(RawArgs),
    /// RESTORE (0x92): defined without a handler.
    #[wire(opcode = 0x92)]
    Restore(RawArgs),
    /// GET_SNAP_FILE (0x93): defined without a handler.
    #[wire(opcode = 0x93)]
    GetSnapFile(RawArgs),
    /// CLEANUP (0x94, cluster).
    #[wire(opcode = 0x94)]
    Cleanup(NoArgs),
    /// TRACE_STATUS (0x95, local).
    #[wire(opcode = 0x95)]
    TraceStatus(NoArgs),
    /// TRACE_READ_BUF (0x96, local).
    #[wire(opcode = 0x96)]
    TraceReadBuf(NoArgs),
    /// STAT_RECOVERY (0x97, local): reply = recovery_state (24 B).
    #[wire(opcode = 0x97)]
    StatRecovery(NoArgs),
    /// FLUSH_DEL_CACHE (0x98, local).
    #[wire(opcode = 0x98)]
    FlushDelCache(NoArgs),
    /// KILL_NODE (0x9A, local).
    #[wire(opcode = 0x9A)]
    KillNode(NoArgs),
    /// TRACE_ENABLE (0x9B, local).
    #[wire(opcode = 0x9B)]
    TraceEnable(NoArgs),
    /// TRACE_DISABLE (0x9C, local).
    #[wire(opcode = 0x9C)]
    TraceDisable(NoArgs),
    /// ENABLE_RECOVER (0xA8, cluster).
    #[wire(opcode = 0xA8)]
    EnableRecover(NoArgs),
    /// DISABLE_RECOVER (0xA9, cluster).
    #[wire(opcode = 0xA9)]
    DisableRecover(NoArgs),
    /// FLUSH_NODES (0xAD): defined without a handler.
    #[wire(opcode = 0xAD)]
    FlushNodes(RawArgs),
    /// DELETE_CACHE (0xB0, cluster): obsolete.
    #[wire(opcode = 0xB0)]
    DeleteCache(ObjReq),
    /// MD_INFO (0xB1, local).
    #[wire(opcode = 0xB1)]
    MdInfo(NoArgs),
    /// MD_PLUG (0xB2, local).
    #[wire(opcode = 0xB2)]
    MdPlug(NoArgs),
    /// MD_UNPLUG (0xB3, local).
    #[wire(opcode = 0xB3)]
    MdUnplug(NoArgs),
    /// GET_HASH (0xB4, local): obj.oid + obj.tgt_epoch -> rsp.hash.digest (dog `vdi check`).
    #[wire(opcode = 0xB4)]
    GetHash(ObjReq),
    /// REWEIGHT (0xB5, cluster).
    #[wire(opcode = 0xB5)]
    Reweight(NoArgs),
    /// GET_CACHE_INFO (0xB6): obsolete, no handler.
    #[wire(opcode = 0xB6)]
    GetCacheInfo(RawArgs),
    /// CACHE_PURGE (0xB7): obsolete, no handler.
    #[wire(opcode = 0xB7)]
    CachePurge(RawArgs),
    /// STAT (0xB8, local): reply = sd_stat (120 B).
    #[wire(opcode = 0xB8)]
    Stat(NoArgs),
    /// GET_LOGLEVEL (0xB9, local).
    #[wire(opcode = 0xB9)]
    GetLoglevel(NoArgs),
    /// SET_LOGLEVEL (0xBA, local).
    #[wire(opcode = 0xBA)]
    SetLoglevel(NoArgs),
    /// NFS_CREATE (0xBB, local).
    #[wire(opcode = 0xBB)]
    NfsCreate(NoArgs),
    /// NFS_DELETE (0xBC, local).
    #[wire(opcode = 0xBC)]
    NfsDelete(NoArgs),
    /// EXIST (0xBD, local): whether obj.oid exists here.
    #[wire(opcode = 0xBD)]
    Exist(ObjReq),
    /// CLUSTER_INFO (0xBE, local): reply = cluster_info (491,568 B).
    #[wire(opcode = 0xBE)]
    ClusterInfo(NoArgs),
    /// ALTER_CLUSTER_COPY (0xBF, cluster).
    #[wire(opcode = 0xBF)]
    AlterClusterCopy(ClusterReq),
    /// ALTER_VDI_COPY (0xC0, cluster).
    #[wire(opcode = 0xC0)]
    AlterVdiCopy(VdiStateReq),
    /// PREVENT_INODE_UPDATE (0xC3): obsolete, no handler.
    #[wire(opcode = 0xC3)]
    PreventInodeUpdate(RawArgs),
    /// ALLOW_INODE_UPDATE (0xC4): obsolete, no handler.
    #[wire(opcode = 0xC4)]
    AllowInodeUpdate(RawArgs),
    /// REPAIR_REPLICA (0xC5, local): copy oid from the node in `forw`.
    #[wire(opcode = 0xC5)]
    RepairReplica(ForwReq),
    /// OIDS_EXIST (0xC6, local): WRITE+PIGGYBACK u64 oids in, missing oids out.
    #[wire(opcode = 0xC6)]
    OidsExist(RawArgs),
    /// INODE_COHERENCE (0xC8, cluster): validate/invalidate an inode (tgt multipath).
    #[wire(opcode = 0xC8)]
    InodeCoherence(InodeCoherenceReq),
    /// READ_DEL_VDIS (0xC9, local): the deleted-vid bitmap (2 MiB).
    #[wire(opcode = 0xC9)]
    ReadDelVdis(NoArgs),
    /// GET_RECOVERY (0xCA, local).
    #[wire(opcode = 0xCA)]
    GetRecovery(NoArgs),
    /// SET_RECOVERY (0xCB, local).
    #[wire(opcode = 0xCB)]
    SetRecovery(NoArgs),
    /// SET_VNODES (0xCC, local).
    #[wire(opcode = 0xCC)]
    SetVnodes(NoArgs),
    /// GET_VNODES (0xCD, local).
    #[wire(opcode = 0xCD)]
    GetVnodes(NoArgs),
}

/// Opcodes sheepdog 1.0 defines but has no handler for: they decode, and a
/// server answers them `INVALID_PARMS` (docs/sheepdog-facts.md §4.2.1).
pub const OPCODES_WITHOUT_HANDLER: &[u8] = &[0x91, 0x92, 0x93, 0xAD, 0xAE, 0xB6, 0xB7, 0xC3, 0xC4];

/// Whether the C server has a handler for `opcode` (false for unknown opcodes
/// and for [`OPCODES_WITHOUT_HANDLER`]).
pub fn has_c_handler(opcode: u8) -> bool {
    classify(opcode).is_some() && !OPCODES_WITHOUT_HANDLER.contains(&opcode)
}

/// One of the three protocols sharing the sheepdog framing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Protocol {
    /// Public ops (< 0x80): [`ClientOp`].
    Client,
    /// Sheep -> sheep: [`PeerOp`].
    Peer,
    /// Dog -> sheep: [`AdminOp`].
    Admin,
}

impl Protocol {
    /// Every protocol.
    pub const ALL: [Protocol; 3] = [Protocol::Client, Protocol::Peer, Protocol::Admin];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Client => "client",
            Protocol::Peer => "peer",
            Protocol::Admin => "admin",
        }
    }

    /// The protocol's current version.
    pub fn version(self) -> Version {
        match self {
            Protocol::Client => CLIENT_VERSION,
            Protocol::Peer => PEER_VERSION,
            Protocol::Admin => ADMIN_VERSION,
        }
    }

    /// The oldest version accepted.
    pub fn compat(self) -> Version {
        match self {
            Protocol::Client => CLIENT_COMPAT,
            Protocol::Peer => PEER_COMPAT,
            Protocol::Admin => ADMIN_COMPAT,
        }
    }

    /// Whether a request of this protocol with `proto_ver` is accepted.
    pub fn accepts_version(self, proto_ver: u8) -> bool {
        let v = Version::from(proto_ver);
        self.compat() <= v && v <= self.version()
    }

    /// The version a message of this protocol stamped `proto_ver` is
    /// decoded and encoded at. The peer protocol speaks the header's
    /// version when it accepts it, else its oldest (the C layout); the
    /// client and admin protocols always use their current version (their
    /// arms are the same at every version they accept).
    pub fn wire_version(self, proto_ver: u8) -> Version {
        match self {
            Protocol::Peer if self.accepts_version(proto_ver) => Version::from(proto_ver),
            Protocol::Peer => PEER_COMPAT,
            p => p.version(),
        }
    }

    /// The opcode table of the protocol.
    pub fn ops(self) -> &'static [sdwire::OpInfo] {
        match self {
            Protocol::Client => ClientOp::OPS,
            Protocol::Peer => PeerOp::OPS,
            Protocol::Admin => AdminOp::OPS,
        }
    }

    /// The layout table of the protocol's op enum.
    pub fn layout(self) -> &'static sdwire::Layout {
        match self {
            Protocol::Client => ClientOp::LAYOUT,
            Protocol::Peer => PeerOp::LAYOUT,
            Protocol::Admin => AdminOp::LAYOUT,
        }
    }
}

/// The protocol an opcode belongs to, or `None` if no table defines it.
pub fn classify(opcode: u8) -> Option<Protocol> {
    if ClientOp::op_info(opcode).is_some() {
        Some(Protocol::Client)
    } else if PeerOp::op_info(opcode).is_some() {
        Some(Protocol::Peer)
    } else if AdminOp::op_info(opcode).is_some() {
        Some(Protocol::Admin)
    } else {
        None
    }
}

/// The C name of an opcode (e.g. `"READ_OBJ"`), or `None` if unknown.
pub fn op_name(opcode: u8) -> Option<&'static str> {
    let info = ClientOp::op_info(opcode)
        .or_else(|| PeerOp::op_info(opcode))
        .or_else(|| AdminOp::op_info(opcode))?;
    // The doc comment starts with the C name.
    info.doc.split_whitespace().next()
}

/// A decoded request: the op of one of the three protocols with its union arm.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Request {
    /// A public op.
    Client(ClientOp),
    /// A sheep -> sheep op.
    Peer(PeerOp),
    /// A dog -> sheep op.
    Admin(AdminOp),
}

/// Why a request header did not decode into a [`Request`].
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The proto_ver is not accepted for this opcode (answer VER_MISMATCH).
    #[error("protocol version {proto_ver:#04x} not accepted for opcode {opcode:#04x}")]
    VersionMismatch {
        /// The opcode.
        opcode: u8,
        /// The version sent.
        proto_ver: u8,
    },
    /// No table defines the opcode (answer INVALID_PARMS).
    #[error("unknown opcode {0:#04x}")]
    UnknownOpcode(u8),
    /// The union did not decode.
    #[error("opcode {opcode:#04x}: {source}")]
    Decode {
        /// The opcode.
        opcode: u8,
        /// The error.
        source: sdwire::DecodeError,
    },
}

/// Decodes a request as the C server would judge it: version check first
/// (docs/sheepdog-facts.md §8, with the peer window `0x0a..=0x0b`), then the opcode lookup.
///
/// # Errors
/// [`RequestError::VersionMismatch`], [`RequestError::UnknownOpcode`] or a union decode error.
pub fn decode_request(hdr: &ReqHeader) -> Result<Request, RequestError> {
    if !accepts_version(hdr.opcode, hdr.proto_ver) {
        return Err(RequestError::VersionMismatch {
            opcode: hdr.opcode,
            proto_ver: hdr.proto_ver,
        });
    }
    decode_op(hdr)
}

/// Decodes the opcode and union without checking proto_ver (each protocol's
/// union is decoded at [`Protocol::wire_version`] of the header's proto_ver).
///
/// # Errors
/// [`RequestError::UnknownOpcode`] or a union decode error.
pub fn decode_op(hdr: &ReqHeader) -> Result<Request, RequestError> {
    let op = hdr.opcode;
    let body = &mut &hdr.body[..];
    let err = |source| RequestError::Decode { opcode: op, source };
    match classify(op) {
        Some(Protocol::Client) => ClientOp::decode_body(op, body, CLIENT_VERSION)
            .map(Request::Client)
            .map_err(err),
        Some(Protocol::Peer) => {
            PeerOp::decode_body(op, body, Protocol::Peer.wire_version(hdr.proto_ver))
                .map(Request::Peer)
                .map_err(err)
        }
        Some(Protocol::Admin) => AdminOp::decode_body(op, body, ADMIN_VERSION)
            .map(Request::Admin)
            .map_err(err),
        None => Err(RequestError::UnknownOpcode(op)),
    }
}

impl Request {
    /// The opcode.
    pub fn opcode(&self) -> u8 {
        match self {
            Request::Client(o) => o.tag(),
            Request::Peer(o) => o.tag(),
            Request::Admin(o) => o.tag(),
        }
    }

    /// The protocol.
    pub fn protocol(&self) -> Protocol {
        match self {
            Request::Client(_) => Protocol::Client,
            Request::Peer(_) => Protocol::Peer,
            Request::Admin(_) => Protocol::Admin,
        }
    }

    /// The variant name (e.g. `"ReadObj"`).
    pub fn op_name(&self) -> &'static str {
        match self {
            Request::Client(o) => o.op_name(),
            Request::Peer(o) => o.op_name(),
            Request::Admin(o) => o.op_name(),
        }
    }

    /// The oldest proto_ver that carries this request whole: the one
    /// [`ReqHeader::new`] stamps for its opcode (0x0a for peer ops, what
    /// sheepdog 1.0 speaks), or the protocol's newest version when the
    /// request holds a field the older one lacks (a peer 0x0b payload CRC).
    pub fn min_proto_ver(&self) -> u8 {
        let old = proto_ver_for(self.opcode());
        if self.body_at(old).is_ok() {
            old
        } else {
            u8::try_from(self.protocol().version()).unwrap_or(old)
        }
    }

    /// The 32 union bytes of this request at [`Request::min_proto_ver`].
    pub fn body(&self) -> [u8; 32] {
        self.body_at(self.min_proto_ver())
            .expect("every request encodes at its newest version")
    }

    /// The 32 union bytes of this request for a header stamped `proto_ver`
    /// (see [`Protocol::wire_version`]).
    ///
    /// # Errors
    /// A field the version lacks holds a non-default value (a payload CRC
    /// on a 0x0a peer request).
    pub fn body_at(&self, proto_ver: u8) -> Result<[u8; 32], sdwire::EncodeError> {
        let mut out = [0u8; 32];
        let mut s = &mut out[..];
        let v = self.protocol().wire_version(proto_ver);
        match self {
            Request::Client(o) => o.encode_body(&mut s, v),
            Request::Peer(o) => o.encode_body(&mut s, v),
            Request::Admin(o) => o.encode_body(&mut s, v),
        }?;
        Ok(out)
    }

    /// Writes the opcode and union into `hdr` at its proto_ver, leaving the
    /// other fields alone.
    ///
    /// # Panics
    /// If a field `hdr.proto_ver` lacks holds a non-default value.
    pub fn encode_into(&self, hdr: &mut ReqHeader) {
        hdr.opcode = self.opcode();
        hdr.body = self
            .body_at(hdr.proto_ver)
            .expect("request fields fit the header's version");
    }

    /// A complete header for this request, stamped [`Request::min_proto_ver`]
    /// (the proto_ver of its range unless it needs a newer one).
    pub fn to_header(&self, flags: ReqFlags, data_length: u32) -> ReqHeader {
        let mut h = ReqHeader::new(self.opcode(), flags, data_length);
        h.proto_ver = self.min_proto_ver();
        h.body = self
            .body_at(h.proto_ver)
            .expect("encodes at its minimal version");
        h
    }

    /// A complete header stamped `proto_ver` (a peer link's negotiated
    /// version), its union encoded at that version.
    ///
    /// # Errors
    /// As [`Request::body_at`].
    pub fn to_header_at(
        &self,
        flags: ReqFlags,
        data_length: u32,
        proto_ver: u8,
    ) -> Result<ReqHeader, sdwire::EncodeError> {
        let mut h = ReqHeader::new(self.opcode(), flags, data_length);
        h.proto_ver = proto_ver;
        h.body = self.body_at(proto_ver)?;
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_opcode_in_one_table() {
        let all: Vec<u64> = Protocol::ALL
            .iter()
            .flat_map(|p| p.ops().iter().map(|o| o.opcode))
            .collect();
        let mut sorted = all.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), all.len(), "an opcode is in two tables");
        // docs/sheepdog-facts.md §4: 13 public + 63 internal opcodes.
        assert_eq!(ClientOp::OPS.len(), 13);
        assert_eq!(PeerOp::OPS.len() + AdminOp::OPS.len(), 63);
        for op in OPCODES_WITHOUT_HANDLER {
            assert!(classify(*op).is_some());
            assert!(!has_c_handler(*op));
        }
        assert_eq!(classify(0x7e), None);
        assert_eq!(classify(0xee), None);
        assert_eq!(op_name(0xA4), Some("READ_PEER"));
    }

    #[test]
    fn decode_encode() {
        let mut h = ReqHeader::new(0xA4, ReqFlags::RECOVERY, 4096);
        h.body[0] = 0x25;
        h.body[20] = 3;
        let r = decode_request(&h).unwrap();
        match r {
            Request::Peer(PeerOp::ReadPeer(o)) => assert_eq!((o.oid.0, o.tgt_epoch), (0x25, 3)),
            other => panic!("{other:?}"),
        }
        assert_eq!(r.to_header(ReqFlags::RECOVERY, 4096), h);
        h.proto_ver = 2;
        assert!(matches!(
            decode_request(&h),
            Err(RequestError::VersionMismatch { .. })
        ));
        assert!(decode_op(&h).is_ok());
        assert!(Protocol::Client.accepts_version(0) && !Protocol::Client.accepts_version(3));
        assert!(Protocol::Peer.accepts_version(0x0a) && !Protocol::Admin.accepts_version(0x0b));
        assert!(Protocol::Peer.accepts_version(0x0b) && !Protocol::Peer.accepts_version(0x0c));
    }

    /// A peer request decodes at its header's version: at 0x0b the CRC is
    /// read, at 0x0a the same bytes are reserved; out-of-window versions are
    /// refused by decode_request and read as 0x0a by decode_op.
    #[test]
    fn peer_requests_decode_at_their_version() {
        let op = Request::Peer(PeerOp::WritePeer(ObjReq {
            oid: crate::Oid(0x42),
            payload_crc32c: 0x1234_5678,
            ..ObjReq::default()
        }));
        assert!(op.to_header_at(ReqFlags::WRITE, 4, 0x0a).is_err());
        // to_header picks the oldest version that carries the CRC.
        assert_eq!(op.min_proto_ver(), 0x0b);
        assert_eq!(op.to_header(ReqFlags::WRITE, 4).proto_ver, 0x0b);
        let plain = Request::Peer(PeerOp::WritePeer(ObjReq::default()));
        assert_eq!(plain.to_header(ReqFlags::WRITE, 4).proto_ver, 0x0a);
        let h = op.to_header_at(ReqFlags::WRITE, 4, 0x0b).unwrap();
        assert_eq!(h.proto_ver, 0x0b);
        assert_eq!(h.body[28..], 0x1234_5678u32.to_le_bytes());
        assert_eq!(decode_request(&h).unwrap(), op);
        let mut old = h.clone();
        old.proto_ver = 0x0a;
        match decode_request(&old).unwrap() {
            Request::Peer(PeerOp::WritePeer(a)) => {
                assert_eq!((a.oid.0, a.payload_crc32c), (0x42, 0))
            }
            other => panic!("{other:?}"),
        }
        for v in [0x09, 0x0c] {
            old.proto_ver = v;
            assert!(matches!(
                decode_request(&old),
                Err(RequestError::VersionMismatch { .. })
            ));
            assert!(decode_op(&old).is_ok());
        }
        // Admin ops stay at exactly 0x0a, like the C server.
        let mut a = ReqHeader::new(0xB4, ReqFlags::EMPTY, 0);
        assert!(decode_request(&a).is_ok());
        a.proto_ver = 0x0b;
        assert!(decode_request(&a).is_err());
    }
}
