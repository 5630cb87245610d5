//! Typed request and response payloads, selected by opcode (docs/sheepdog-facts.md §4).
//!
//! [`decode_req_payload`] and [`decode_rsp_payload`] turn the bytes after a
//! header into one typed value; [`ReqPayload::encode`] / [`RspPayload::encode`]
//! give the bytes back.

use super::arms::ClusterReq;
use super::cluster_info::{c_str, ClusterInfo, EpochLog, RecoveryState, SdStat, VdiAttr, VdiState};
use super::header::{ReqHeader, RspHeader};
use super::node::SdNode;
use super::oid::Oid;
use sdwire::bytes::Bytes;
use sdwire::{DecodeError, DecodeErrorKind, Wire};

/// A VDI name: NEW_VDI and LOCK_VDI request payload.
///
/// # Format
/// 256 bytes, NUL-padded. Any other payload length is INVALID_PARMS.
#[derive(Wire, Clone, PartialEq, Eq, Debug)]
#[wire(le, size = 256)]
pub struct VdiName(pub [u8; 256]);

impl VdiName {
    /// A name from bytes (truncated to 256).
    pub fn new(name: &[u8]) -> VdiName {
        VdiName(super::cluster_info::padded(name))
    }
    /// The name up to its first NUL.
    pub fn as_bytes(&self) -> &[u8] {
        c_str(&self.0)
    }
}

/// A VDI name and snapshot tag: GET_VDI_INFO and DEL_VDI request payload.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 256 | name |
/// | 256 | 256 | tag |
#[derive(Wire, Clone, PartialEq, Eq, Debug)]
#[wire(le, size = 512)]
pub struct VdiNameTag {
    /// Name, NUL-padded.
    pub name: [u8; 256],
    /// Tag, NUL-padded.
    pub tag: [u8; 256],
}

impl VdiNameTag {
    /// From name and tag bytes (each truncated to 256).
    pub fn new(name: &[u8], tag: &[u8]) -> VdiNameTag {
        VdiNameTag {
            name: super::cluster_info::padded(name),
            tag: super::cluster_info::padded(tag),
        }
    }
}

/// A list of `sd_node`: GET_NODE_LIST and GET_EPOCH replies.
///
/// # Format
/// `n` x 80 bytes ([`SdNode`]), as many as the payload holds.
#[derive(Wire, Clone, PartialEq, Eq, Default, Debug)]
#[wire(le)]
pub struct NodeList {
    /// The nodes.
    #[wire(rest)]
    pub nodes: Vec<SdNode>,
}

/// A list of object ids: GET_OBJ_LIST reply, OIDS_EXIST request and reply.
///
/// # Format
/// `n` x 8 bytes (little-endian u64), as many as the payload holds.
#[derive(Wire, Clone, PartialEq, Eq, Default, Debug)]
#[wire(le)]
pub struct OidList {
    /// The oids.
    #[wire(rest)]
    pub oids: Vec<Oid>,
}

/// GET_VDI_COPIES reply.
///
/// # Format
/// `n` x 1,428 bytes ([`VdiState`]).
#[derive(Wire, Clone, PartialEq, Eq, Default, Debug)]
#[wire(le)]
pub struct VdiCopies {
    /// The states.
    #[wire(rest)]
    pub states: Vec<VdiState>,
}

/// A vid bitmap: READ_VDIS (in use) and READ_DEL_VDIS (deleted) replies.
///
/// # Format
/// 2^24 bits = 2,097,152 bytes; vid n is byte n/8, bit n%8 (LSB first), which
/// is bit n%64 of little-endian word n/64.
#[derive(Wire, Clone, PartialEq, Eq, Debug)]
#[wire(le, size = 2097152)]
pub struct VdiBitmap {
    /// The bits as little-endian 64-bit words.
    pub words: Box<[u64; 1 << 18]>,
}

impl Default for VdiBitmap {
    fn default() -> Self {
        VdiBitmap {
            words: vec![0u64; 1 << 18]
                .into_boxed_slice()
                .try_into()
                .expect("2^18 words"),
        }
    }
}

impl VdiBitmap {
    /// Whether `vid` is set.
    pub fn test(&self, vid: u32) -> bool {
        let v = (vid & 0xFF_FFFF) as usize;
        self.words[v / 64] & (1 << (v % 64)) != 0
    }
    /// Sets `vid`.
    pub fn set(&mut self, vid: u32) {
        let v = (vid & 0xFF_FFFF) as usize;
        self.words[v / 64] |= 1 << (v % 64);
    }
    /// Clears `vid`.
    pub fn clear(&mut self, vid: u32) {
        let v = (vid & 0xFF_FFFF) as usize;
        self.words[v / 64] &= !(1 << (v % 64));
    }
    /// Every set vid, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(i, &w)| {
            (0..64u32)
                .filter(move |b| w & (1 << b) != 0)
                .map(move |b| i as u32 * 64 + b)
        })
    }
}

/// MAKE_FS request payload: the backend store name.
///
/// # Format
/// The name bytes followed by one NUL (e.g. `"plain\0"`, 6 bytes).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MakeFsPayload {
    /// Store name without the NUL.
    pub store: Vec<u8>,
}

impl MakeFsPayload {
    /// Decodes: the name is everything up to the first NUL (or the end).
    pub fn decode(bytes: &[u8]) -> MakeFsPayload {
        MakeFsPayload {
            store: c_str(bytes).to_vec(),
        }
    }
    /// The name plus NUL.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = self.store.clone();
        v.push(0);
        v
    }
}

/// One STAT_CLUSTER epoch record.
///
/// # Format
/// An [`EpochLog`] (48 B), then `slots` x [`SdNode`] where `slots` is the
/// request's `cluster.nodes_nr`; only `log.nr_nodes` entries are meaningful,
/// the remaining slots are written as zero and ignored when read.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EpochRecord {
    /// The record header.
    pub log: EpochLog,
    /// The meaningful nodes (`log.nr_nodes` of them).
    pub nodes: Vec<SdNode>,
}

/// STAT_CLUSTER reply: epoch records, newest first.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct StatClusterReply {
    /// Node slots per record (the request's `cluster.nodes_nr`).
    pub slots: u32,
    /// The records.
    pub records: Vec<EpochRecord>,
}

impl StatClusterReply {
    /// Decodes records of 48 + `slots` x 80 bytes.
    ///
    /// # Errors
    /// A payload that is not a whole number of records, or `nr_nodes > slots`.
    pub fn decode(bytes: &[u8], slots: u32) -> Result<StatClusterReply, DecodeError> {
        let rec = EpochLog::FIXED_SIZE.unwrap_or(48) + slots as usize * SdNode::SIZE;
        if !bytes.len().is_multiple_of(rec) {
            return Err(DecodeError::new(DecodeErrorKind::Custom(
                "STAT_CLUSTER reply is not a whole number of epoch records",
            )));
        }
        let mut records = Vec::new();
        for chunk in bytes.chunks(rec) {
            let mut s = chunk;
            let log = EpochLog::decode(&mut s, 0)?;
            if log.nr_nodes > slots {
                return Err(DecodeError::new(DecodeErrorKind::LengthTooLarge {
                    len: u64::from(log.nr_nodes),
                    max: u64::from(slots),
                }));
            }
            let mut nodes = Vec::with_capacity(log.nr_nodes as usize);
            for _ in 0..log.nr_nodes {
                nodes.push(SdNode::decode(&mut s, 0)?);
            }
            records.push(EpochRecord { log, nodes });
        }
        Ok(StatClusterReply { slots, records })
    }

    /// Encodes every record with `slots` node slots (`log.nr_nodes` is written as given).
    pub fn encode(&self) -> Vec<u8> {
        let rec = 48 + self.slots as usize * SdNode::SIZE;
        let mut v = Vec::with_capacity(rec * self.records.len());
        for r in &self.records {
            let start = v.len();
            r.log.encode(&mut v, 0).expect("vec grows");
            for n in r.nodes.iter().take(self.slots as usize) {
                n.encode(&mut v, 0).expect("vec grows");
            }
            v.resize(start + rec, 0);
        }
        v
    }
}

/// A request payload, typed by opcode.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum ReqPayload {
    /// No payload (WRITE not set, or zero length).
    None,
    /// Object data (CREATE_AND_WRITE_OBJ, WRITE_OBJ and their `*_PEER` forwards).
    Data(Bytes),
    /// NEW_VDI, LOCK_VDI.
    VdiName(Box<VdiName>),
    /// GET_VDI_INFO, DEL_VDI.
    VdiNameTag(Box<VdiNameTag>),
    /// GET_VDI_ATTR.
    VdiAttr(Box<VdiAttr>),
    /// MAKE_FS.
    MakeFs(MakeFsPayload),
    /// OIDS_EXIST.
    OidList(OidList),
    /// Any other opcode's payload, untyped.
    Raw(Bytes),
}

/// A response payload, typed by opcode.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum RspPayload {
    /// No payload.
    None,
    /// Object data (READ_OBJ, READ_PEER).
    Data(Bytes),
    /// GET_NODE_LIST, GET_EPOCH.
    NodeList(NodeList),
    /// STAT_CLUSTER.
    StatCluster(StatClusterReply),
    /// STAT_RECOVERY.
    RecoveryState(RecoveryState),
    /// READ_VDIS, READ_DEL_VDIS.
    VdiBitmap(Box<VdiBitmap>),
    /// CLUSTER_INFO.
    ClusterInfo(Box<ClusterInfo>),
    /// GET_OBJ_LIST, OIDS_EXIST.
    OidList(OidList),
    /// GET_VDI_COPIES.
    VdiCopies(VdiCopies),
    /// STAT.
    Stat(SdStat),
    /// Any other opcode's payload, untyped.
    Raw(Bytes),
}

/// Why a payload did not decode.
#[derive(Debug, thiserror::Error)]
#[error("payload of opcode {opcode:#04x} ({len} bytes): {source}")]
pub struct PayloadError {
    /// The opcode.
    pub opcode: u8,
    /// Payload length.
    pub len: usize,
    /// The decode error.
    pub source: DecodeError,
}

fn exact<T: Wire>(opcode: u8, bytes: &[u8]) -> Result<T, PayloadError> {
    sdwire::from_slice_exact(bytes, 0).map_err(|source| PayloadError {
        opcode,
        len: bytes.len(),
        source,
    })
}

/// Decodes the payload that followed request `hdr` (only present with WRITE).
///
/// # Errors
/// A payload of the wrong size for its opcode (e.g. NEW_VDI with other than 256 bytes).
pub fn decode_req_payload(
    opcode: u8,
    hdr: &ReqHeader,
    bytes: &[u8],
) -> Result<ReqPayload, PayloadError> {
    if !hdr.has_payload() || bytes.is_empty() {
        return Ok(ReqPayload::None);
    }
    Ok(match opcode {
        0x01 | 0x03 | 0xA3 | 0xA5 => ReqPayload::Data(Bytes::copy_from_slice(bytes)),
        0x11 | 0x12 => ReqPayload::VdiName(Box::new(exact(opcode, bytes)?)),
        0x14 | 0x17 => ReqPayload::VdiNameTag(Box::new(exact(opcode, bytes)?)),
        0x89 => ReqPayload::VdiAttr(Box::new(exact(opcode, bytes)?)),
        0x84 => ReqPayload::MakeFs(MakeFsPayload::decode(bytes)),
        0xC6 => ReqPayload::OidList(exact(opcode, bytes)?),
        _ => ReqPayload::Raw(Bytes::copy_from_slice(bytes)),
    })
}

/// Decodes the payload of response `rsp` to request `req` (opcode `opcode`).
///
/// # Errors
/// A payload that does not fit its opcode's type.
pub fn decode_rsp_payload(
    opcode: u8,
    req: &ReqHeader,
    rsp: &RspHeader,
    bytes: &[u8],
) -> Result<RspPayload, PayloadError> {
    let _ = rsp;
    if bytes.is_empty() {
        return Ok(RspPayload::None);
    }
    Ok(match opcode {
        0x02 | 0xA4 => RspPayload::Data(Bytes::copy_from_slice(bytes)),
        0x82 | 0xA2 => RspPayload::NodeList(exact(opcode, bytes)?),
        0x87 => {
            let slots = sdwire::from_slice::<ClusterReq>(&req.body, 0)
                .map_err(|source| PayloadError {
                    opcode,
                    len: bytes.len(),
                    source,
                })?
                .nodes_nr;
            RspPayload::StatCluster(StatClusterReply::decode(bytes, slots).map_err(|source| {
                PayloadError {
                    opcode,
                    len: bytes.len(),
                    source,
                }
            })?)
        }
        0x97 => RspPayload::RecoveryState(exact(opcode, bytes)?),
        0x15 | 0xC9 => RspPayload::VdiBitmap(Box::new(exact(opcode, bytes)?)),
        0xBE => RspPayload::ClusterInfo(Box::new(exact(opcode, bytes)?)),
        0xA1 | 0xC6 => RspPayload::OidList(exact(opcode, bytes)?),
        0xAB => RspPayload::VdiCopies(exact(opcode, bytes)?),
        0xB8 => RspPayload::Stat(exact(opcode, bytes)?),
        _ => RspPayload::Raw(Bytes::copy_from_slice(bytes)),
    })
}

fn enc<T: Wire>(v: &T) -> Vec<u8> {
    sdwire::to_vec(v, 0).expect("encoding into a Vec cannot run out of room")
}

impl ReqPayload {
    /// The payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            ReqPayload::None => Vec::new(),
            ReqPayload::Data(b) | ReqPayload::Raw(b) => b.to_vec(),
            ReqPayload::VdiName(v) => enc(v.as_ref()),
            ReqPayload::VdiNameTag(v) => enc(v.as_ref()),
            ReqPayload::VdiAttr(v) => enc(v.as_ref()),
            ReqPayload::MakeFs(v) => v.encode(),
            ReqPayload::OidList(v) => enc(v),
        }
    }
}

impl RspPayload {
    /// The payload bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            RspPayload::None => Vec::new(),
            RspPayload::Data(b) | RspPayload::Raw(b) => b.to_vec(),
            RspPayload::NodeList(v) => enc(v),
            RspPayload::StatCluster(v) => v.encode(),
            RspPayload::RecoveryState(v) => enc(v),
            RspPayload::VdiBitmap(v) => enc(v.as_ref()),
            RspPayload::ClusterInfo(v) => enc(v.as_ref()),
            RspPayload::OidList(v) => enc(v),
            RspPayload::VdiCopies(v) => enc(v),
            RspPayload::Stat(v) => enc(v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(VdiName::FIXED_SIZE, Some(256));
        assert_eq!(VdiNameTag::FIXED_SIZE, Some(512));
        assert_eq!(VdiBitmap::FIXED_SIZE, Some(2_097_152));
        assert_eq!(NodeList::FIXED_SIZE, None);
    }

    #[test]
    fn bitmap() {
        let mut b = VdiBitmap::default();
        b.set(0x7c2b25);
        b.set(1);
        let bytes = sdwire::to_vec(&b, 0).unwrap();
        assert_eq!(bytes[0x7c2b25 / 8], 1 << (0x7c2b25 % 8));
        assert_eq!(bytes[0], 2);
        assert_eq!(b.iter().collect::<Vec<_>>(), vec![1, 0x7c2b25]);
        assert!(b.test(1));
        b.clear(1);
        assert!(!b.test(1));
    }

    #[test]
    fn new_vdi_name_must_be_256() {
        let mut h = ReqHeader::new(0x11, super::super::ReqFlags::WRITE, 255);
        assert!(decode_req_payload(0x11, &h, &[0u8; 255]).is_err());
        h.data_length = 256;
        let mut name = [0u8; 256];
        name[..4].copy_from_slice(b"test");
        match decode_req_payload(0x11, &h, &name).unwrap() {
            ReqPayload::VdiName(n) => assert_eq!(n.as_bytes(), b"test"),
            other => panic!("{other:?}"),
        }
        let m = MakeFsPayload::decode(b"plain\0");
        assert_eq!(m.encode(), b"plain\0");
    }
}
