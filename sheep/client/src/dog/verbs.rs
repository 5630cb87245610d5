//! The verbs: the request sequences of the C dog (checked against the
//! golden traces by `sheep/tests/dog_compat.rs`) and the output.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::os::fd::AsFd;
use std::sync::Arc;

use bytes::Bytes;
use sdwire::Wire;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::splice::{self, Piece};
use super::stdio::{PieceReader, StdinFile, StdoutWriter};
use super::wire::{self, admin, client, decode, encode, send, IndexRun};
use super::{fmt, DogError, Env, Snap};
use crate::payload::Payload;
use crate::proto::cluster_info::{padded, SD_MAX_NODES};
use crate::proto::inode::data_vdi_id_offset;
use crate::proto::oid::{Oid, SD_ATTR_OBJ_SIZE, SD_INODE_DATA_INDEX};
use crate::proto::payload::{
    MakeFsPayload, NodeList, StatClusterReply, VdiBitmap, VdiName, VdiNameTag,
};
use crate::proto::{
    AdminOp, ClientOp, ClusterFlags, ClusterInfo, ClusterReq, EpochLog, Inode as WireInode,
    InodeHeader, NoArgs, ObjReq, RecoveryState, ReqFlags, ReqHeader, RspHeader, SdNode, SdResult,
    VdiAttr, VdiReq,
};
use crate::vdi_io::WritePlan;
use crate::Client;

const WRITE: ReqFlags = ReqFlags::WRITE;
const COW: ReqFlags = ReqFlags::COW;
const DIRECT: ReqFlags = ReqFlags::DIRECT;
const CREAT: ReqFlags = ReqFlags::CREAT;
const EXCL: ReqFlags = ReqFlags::EXCL;
const DEL: ReqFlags = ReqFlags::DEL;
const NONE: ReqFlags = ReqFlags::EMPTY;

/// Request size of pipelined `vdi read`s (measured on loopback against
/// whole 4 MiB objects: 8-16 pieces of 1 MiB in flight read faster than
/// 16-32 whole objects, whose buffers miss the cache and fault pages in).
const READ_PIECE: u64 = 1 << 20;

const NODE_LIST_SIZE: u32 = (SD_MAX_NODES * SdNode::SIZE) as u32;
const EPOCH_LOG_SIZE: usize = match EpochLog::FIXED_SIZE {
    Some(n) => n,
    None => 48,
};
const CLUSTER_INFO_SIZE: u32 = ClusterInfo::SIZE as u32;
const INODE_SIZE: u32 = WireInode::SIZE as u32;
const HDR_SIZE: u32 = InodeHeader::SIZE as u32;
const ATTR_SIZE: usize = SD_ATTR_OBJ_SIZE;

const BITMAP_SIZE: u32 = crate::proto::oid::VDI_BITMAP_SIZE as u32;

fn inode_oid(vid: u32) -> u64 {
    Oid::inode(vid).0
}
fn data_oid(vid: u32, idx: u32) -> u64 {
    Oid::data(vid, idx).0
}
fn attr_oid(vid: u32, id: u32) -> u64 {
    Oid::attr(vid, id).0
}
pub(super) fn obj(oid: u64, offset: u32) -> ObjReq {
    ObjReq {
        oid: Oid(oid),
        offset,
        ..ObjReq::default()
    }
}

/// NEW_VDI payload: the name alone; lookups: name and tag.
fn name_buf(name: &str, tag: Option<&str>) -> Bytes {
    match tag {
        None => encode(&VdiName::new(name.as_bytes())),
        Some(t) => encode(&VdiNameTag::new(name.as_bytes(), t.as_bytes())),
    }
}

/// The offset of a named inode header field, from its wire layout.
fn header_field(name: &str) -> u32 {
    InodeHeader::LAYOUT
        .field(name)
        .and_then(|f| f.offset)
        .unwrap_or_else(|| panic!("InodeHeader field {name}")) as u32
}

/// A node from GET_NODE_LIST.
#[derive(Clone)]
struct Node {
    addr: SocketAddr,
    vnodes: u16,
    zone: u32,
}

impl Node {
    fn from_wire(n: &SdNode) -> Node {
        Node {
            addr: n.socket_addr(),
            vnodes: n.nr_vnodes,
            zone: n.zone,
        }
    }
}

/// The inode header fields the dog uses.
#[derive(Clone)]
struct Inode {
    vid: u32,
    name: String,
    tag: String,
    ctime: u64,
    snap_ctime: u64,
    size: u64,
    copy_policy: u8,
    store_policy: u8,
    copies: u8,
    shift: u8,
    /// block_size_shift as stored (0 = the cluster default).
    raw_shift: u8,
    snap_id: u32,
    parent: u32,
    /// data_vdi_id, as far as it was read, from entry `index_base` on.
    index: Vec<u32>,
    index_base: u32,
}

impl Inode {
    /// The header fields of `h` and the index entries in `index`.
    fn from_header(h: &InodeHeader, index: Vec<u32>) -> Inode {
        Inode {
            vid: h.vdi_id,
            name: String::from_utf8_lossy(h.name_bytes()).into_owned(),
            tag: String::from_utf8_lossy(h.tag_bytes()).into_owned(),
            ctime: h.create_time,
            snap_ctime: h.snap_ctime,
            size: h.vdi_size,
            copy_policy: h.copy_policy,
            store_policy: h.store_policy,
            copies: h.nr_copies,
            shift: if h.block_size_shift == 0 {
                22
            } else {
                h.block_size_shift
            },
            raw_shift: h.block_size_shift,
            snap_id: h.snap_id,
            parent: h.parent_vdi_id,
            index,
            index_base: 0,
        }
    }
    /// An inode header read (a prefix of the inode object).
    fn header(b: &[u8]) -> Result<Inode, DogError> {
        let h: InodeHeader = decode(b, "inode")?;
        Ok(Inode::from_header(&h, Vec::new()))
    }
    /// A whole inode object.
    fn full(b: &[u8]) -> Result<Inode, DogError> {
        let ino: WireInode = decode(b, "inode")?;
        Ok(Inode::from_header(&ino.header, ino.data_vdi_id.to_vec()))
    }
    fn obj_size(&self) -> u64 {
        1 << self.shift
    }
    fn nr_objs(&self) -> u64 {
        self.size.div_ceil(self.obj_size())
    }
    fn owner(&self, idx: u32) -> u32 {
        idx.checked_sub(self.index_base)
            .and_then(|i| self.index.get(i as usize))
            .copied()
            .unwrap_or(0)
    }
}

pub(crate) struct Dog<'a> {
    pub env: &'a mut Env,
    pub gw: SocketAddr,
    pub json: bool,
    pub raw: bool,
    pub inflight: usize,
    /// Pipelined `vdi read` / `vdi write` move payloads with splice /
    /// sendfile instead of through memory.
    pub zero_copy: bool,
}

fn stdout_err(e: std::io::Error) -> DogError {
    DogError::Other(format!("Failed to write to stdout: {e}"))
}

fn stdin_err(e: std::io::Error) -> DogError {
    DogError::Other(format!("Failed to read from stdin: {e}"))
}

async fn call(
    c: &Client,
    h: ReqHeader,
    p: impl Into<Payload>,
    what: &str,
) -> Result<(RspHeader, Bytes), DogError> {
    let (r, b) = send(c, h, p).await.map_err(|e| DogError::client(what, e))?;
    if r.result.is_success() {
        Ok((r, b))
    } else {
        Err(DogError::Sd {
            what: what.to_string(),
            code: r.result.code(),
        })
    }
}

async fn read_obj(
    c: &Client,
    oid: u64,
    off: u32,
    len: u32,
    fl: ReqFlags,
) -> Result<Bytes, DogError> {
    let h = client(ClientOp::ReadObj(obj(oid, off)), fl, len);
    Ok(call(
        c,
        h,
        Bytes::new(),
        &format!("Failed to read object {oid:x}"),
    )
    .await?
    .1)
}

#[allow(clippy::too_many_arguments)]
async fn write_obj(
    c: &Client,
    op: fn(ObjReq) -> ClientOp,
    oid: u64,
    cow: u64,
    off: u32,
    data: impl Into<Payload>,
    fl: ReqFlags,
    copies: u8,
    policy: u8,
) -> Result<(), DogError> {
    let a = ObjReq {
        cow_oid: Oid(cow),
        copies,
        copy_policy: policy,
        ..obj(oid, off)
    };
    let data = data.into();
    let h = client(op(a), WRITE | fl, data.len() as u32);
    call(c, h, data, &format!("Failed to write object {oid:x}"))
        .await
        .map(|_| ())
}

/// Writes one piece of object `idx` the way the C dog does: WRITE_OBJ into
/// an object the VDI owns, else CREATE_AND_WRITE_OBJ (COW from the owner)
/// followed by the 4-byte index update in the inode.
///
/// With `defer_index` the index update is left to the caller (see
/// [`write_index_runs`]); returns whether the object was created.
async fn write_piece(
    c: &Client,
    ino: &Inode,
    idx: u32,
    off: u32,
    data: Payload,
) -> Result<(), DogError> {
    if write_piece_data(c, ino, idx, off, data).await? {
        write_index_runs(c, ino, &[idx]).await?;
    }
    Ok(())
}

/// The data half of [`write_piece`]: true when the object was created and
/// its index entry still has to point at the VDI.
async fn write_piece_data(
    c: &Client,
    ino: &Inode,
    idx: u32,
    off: u32,
    data: Payload,
) -> Result<bool, DogError> {
    let (cp, pol) = (ino.copies, ino.copy_policy);
    match WritePlan::new(ino.vid, idx, ino.owner(idx)) {
        WritePlan::InPlace { oid } => {
            write_obj(c, ClientOp::WriteObj, oid, 0, off, data, NONE, cp, pol).await?;
            Ok(false)
        }
        WritePlan::Create { oid, cow } => {
            let fl = if cow.is_some() { COW } else { NONE };
            let create = ClientOp::CreateAndWriteObj;
            let cow = cow.unwrap_or(0);
            write_obj(c, create, oid, cow, off, data, fl, cp, pol).await?;
            Ok(true)
        }
    }
}

/// Points the index entries `idxs` (ascending) at the VDI: one WRITE_OBJ
/// into the inode per run of consecutive entries (the C dog's 4-byte
/// update when there is one).
async fn write_index_runs(c: &Client, ino: &Inode, idxs: &[u32]) -> Result<(), DogError> {
    let mut i = 0;
    while i < idxs.len() {
        let mut j = i + 1;
        while j < idxs.len() && idxs[j] == idxs[j - 1] + 1 {
            j += 1;
        }
        let ioff = data_vdi_id_offset(idxs[i]) as u32;
        let v = wire::index_run_bytes(vec![ino.vid; j - i]);
        let (cp, pol) = (ino.copies, ino.copy_policy);
        let iw = ClientOp::WriteObj;
        write_obj(c, iw, inode_oid(ino.vid), 0, ioff, v, NONE, cp, pol).await?;
        i = j;
    }
    Ok(())
}

fn progress(on: bool, total: u64) -> indicatif::ProgressBar {
    if !on {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(total);
    if let Ok(s) = indicatif::ProgressStyle::with_template(
        "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        pb.set_style(s);
    }
    pb
}

/// `cluster` and `node` verbs.
mod cluster;
/// `vdi read` and `vdi write`: the data transfers.
mod transfer;
/// `vdi create`, `list`, `delete`, `snapshot`, `clone`, `resize`.
mod vdi;

impl Dog<'_> {
    async fn conn(&self, addr: SocketAddr) -> Result<Client, DogError> {
        let t = (self.env.connect)(addr);
        Client::connect(&t)
            .await
            .map_err(|e| DogError::Conn(format!("Failed to connect to {addr}: {e}")))
    }

    async fn out(&mut self, s: &str) -> Result<(), DogError> {
        self.env
            .stdout
            .write_all(s.as_bytes())
            .await
            .map_err(|e| DogError::Other(format!("Failed to write output: {e}")))
    }

    async fn out_json(&mut self, v: serde_json::Value) -> Result<(), DogError> {
        let s = format!("{v:#}\n");
        self.out(&s).await
    }

    /// GET_NODE_LIST then STAT_CLUSTER (48 bytes): what the C dog sends
    /// before every command that needs the node list.
    async fn nodes(&self, c: &Client) -> Result<(Vec<Node>, u32), DogError> {
        let h = admin(
            AdminOp::GetNodeList(NoArgs::default()),
            NONE,
            NODE_LIST_SIZE,
        );
        let (r, p) = call(c, h, Bytes::new(), "Failed to get node list").await?;
        let list: NodeList = decode(&p, "Failed to get node list")?;
        let nodes = list.nodes.iter().map(Node::from_wire).collect();
        let stat = AdminOp::StatCluster(ClusterReq::default());
        let h = admin(stat, NONE, EPOCH_LOG_SIZE as u32);
        send(c, h, Bytes::new())
            .await
            .map_err(|e| DogError::client("Failed to get cluster status", e))?;
        Ok((nodes, r.epoch))
    }

    /// GET_VDI_INFO: name, tag, snapid → vid.
    async fn find(&self, c: &Client, name: &str, s: &Snap) -> Result<u32, DogError> {
        let a = VdiReq {
            snapid: s.id,
            ..VdiReq::default()
        };
        let h = client(ClientOp::GetVdiInfo(a), NONE, 0);
        let what = if s.id == 0 && s.tag.is_empty() {
            format!("Failed to open VDI {name}")
        } else {
            format!(
                "Failed to open VDI {name} (snapshot id: {} snapshot tag: {})",
                s.id, s.tag
            )
        };
        let (r, _) = call(c, h, name_buf(name, Some(&s.tag)), &what).await?;
        Ok(wire::vdi_rsp(&r).vdi_id)
    }

    async fn bitmaps(&self, c: &Client) -> Result<Vec<u32>, DogError> {
        let h = client(ClientOp::ReadVdis(NoArgs::default()), NONE, BITMAP_SIZE);
        let (_, inuse) = call(c, h, Bytes::new(), "Failed to read VDIs").await?;
        let inuse: VdiBitmap = decode(&inuse, "Failed to read VDIs")?;
        let h = admin(AdminOp::ReadDelVdis(NoArgs::default()), NONE, BITMAP_SIZE);
        let (_, del) = call(c, h, Bytes::new(), "Failed to read deleted VDIs").await?;
        let del: VdiBitmap = decode(&del, "Failed to read deleted VDIs")?;
        Ok(inuse.iter().filter(|&v| !del.test(v)).collect())
    }

    /// All live inodes: header (4672 bytes) plus the used index.
    async fn all_vdis(&self, c: &Client) -> Result<Vec<Inode>, DogError> {
        let mut out = Vec::new();
        for vid in self.bitmaps(c).await? {
            let b = read_obj(c, inode_oid(vid), 0, HDR_SIZE + 8, DIRECT).await?;
            let mut ino = Inode::header(&b)?;
            if ino.name.is_empty() {
                continue;
            }
            ino.vid = vid;
            if ino.store_policy == 0 && ino.nr_objs() > 0 {
                let n = ino.nr_objs() as u32;
                let at = data_vdi_id_offset(0) as u32;
                let len = (data_vdi_id_offset(n) - data_vdi_id_offset(0)) as u32;
                let idx = read_obj(c, inode_oid(vid), at, len, DIRECT).await?;
                ino.index = decode::<IndexRun>(&idx, "index")?.vids();
            }
            out.push(ino);
        }
        Ok(out)
    }

    async fn attr(
        &self,
        c: &Client,
        name: &str,
        s: &Snap,
        key: &str,
        value: Option<&[u8]>,
        fl: ReqFlags,
    ) -> Result<(RspHeader, u32), DogError> {
        let c255 = |v: &str| padded::<256>(&v.as_bytes()[..v.len().min(255)]);
        let mut a = VdiAttr {
            name: c255(name),
            tag: c255(&s.tag),
            snap_id: s.id,
            key: c255(key),
            ..VdiAttr::default()
        };
        if let Some(v) = value {
            if v.len() > a.value.len() {
                return Err(DogError::Usage("Attribute value is too long".into()));
            }
            a.value_len = v.len() as u32;
            a.value[..v.len()].copy_from_slice(v);
        }
        let va = VdiReq {
            snapid: s.id,
            ..VdiReq::default()
        };
        let h = admin(AdminOp::GetVdiAttr(va), fl, 0);
        let (r, _) = call(
            c,
            h,
            encode(&a),
            &format!("Failed to access attribute '{key}' of {name}"),
        )
        .await?;
        let oid_id = wire::vdi_rsp(&r).attr_id;
        Ok((r, oid_id))
    }

    pub(crate) async fn vdi_setattr(
        &mut self,
        name: &str,
        s: &Snap,
        key: &str,
        value: Option<String>,
        delete: bool,
        excl: bool,
    ) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        if delete {
            self.attr(&c, name, s, key, None, WRITE | DEL).await?;
            return Ok(());
        }
        let v = match value {
            Some(v) => v.into_bytes(),
            None => {
                let mut v = Vec::new();
                self.env
                    .stdin
                    .read_to_end(&mut v)
                    .await
                    .map_err(|e| DogError::Other(format!("Failed to read from stdin: {e}")))?;
                v
            }
        };
        let fl = WRITE | CREAT | if excl { EXCL } else { NONE };
        self.attr(&c, name, s, key, Some(&v), fl).await?;
        Ok(())
    }

    pub(crate) async fn vdi_getattr(
        &mut self,
        name: &str,
        s: &Snap,
        key: &str,
    ) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let (r, id) = self.attr(&c, name, s, key, None, WRITE).await?;
        let vid = wire::vdi_rsp(&r).vdi_id;
        let b = read_obj(&c, attr_oid(vid, id), 0, ATTR_SIZE as u32, NONE).await?;
        let at: VdiAttr = decode(&b, "Failed to read the attribute")?;
        let n = (at.value_len as usize).min(at.value.len());
        let v = at.value[..n].to_vec();
        if self.json {
            return self
                .out_json(json!({"key": key, "value": String::from_utf8_lossy(&v)}))
                .await;
        }
        self.env
            .stdout
            .write_all(&v)
            .await
            .map_err(|e| DogError::Other(format!("Failed to write to stdout: {e}")))
    }

    pub(crate) async fn vdi_check(&mut self, name: &str, s: &Snap) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let (nodes, _) = self.nodes(&c).await?;
        let vid = self.find(&c, name, s).await?;
        let b = read_obj(&c, inode_oid(vid), 0, INODE_SIZE, DIRECT).await?;
        let ino = Inode::full(&b)?;
        let mut conns = Vec::new();
        for n in &nodes {
            conns.push((n.addr, self.conn(n.addr).await?));
        }
        let (mut checked, mut repaired, mut missing) = (0u64, 0u64, 0u64);
        let mut oids = vec![inode_oid(vid)];
        for idx in 0..ino.nr_objs() as u32 {
            let owner = ino.owner(idx);
            if owner == vid {
                oids.push(data_oid(owner, idx));
            }
        }
        for oid in oids {
            let mut hashes: BTreeMap<Vec<u8>, Vec<usize>> = BTreeMap::new();
            for (i, (_, nc)) in conns.iter().enumerate() {
                let h = admin(AdminOp::GetHash(obj(oid, 0)), NONE, 0);
                let (r, _) = send(nc, h, Bytes::new())
                    .await
                    .map_err(|e| DogError::client("Failed to get object hash", e))?;
                if r.result.is_success() {
                    hashes
                        .entry(wire::hash_rsp(&r).digest.to_vec())
                        .or_default()
                        .push(i);
                }
            }
            checked += 1;
            if hashes.is_empty() {
                missing += 1;
                continue;
            }
            if hashes.len() > 1 {
                // Majority wins; rewrite the object through the gateway.
                let osz = if oid == inode_oid(vid) {
                    INODE_SIZE
                } else {
                    ino.obj_size() as u32
                };
                let data = read_obj(&c, oid, 0, osz, DIRECT).await?;
                write_obj(
                    &c,
                    ClientOp::WriteObj,
                    oid,
                    0,
                    0,
                    data,
                    DIRECT,
                    ino.copies,
                    ino.copy_policy,
                )
                .await?;
                repaired += 1;
            }
        }
        if self.json {
            return self
                .out_json(json!({"vdi": name, "checked": checked, "repaired": repaired, "missing": missing}))
                .await;
        }
        let s = format!("finish check&repair {name} ({checked} objects, {repaired} repaired, {missing} missing)\n");
        self.out(&s).await?;
        if missing > 0 {
            return Err(DogError::Other(format!(
                "{missing} objects of {name} have no replica"
            )));
        }
        Ok(())
    }

    pub(crate) async fn vdi_tree(&mut self) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let vdis = self.all_vdis(&c).await?;
        let by_vid: BTreeMap<u32, &Inode> = vdis.iter().map(|v| (v.vid, v)).collect();
        let mut kids: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        let mut roots = Vec::new();
        for v in &vdis {
            if v.parent != 0 && by_vid.contains_key(&v.parent) {
                kids.entry(v.parent).or_default().push(v.vid);
            } else {
                roots.push(v.vid);
            }
        }
        let label = |v: &Inode| {
            if v.snap_ctime == 0 {
                "(you are here)".to_string()
            } else if !v.tag.is_empty() {
                format!("[{}]", v.tag)
            } else {
                format!("[{}]", fmt::time(v.snap_ctime >> 32, "%Y-%m-%d %H:%M"))
            }
        };
        if self.json {
            let arr: Vec<_> = vdis
                .iter()
                .map(|v| json!({"name": v.name, "vid": v.vid, "parent": v.parent, "snapshot": v.snap_ctime != 0, "tag": v.tag}))
                .collect();
            return self.out_json(arr.into()).await;
        }
        fn walk(
            vid: u32,
            prefix: &str,
            by: &BTreeMap<u32, &Inode>,
            kids: &BTreeMap<u32, Vec<u32>>,
            label: &dyn Fn(&Inode) -> String,
            out: &mut String,
        ) {
            let v = by[&vid];
            let l = label(v);
            out.push_str(&l);
            let ks = kids.get(&vid).cloned().unwrap_or_default();
            let pad = format!("{prefix}{}", " ".repeat(l.len()));
            for (i, k) in ks.iter().enumerate() {
                let last = i + 1 == ks.len();
                if i > 0 {
                    out.push('\n');
                    out.push_str(&pad);
                }
                let conn = if ks.len() == 1 {
                    "---"
                } else if i == 0 {
                    "-+-"
                } else if last {
                    " `-"
                } else {
                    " |-"
                };
                out.push_str(conn);
                let np = format!("{pad}{}", if last { "   " } else { " | " });
                walk(*k, &np, by, kids, label, out);
            }
        }
        let mut s = String::new();
        for r in roots {
            let name = &by_vid[&r].name;
            s.push_str(name);
            s.push_str("---");
            let prefix = " ".repeat(name.len() + 3);
            walk(r, &prefix, &by_vid, &kids, &label, &mut s);
            s.push('\n');
        }
        self.out(&s).await
    }
}

#[cfg(test)]
#[path = "verbs_tests.rs"]
mod tests;
