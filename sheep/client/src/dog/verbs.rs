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

const BITMAP_SIZE: u32 = match VdiBitmap::FIXED_SIZE {
    Some(n) => n as u32,
    None => 1 << 21,
};

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

    pub(crate) async fn cluster_format(
        &mut self,
        copies: u8,
        policy: u8,
        flags: ClusterFlags,
        shift: u8,
        store: &str,
        yes: bool,
    ) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let (nodes, _) = self.nodes(&c).await?;
        for n in &nodes {
            let nc = if n.addr == self.gw {
                None
            } else {
                Some(self.conn(n.addr).await?)
            };
            let h = admin(
                AdminOp::ClusterInfo(NoArgs::default()),
                NONE,
                CLUSTER_INFO_SIZE,
            );
            call(
                nc.as_ref().unwrap_or(&c),
                h,
                Bytes::new(),
                &format!("Failed to get cluster info of {}", n.addr),
            )
            .await?;
        }
        let h = client(ClientOp::ReadVdis(NoArgs::default()), NONE, BITMAP_SIZE);
        let (_, inuse) = call(&c, h, Bytes::new(), "Failed to read VDIs").await?;
        let inuse: VdiBitmap = decode(&inuse, "Failed to read VDIs")?;
        if !yes && inuse.iter().next().is_some() {
            eprint!("The cluster has VDIs; formatting destroys them. Type 'yes' to go on: ");
            let mut line = Vec::new();
            let mut b = [0u8; 1];
            while self.env.stdin.read(&mut b).await.unwrap_or(0) == 1 && b[0] != b'\n' {
                line.push(b[0]);
            }
            if String::from_utf8_lossy(&line).trim() != "yes" {
                return Err(DogError::Other("Format cancelled".into()));
            }
        }
        let sb = MakeFsPayload {
            store: store.as_bytes().to_vec(),
        }
        .encode();
        let a = ClusterReq {
            ctime: crate::proto::time::now_ctime(),
            copies,
            copy_policy: policy,
            flags,
            block_size_shift: shift,
            ..ClusterReq::default()
        };
        let h = admin(AdminOp::MakeFs(a), NONE, 0);
        call(&c, h, Bytes::from(sb), "Format failed").await?;
        Ok(())
    }

    pub(crate) async fn cluster_info(&mut self) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let (nodes, epoch) = self.nodes(&c).await?;
        let slots = nodes.len() as u32;
        let rec = EPOCH_LOG_SIZE + nodes.len() * SdNode::SIZE;
        let a = ClusterReq {
            nodes_nr: slots,
            ..ClusterReq::default()
        };
        let h = admin(AdminOp::StatCluster(a), NONE, epoch * rec as u32);
        let (r, p) = send(&c, h, Bytes::new())
            .await
            .map_err(|e| DogError::client("Failed to get cluster status", e))?;
        let status = if r.result.is_success() {
            "running, auto-recovery enabled".to_string()
        } else {
            r.result.description().to_string()
        };
        let mut logs = Vec::new();
        if r.result.is_success() {
            // Whole records only: a short reply keeps the records it has.
            let whole = p.len() - p.len() % rec;
            let reply = StatClusterReply::decode(&p[..whole], slots)
                .map_err(|e| DogError::Other(format!("Failed to get cluster status: {e}")))?;
            for er in reply.records {
                let ns: Vec<Node> = er.nodes.iter().map(Node::from_wire).collect();
                let l = er.log;
                logs.push((l.ctime, l.time, l.epoch, ns, l.nr_copies));
            }
        }
        if self.json {
            let v = json!({
                "status": status,
                "result": r.result.name(),
                "epochs": logs.iter().map(|(ct, t, e, ns, cp)| json!({
                    "ctime": ct >> 32, "time": t, "epoch": e, "copies": cp,
                    "nodes": ns.iter().map(|n| json!({"addr": n.addr.to_string(), "vnodes": n.vnodes})).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            });
            return self.out_json(v).await;
        }
        // Raw (-r), as the C dog: no labels or headers, times in seconds.
        let mut s = if self.raw {
            format!("{status}\n")
        } else {
            format!("Cluster status: {status}\n")
        };
        if let Some((ct, ..)) = logs.first().filter(|_| !self.raw) {
            s += &format!(
                "\nCluster created at {}\n\nEpoch Time           Version [Host:Port:V-Nodes,,,]\n",
                fmt::time(ct >> 32, "%a %b %e %H:%M:%S %Y")
            );
        }
        for (_, t, e, ns, _) in &logs {
            let list: Vec<String> = ns
                .iter()
                .map(|n| format!("{}:{}", n.addr, n.vnodes))
                .collect();
            if self.raw {
                s += &format!("{t} {e} [{}]\n", list.join(", "));
            } else {
                s += &format!(
                    "{} {:6} [{}]\n",
                    fmt::time(*t, "%Y-%m-%d %H:%M:%S"),
                    e,
                    list.join(", ")
                );
            }
        }
        self.out(&s).await
    }

    pub(crate) async fn cluster_shutdown(&mut self) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let h = admin(AdminOp::Shutdown(NoArgs::default()), NONE, 0);
        call(&c, h, Bytes::new(), "Failed to shutdown").await?;
        Ok(())
    }

    pub(crate) async fn node_list(&mut self) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let (nodes, _) = self.nodes(&c).await?;
        if self.json {
            let v: Vec<_> = nodes
                .iter()
                .enumerate()
                .map(|(i, n)| json!({"id": i, "addr": n.addr.to_string(), "vnodes": n.vnodes, "zone": n.zone}))
                .collect();
            return self.out_json(v.into()).await;
        }
        let mut s = String::new();
        if !self.raw {
            s += "  Id   Host:Port         V-Nodes       Zone\n";
        }
        for (i, n) in nodes.iter().enumerate() {
            if self.raw {
                s += &format!("{i} {} {} {}\n", n.addr, n.vnodes, n.zone);
            } else {
                s += &format!(
                    "{i:4}   {:<20}\t{:2}{:11}\n",
                    n.addr.to_string(),
                    n.vnodes,
                    n.zone
                );
            }
        }
        self.out(&s).await
    }

    pub(crate) async fn node_info(&mut self) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let (nodes, _) = self.nodes(&c).await?;
        let mut rows = Vec::new();
        for n in &nodes {
            let nc = if n.addr == self.gw {
                None
            } else {
                Some(self.conn(n.addr).await?)
            };
            let (r, _) = call(
                nc.as_ref().unwrap_or(&c),
                admin(AdminOp::StatSheep(NoArgs::default()), NONE, 0),
                Bytes::new(),
                &format!("Failed to get node info of {}", n.addr),
            )
            .await?;
            let n = wire::node_rsp(&r);
            rows.push((n.store_size, n.store_free));
        }
        let vdis = self.all_vdis(&c).await?;
        // Snapshots are not counted, as by the C dog.
        let vsize: u64 = vdis
            .iter()
            .filter(|v| v.snap_ctime == 0)
            .map(|v| v.size)
            .sum();
        let (tsize, tfree) = rows
            .iter()
            .fold((0u64, 0u64), |(a, b), (s, f)| (a + s, b + f));
        if self.json {
            let v = json!({
                "nodes": rows.iter().enumerate().map(|(i, (s, f))| json!({"id": i, "size": s, "used": s.saturating_sub(*f), "avail": f})).collect::<Vec<_>>(),
                "total": {"size": tsize, "used": tsize.saturating_sub(tfree), "avail": tfree},
                "vdi_size": vsize,
            });
            return self.out_json(v).await;
        }
        let pct = |s: u64, f: u64| ((s - f.min(s)) * 100).checked_div(s).unwrap_or(0);
        let sz = |n: u64| fmt::size(n, self.raw);
        let mut s = String::new();
        if !self.raw {
            s += "Id\tSize\tUsed\tAvail\tUse%\n";
        }
        for (i, &(size, free)) in rows.iter().enumerate() {
            let (size_s, used, free_s) = (sz(size), sz(size.saturating_sub(free)), sz(free));
            let p = pct(size, free);
            if self.raw {
                s += &format!("{i} {size_s} {used} {free_s} {p}%\n");
            } else {
                s += &format!("{i:2}\t{size_s}\t{used}\t{free_s}\t{p:3}%\n");
            }
        }
        let (size_s, used, free_s) = (sz(tsize), sz(tsize.saturating_sub(tfree)), sz(tfree));
        let p = pct(tsize, tfree);
        if self.raw {
            s += &format!("Total {size_s} {used} {free_s} {p}% {}\n", sz(vsize));
        } else {
            s += &format!(
                "Total\t{size_s}\t{used}\t{free_s}\t{p:3}%\n\nTotal virtual image size\t{}\n",
                sz(vsize)
            );
        }
        self.out(&s).await
    }

    pub(crate) async fn node_recovery(&mut self) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let (nodes, _) = self.nodes(&c).await?;
        let mut rows = Vec::new();
        for n in &nodes {
            let nc = if n.addr == self.gw {
                None
            } else {
                Some(self.conn(n.addr).await?)
            };
            let (_, p) = call(
                nc.as_ref().unwrap_or(&c),
                admin(
                    AdminOp::StatRecovery(NoArgs::default()),
                    NONE,
                    RecoveryState::FIXED_SIZE.unwrap_or(24) as u32,
                ),
                Bytes::new(),
                &format!("Failed to get recovery status of {}", n.addr),
            )
            .await?;
            // A short (older sheep) reply reads as zeros past its end.
            let mut b = p.to_vec();
            b.resize(b.len().max(RecoveryState::FIXED_SIZE.unwrap_or(24)), 0);
            let rs: RecoveryState = decode(&b, "Failed to get recovery status")?;
            rows.push((n.clone(), rs.in_recovery != 0, rs.nr_finished, rs.nr_total));
        }
        if self.json {
            let v: Vec<_> = rows.iter().enumerate().map(|(i, (n, r, d, t))| json!({"id": i, "addr": n.addr.to_string(), "in_recovery": r, "finished": d, "total": t})).collect();
            return self.out_json(v.into()).await;
        }
        let mut s = String::new();
        if !self.raw {
            s += "Nodes In Recovery:\n  Id   Host:Port         V-Nodes       Zone       Progress\n";
        }
        for (i, (n, rec, d, t)) in rows.iter().enumerate() {
            if *rec && self.raw {
                s += &format!("{i} {} {} {} {d} {t}\n", n.addr, n.vnodes, n.zone);
            } else if *rec {
                let pct = if *t == 0 {
                    0.0
                } else {
                    *d as f64 * 100.0 / *t as f64
                };
                s += &format!(
                    "{i:4}   {:<20}\t{:2}{:11}{:11.1}%\n",
                    n.addr.to_string(),
                    n.vnodes,
                    n.zone,
                    pct
                );
            }
        }
        self.out(&s).await
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn vdi_create(
        &mut self,
        name: &str,
        size: u64,
        copies: u8,
        policy: u8,
        store_policy: u8,
        shift: u8,
        prealloc: bool,
    ) -> Result<(), DogError> {
        if name.is_empty() || name.len() > 255 {
            return Err(DogError::Usage(format!("Invalid VDI name '{name}'")));
        }
        if size == 0 {
            return Err(DogError::Usage("VDI size must not be zero".into()));
        }
        let c = self.conn(self.gw).await?;
        self.nodes(&c).await?;
        let h = admin(
            AdminOp::ClusterInfo(NoArgs::default()),
            NONE,
            CLUSTER_INFO_SIZE,
        );
        call(&c, h, Bytes::new(), "Failed to get cluster info").await?;
        let a = VdiReq {
            vdi_size: size,
            copies,
            copy_policy: policy,
            store_policy,
            block_size_shift: shift,
            ..VdiReq::default()
        };
        let h = client(ClientOp::NewVdi(a), NONE, 0);
        let (r, _) = call(
            &c,
            h,
            name_buf(name, None),
            &format!("Failed to create VDI {name}"),
        )
        .await?;
        if prealloc {
            let vid = wire::vdi_rsp(&r).vdi_id;
            let b = read_obj(&c, inode_oid(vid), 0, INODE_SIZE, DIRECT).await?;
            let ino = Inode::full(&b)?;
            self.write_stream(Arc::new(c), ino, 0, size, true).await?;
        }
        Ok(())
    }

    pub(crate) async fn vdi_list(&mut self, only: Option<&str>) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let mut vdis = self.all_vdis(&c).await?;
        vdis.retain(|v| only.is_none_or(|n| n == v.name));
        vdis.sort_by(|a, b| (&a.name, a.snap_id).cmp(&(&b.name, b.snap_id)));
        // As the C dog: a clone is the first generation of a VDI with a
        // parent (a VDI snapshotted since has a parent too, and a later
        // snapshot id).
        let is_clone = |v: &Inode| v.snap_ctime == 0 && v.snap_id == 1 && v.parent != 0;
        let usage = |v: &Inode| {
            let mine = v.index.iter().filter(|&&x| x == v.vid).count() as u64;
            let shared = v.index.iter().filter(|&&x| x != 0 && x != v.vid).count() as u64;
            (mine * v.obj_size(), shared * v.obj_size())
        };
        if self.json {
            let arr: Vec<_> = vdis
                .iter()
                .map(|v| {
                    let (u, sh) = usage(v);
                    json!({"name": v.name, "snapshot": v.snap_ctime != 0, "clone": is_clone(v),
                        "id": v.snap_id, "size": v.size, "used": u, "shared": sh, "ctime": v.ctime >> 32,
                        "vid": v.vid, "copies": v.copies, "copy_policy": v.copy_policy, "tag": v.tag,
                        "block_size_shift": v.shift, "parent": v.parent})
                })
                .collect();
            return self.out_json(arr.into()).await;
        }
        let mut s = String::new();
        if !self.raw {
            s += "  Name        Id    Size    Used  Shared    Creation time   VDI id  Copies  Tag   Block Size Shift\n";
        }
        for v in &vdis {
            let (u, sh) = usage(v);
            let kind = if v.snap_ctime != 0 {
                's'
            } else if is_clone(v) {
                'c'
            } else if self.raw {
                '='
            } else {
                ' '
            };
            let red = if v.copy_policy == 0 {
                v.copies.to_string()
            } else {
                format!("{}:{}", (v.copy_policy >> 4) * 2, v.copy_policy & 0xf)
            };
            if self.raw {
                // Fields split on spaces: a space or backslash in the name
                // is escaped with a backslash, as the C dog does.
                let mut name = String::new();
                for ch in v.name.chars() {
                    if ch.is_ascii_whitespace() || ch == '\\' {
                        name.push('\\');
                    }
                    name.push(ch);
                }
                s += &format!(
                    "{kind} {name} {} {} {u} {sh} {} {:x} {red} {} {}\n",
                    v.snap_id,
                    v.size,
                    v.ctime >> 32,
                    v.vid,
                    v.tag,
                    v.shift
                );
                continue;
            }
            s += &format!(
                "{kind} {:<8} {:5} {:>7} {:>7} {:>7} {}  {:7x} {:>6} {:>13} {:3}\n",
                v.name,
                v.snap_id,
                fmt::size(v.size, self.raw),
                fmt::size(u, self.raw),
                fmt::size(sh, self.raw),
                fmt::time(v.ctime >> 32, "%Y-%m-%d %H:%M"),
                v.vid,
                red,
                v.tag,
                v.shift
            );
        }
        self.out(&s).await
    }

    pub(crate) async fn vdi_delete(&mut self, name: &str, s: &Snap) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let vid = self.find(&c, name, s).await?;
        let b = read_obj(&c, inode_oid(vid), 0, INODE_SIZE, NONE).await?;
        let ino = Inode::full(&b)?;
        let n = ino.nr_objs() as usize;
        if ino.store_policy == 0 && n > 0 {
            // Like the C dog, clear the index first; the sheep frees the
            // objects either way, and refuses this write on a snapshot.
            let zeros = wire::index_run_bytes(vec![0; n]);
            let r = write_obj(
                &c,
                ClientOp::WriteObj,
                inode_oid(vid),
                0,
                data_vdi_id_offset(0) as u32,
                zeros,
                DIRECT,
                ino.copies,
                ino.copy_policy,
            )
            .await;
            match r {
                Err(DogError::Sd { code, .. }) if code == SdResult::Readonly.code() => {}
                r => r?,
            }
        }
        let a = VdiReq {
            snapid: s.id,
            ..VdiReq::default()
        };
        let h = client(ClientOp::DelVdi(a), NONE, 0);
        call(
            &c,
            h,
            name_buf(name, Some(&s.tag)),
            &format!("Failed to delete {name}"),
        )
        .await?;
        Ok(())
    }

    pub(crate) async fn vdi_snapshot(&mut self, name: &str, tag: &str) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        if !tag.is_empty() {
            let s = Snap {
                id: 0,
                tag: tag.to_string(),
            };
            let h = client(ClientOp::GetVdiInfo(VdiReq::default()), NONE, 0);
            let (r, _) = send(&c, h, name_buf(name, Some(tag)))
                .await
                .map_err(|e| DogError::client("Failed to look up the snapshot tag", e))?;
            if r.result.is_success() {
                let old = wire::vdi_rsp(&r).vdi_id;
                read_obj(&c, inode_oid(old), 0, HDR_SIZE, DIRECT).await?;
                return Err(DogError::Other(format!(
                    "Snapshot tag {} is already used by another snapshot of {name}",
                    s.tag
                )));
            }
        }
        let vid = self.find(&c, name, &Snap::default()).await?;
        let b = read_obj(&c, inode_oid(vid), 0, HDR_SIZE, DIRECT).await?;
        let ino = Inode::header(&b)?;
        let tb: [u8; 256] = padded(&tag.as_bytes()[..tag.len().min(255)]);
        write_obj(
            &c,
            ClientOp::WriteObj,
            inode_oid(vid),
            0,
            header_field("tag"),
            Bytes::copy_from_slice(&tb),
            NONE,
            ino.copies,
            ino.copy_policy,
        )
        .await?;
        let a = VdiReq {
            vdi_size: ino.size,
            base_vdi_id: vid,
            copies: ino.copies,
            copy_policy: ino.copy_policy,
            store_policy: ino.store_policy,
            block_size_shift: ino.raw_shift,
            snapid: 1,
            ..VdiReq::default()
        };
        let h = client(ClientOp::NewVdi(a), NONE, 0);
        let (r, _) = call(
            &c,
            h,
            name_buf(name, None),
            &format!("Failed to create snapshot for {name}"),
        )
        .await?;
        if self.json {
            return self
                .out_json(
                    json!({"snapshot_vid": vid, "new_vid": wire::vdi_rsp(&r).vdi_id, "tag": tag}),
                )
                .await;
        }
        Ok(())
    }

    pub(crate) async fn vdi_clone(
        &mut self,
        src: &str,
        s: &Snap,
        dst: &str,
        prealloc: bool,
        copies: u8,
        policy: u8,
    ) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let vid = self.find(&c, src, s).await?;
        let b = read_obj(&c, inode_oid(vid), 0, INODE_SIZE, DIRECT).await?;
        let ino = Inode::full(&b)?;
        if ino.snap_ctime == 0 {
            return Err(DogError::Other(format!(
                "Only snapshot VDIs can be cloned; {src} is not a snapshot"
            )));
        }
        let (cp, pol) = if copies == 0 {
            (ino.copies, ino.copy_policy)
        } else {
            (copies, policy)
        };
        let a = VdiReq {
            vdi_size: ino.size,
            base_vdi_id: vid,
            copies: cp,
            copy_policy: pol,
            store_policy: ino.store_policy,
            block_size_shift: ino.raw_shift,
            ..VdiReq::default()
        };
        let h = client(ClientOp::NewVdi(a), NONE, 0);
        let (r, _) = call(
            &c,
            h,
            name_buf(dst, None),
            &format!("Failed to create VDI {dst}"),
        )
        .await?;
        if prealloc {
            // Copy every allocated object of the snapshot into the clone.
            let new_vid = wire::vdi_rsp(&r).vdi_id;
            let nb = read_obj(&c, inode_oid(new_vid), 0, INODE_SIZE, DIRECT).await?;
            let nino = Inode::full(&nb)?;
            let osz = ino.obj_size() as u32;
            for idx in 0..ino.nr_objs() as u32 {
                let owner = ino.owner(idx);
                if owner == 0 {
                    continue;
                }
                let data = read_obj(&c, data_oid(owner, idx), 0, osz, NONE).await?;
                write_piece(&c, &nino, idx, 0, data.into()).await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn vdi_resize(&mut self, name: &str, size: u64) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let vid = self.find(&c, name, &Snap::default()).await?;
        let b = read_obj(&c, inode_oid(vid), 0, HDR_SIZE, DIRECT).await?;
        let mut h: InodeHeader = decode(&b, "inode")?;
        let ino = Inode::from_header(&h, Vec::new());
        if size < ino.size {
            return Err(DogError::Other("Shrinking VDIs is not implemented".into()));
        }
        let max = u64::from(SD_INODE_DATA_INDEX) * ino.obj_size();
        if size > max {
            return Err(DogError::Other(format!(
                "New VDI size is too large. This size should not exceed {max} bytes"
            )));
        }
        h.vdi_size = size;
        let nb = encode(&h);
        write_obj(
            &c,
            ClientOp::WriteObj,
            inode_oid(vid),
            0,
            0,
            nb,
            DIRECT,
            ino.copies,
            ino.copy_policy,
        )
        .await
    }

    /// The inode `vid` for a transfer of `len` bytes (to the end when
    /// `None`) at `off`, and that length.
    ///
    /// The C dog reads the whole 12.5 MB inode for every `vdi read` and
    /// `vdi write`; so does `--inflight 1`, and so does a transfer that
    /// stays inside one object of the smallest size sheepdog allows (1 MiB),
    /// which keeps the golden traces' request sequences. A pipelined
    /// transfer that may span objects reads the header and only the index
    /// entries of its objects (about 25 ms less per command here).
    async fn transfer_inode(
        &self,
        c: &Client,
        vid: u32,
        off: u64,
        len: Option<u64>,
    ) -> Result<(Inode, u64), DogError> {
        let one_small_object = len.is_some_and(|l| l == 0 || off >> 20 == (off + l - 1) >> 20);
        let mut ino = if self.inflight == 1 || one_small_object {
            let b = read_obj(c, inode_oid(vid), 0, INODE_SIZE, DIRECT).await?;
            Inode::full(&b)?
        } else {
            let b = read_obj(c, inode_oid(vid), 0, HDR_SIZE, DIRECT).await?;
            Inode::header(&b)?
        };
        ino.vid = vid;
        let len = len.unwrap_or(ino.size.saturating_sub(off));
        if off.checked_add(len).is_none_or(|e| e > ino.size) {
            return Err(DogError::Other(format!(
                "Invalid offset/length: {off}+{len} is beyond the VDI size {}",
                ino.size
            )));
        }
        if ino.index.is_empty() && len > 0 {
            let osz = ino.obj_size();
            let (first, last) = ((off / osz) as u32, ((off + len - 1) / osz) as u32);
            let at = data_vdi_id_offset(first) as u32;
            let n = (data_vdi_id_offset(last + 1) - data_vdi_id_offset(first)) as u32;
            let idx = read_obj(c, inode_oid(vid), at, n, DIRECT).await?;
            ino.index = decode::<IndexRun>(&idx, "index")?.vids();
            ino.index_base = first;
        }
        Ok((ino, len))
    }

    pub(crate) async fn vdi_read(
        &mut self,
        name: &str,
        s: &Snap,
        off: u64,
        len: Option<u64>,
    ) -> Result<(), DogError> {
        let c = Arc::new(self.conn(self.gw).await?);
        let vid = self.find(&c, name, s).await?;
        let (ino, len) = self.transfer_inode(&c, vid, off, len).await?;
        let pb = progress(self.env.progress, len);
        let ino = Arc::new(ino);
        let osz = ino.obj_size();
        // One request at a time reads whole objects (the C dog's pattern);
        // pipelined reads ask for smaller pieces, so both ends work on
        // buffers that stay in cache and the first bytes leave sooner.
        let piece = if self.inflight > 1 { READ_PIECE } else { osz };
        if self.env.direct_stdio && self.inflight > 1 && self.zero_copy {
            self.env.stdout.flush().await.map_err(stdout_err)?;
            let mut pieces = Vec::new();
            let mut pos = off;
            let end = off + len;
            while pos < end {
                let idx = (pos / osz) as u32;
                let inoff = pos % osz;
                let n = (osz - inoff).min(end - pos).min(piece);
                let owner = ino.owner(idx);
                pieces.push(Piece {
                    oid: (owner != 0).then(|| data_oid(owner, idx)),
                    off: inoff as u32,
                    len: n as u32,
                });
                pos += n;
            }
            let target = (self.env.connect)(self.gw);
            let inflight = self.inflight;
            let pb2 = pb.clone();
            let out = std::io::stdout()
                .as_fd()
                .try_clone_to_owned()
                .map_err(stdout_err)?;
            tokio::task::spawn_blocking(move || {
                splice::read_to(&target, out.into(), &pieces, inflight, |n| pb2.inc(n))
            })
            .await
            .map_err(|e| DogError::Other(format!("read task failed: {e}")))??;
            pb.finish_and_clear();
            return Ok(());
        }
        let mut out = if self.env.direct_stdio {
            self.env.stdout.flush().await.map_err(stdout_err)?;
            Some(StdoutWriter::stdout(self.inflight).map_err(stdout_err)?)
        } else {
            None
        };
        let mut q: VecDeque<tokio::task::JoinHandle<Result<Bytes, DogError>>> = VecDeque::new();
        let mut pos = off;
        let end = off + len;
        while pos < end || !q.is_empty() {
            while pos < end && q.len() < self.inflight {
                let idx = (pos / osz) as u32;
                let inoff = pos % osz;
                let n = (osz - inoff).min(end - pos).min(piece);
                let owner = ino.owner(idx);
                let c2 = c.clone();
                q.push_back(tokio::spawn(async move {
                    if owner == 0 {
                        Ok(Bytes::from(vec![0u8; n as usize]))
                    } else {
                        read_obj(&c2, data_oid(owner, idx), inoff as u32, n as u32, NONE).await
                    }
                }));
                pos += n;
            }
            let Some(h) = q.pop_front() else { break };
            let data = h
                .await
                .map_err(|e| DogError::Other(format!("read task failed: {e}")))??;
            pb.inc(data.len() as u64);
            match &mut out {
                Some(w) => {
                    w.write(data).await.map_err(stdout_err)?;
                    if self.inflight == 1 {
                        // The C dog writes each piece before it asks for the next.
                        w.sync().await.map_err(stdout_err)?;
                    }
                }
                None => self.env.stdout.write_all(&data).await.map_err(stdout_err)?,
            }
        }
        if let Some(mut w) = out {
            w.finish().await.map_err(stdout_err)?;
        }
        pb.finish_and_clear();
        Ok(())
    }

    pub(crate) async fn vdi_write(
        &mut self,
        name: &str,
        off: u64,
        len: Option<u64>,
    ) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let vid = self.find(&c, name, &Snap::default()).await?;
        let (ino, len) = self.transfer_inode(&c, vid, off, len).await?;
        self.write_stream(Arc::new(c), ino, off, len, false).await
    }

    /// Writes `len` bytes at `off` from stdin (or zeros), one piece per
    /// object, `inflight` pieces at a time.
    async fn write_stream(
        &mut self,
        c: Arc<Client>,
        ino: Inode,
        off: u64,
        len: u64,
        zeros: bool,
    ) -> Result<(), DogError> {
        let pb = progress(self.env.progress, len);
        let ino = Arc::new(ino);
        let osz = ino.obj_size();
        let sem = Arc::new(tokio::sync::Semaphore::new(self.inflight));
        let mut set = tokio::task::JoinSet::new();
        let mut pos = off;
        let end = off + len;
        // A pipelined transfer over several objects defers the index updates
        // of the objects it creates and writes them as one WRITE_OBJ per run
        // of consecutive entries once the data is in (each index write is a
        // synchronous inode update on the sheep). One object, or
        // `--inflight 1`, keeps the C dog's create + 4-byte update sequence.
        let batch = self.inflight > 1 && len > 0 && off / osz != (end - 1) / osz;
        let mut created: Vec<u32> = Vec::new();
        let mut first_err = None;
        // Stdin straight into request payloads on a thread; pipelined, it
        // reads ahead as many pieces as are in flight, one at a time it
        // reads each piece when the previous one is written (the C dog).
        // Pipelined from a regular file: payloads go from stdin's page
        // cache to the socket with sendfile, never through the dog.
        let mut file_src = if self.env.direct_stdio && !zeros && self.inflight > 1 && self.zero_copy
        {
            StdinFile::open()
        } else {
            None
        };
        let mut src = if self.env.direct_stdio && !zeros && file_src.is_none() {
            let (mut p, e) = (off, end);
            let sizes = std::iter::from_fn(move || {
                (p < e).then(|| {
                    let n = (osz - p % osz).min(e - p);
                    p += n;
                    n as usize
                })
            });
            let ahead = if self.inflight > 1 { self.inflight } else { 0 };
            Some(PieceReader::stdin(sizes, ahead).map_err(stdin_err)?)
        } else {
            None
        };
        let mut take = |r: Result<Result<Option<u32>, DogError>, tokio::task::JoinError>,
                        first_err: &mut Option<DogError>| {
            match r.unwrap_or_else(|e| Err(DogError::Other(e.to_string()))) {
                Ok(Some(idx)) => created.push(idx),
                Ok(None) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        };
        while pos < end {
            let Ok(permit) = sem.clone().acquire_owned().await else {
                break;
            };
            while let Some(r) = set.try_join_next() {
                take(r, &mut first_err);
            }
            if first_err.is_some() {
                break;
            }
            let idx = (pos / osz) as u32;
            let inoff = pos % osz;
            let want = (osz - inoff).min(end - pos) as usize;
            let buf: Payload = match (&mut src, &mut file_src) {
                _ if zeros => Bytes::from(vec![0u8; want]).into(),
                (_, Some(f)) => f.next(want),
                (Some(r), _) => match r.next().await {
                    None => Bytes::new().into(),
                    Some(r) => r.map_err(stdin_err)?.into(),
                },
                (None, None) => {
                    let mut buf = vec![0u8; want];
                    let mut got = 0;
                    while got < want {
                        let n = self
                            .env
                            .stdin
                            .read(&mut buf[got..])
                            .await
                            .map_err(stdin_err)?;
                        if n == 0 {
                            break;
                        }
                        got += n;
                    }
                    buf.truncate(got);
                    Bytes::from(buf).into()
                }
            };
            let got = buf.len();
            if got == 0 {
                break;
            }
            let (c2, i2, pb2) = (c.clone(), ino.clone(), pb.clone());
            set.spawn(async move {
                let r = if batch {
                    write_piece_data(&c2, &i2, idx, inoff as u32, buf)
                        .await
                        .map(|created| created.then_some(idx))
                } else {
                    write_piece(&c2, &i2, idx, inoff as u32, buf)
                        .await
                        .map(|()| None)
                };
                pb2.inc(got as u64);
                drop(permit);
                r
            });
            pos += got as u64;
            if got < want {
                break;
            }
        }
        while let Some(r) = set.join_next().await {
            take(r, &mut first_err);
        }
        if let Some(f) = file_src {
            // Leave stdin where a reader of the same bytes would have.
            f.finish().map_err(stdin_err)?;
        }
        // Objects that were created point at the VDI even if another piece
        // failed, so what was written is readable.
        created.sort_unstable();
        let idx_r = write_index_runs(&c, &ino, &created).await;
        pb.finish_and_clear();
        match first_err {
            Some(e) => Err(e),
            None => idx_r,
        }
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
