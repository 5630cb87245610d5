//! The verbs: the request sequences of the C dog (checked against the
//! golden traces by `sheep/tests/dog_compat.rs`) and the output.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::wire::{send, Hdr, RspHdr};
use super::{fmt, DogError, Env, Snap};
use crate::client::Client;
use crate::proto::node::addr_from_bytes;

const WRITE: u16 = 0x0001;
const COW: u16 = 0x0002;
const DIRECT: u16 = 0x0008;
const CREAT: u16 = 0x0100;
const EXCL: u16 = 0x0200;
const DEL: u16 = 0x0400;

const CREATE_AND_WRITE_OBJ: u8 = 0x01;
const READ_OBJ: u8 = 0x02;
const WRITE_OBJ: u8 = 0x03;
const NEW_VDI: u8 = 0x11;
const GET_VDI_INFO: u8 = 0x14;
const READ_VDIS: u8 = 0x15;
const DEL_VDI: u8 = 0x17;
const GET_NODE_LIST: u8 = 0x82;
const MAKE_FS: u8 = 0x84;
const SHUTDOWN: u8 = 0x85;
const STAT_SHEEP: u8 = 0x86;
const STAT_CLUSTER: u8 = 0x87;
const GET_VDI_ATTR: u8 = 0x89;
const STAT_RECOVERY: u8 = 0x97;
const GET_HASH: u8 = 0xB4;
const CLUSTER_INFO: u8 = 0xBE;
const READ_DEL_VDIS: u8 = 0xC9;

const SD_MAX_NODES: u32 = 6144;
const SD_NODE_SIZE: usize = 80;
const EPOCH_LOG_SIZE: usize = 48;
const CLUSTER_INFO_SIZE: u32 = 48 + SD_MAX_NODES * SD_NODE_SIZE as u32;
const INODE_SIZE: u32 = 12_587_576;
const HDR_SIZE: u32 = 4664;
const BITMAP_SIZE: u32 = 1 << 21;
const ATTR_SIZE: usize = 66_320;

fn inode_oid(vid: u32) -> u64 {
    1 << 63 | u64::from(vid) << 32
}
fn data_oid(vid: u32, idx: u32) -> u64 {
    u64::from(vid) << 32 | u64::from(idx)
}
fn attr_oid(vid: u32, id: u32) -> u64 {
    1 << 61 | u64::from(vid) << 32 | u64::from(id)
}

fn name_buf(name: &str, tag: Option<&str>) -> Bytes {
    let mut b = vec![0u8; if tag.is_some() { 512 } else { 256 }];
    let n = name.len().min(255);
    b[..n].copy_from_slice(&name.as_bytes()[..n]);
    if let Some(t) = tag {
        let n = t.len().min(255);
        b[256..256 + n].copy_from_slice(&t.as_bytes()[..n]);
    }
    b.into()
}

/// A node from GET_NODE_LIST.
#[derive(Clone)]
struct Node {
    addr: SocketAddr,
    vnodes: u16,
    zone: u32,
}

impl Node {
    fn parse(b: &[u8]) -> Node {
        let a: [u8; 16] = b[24..40].try_into().unwrap_or_default();
        let port = u16::from_le_bytes([b[40], b[41]]);
        Node {
            addr: SocketAddr::new(addr_from_bytes(&a), port),
            vnodes: u16::from_le_bytes([b[64], b[65]]),
            zone: u32::from_le_bytes(b[68..72].try_into().unwrap_or_default()),
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
    snap_id: u32,
    parent: u32,
    /// data_vdi_id, as far as it was read.
    index: Vec<u32>,
}

impl Inode {
    fn parse(b: &[u8]) -> Inode {
        let u32_at = |o: usize| u32::from_le_bytes(b[o..o + 4].try_into().unwrap_or_default());
        let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or_default());
        let index = if b.len() > HDR_SIZE as usize {
            b[HDR_SIZE as usize..]
                .chunks_exact(4)
                .take(1 << 20)
                .map(|c| u32::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect()
        } else {
            Vec::new()
        };
        Inode {
            vid: u32_at(560),
            name: fmt::cstr(&b[..256]),
            tag: fmt::cstr(&b[256..512]),
            ctime: u64_at(512),
            snap_ctime: u64_at(520),
            size: u64_at(536),
            copy_policy: b[552],
            store_policy: b[553],
            copies: b[554],
            shift: if b[555] == 0 { 22 } else { b[555] },
            snap_id: u32_at(556),
            parent: u32_at(564),
            index,
        }
    }
    fn obj_size(&self) -> u64 {
        1 << self.shift
    }
    fn nr_objs(&self) -> u64 {
        self.size.div_ceil(self.obj_size())
    }
    fn owner(&self, idx: u32) -> u32 {
        self.index.get(idx as usize).copied().unwrap_or(0)
    }
}

pub(crate) struct Dog<'a> {
    pub env: &'a mut Env,
    pub gw: SocketAddr,
    pub json: bool,
    pub raw: bool,
    pub inflight: usize,
}

async fn call(c: &Client, h: Hdr, p: Bytes, what: &str) -> Result<(RspHdr, Bytes), DogError> {
    let (r, b) = send(c, h, p).await.map_err(|e| DogError::client(what, e))?;
    match r.result() {
        0 => Ok((r, b)),
        code => Err(DogError::Sd {
            what: what.to_string(),
            code,
        }),
    }
}

async fn read_obj(c: &Client, oid: u64, off: u32, len: u32, fl: u16) -> Result<Bytes, DogError> {
    let h = Hdr::new(READ_OBJ)
        .flags(fl)
        .len(len)
        .u64(16, oid)
        .u32(40, off);
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
    op: u8,
    oid: u64,
    cow: u64,
    off: u32,
    data: Bytes,
    fl: u16,
    copies: u8,
    policy: u8,
) -> Result<(), DogError> {
    let h = Hdr::new(op)
        .flags(WRITE | fl)
        .len(data.len() as u32)
        .u64(16, oid)
        .u64(24, cow)
        .u8(32, copies)
        .u8(33, policy)
        .u32(40, off);
    call(c, h, data, &format!("Failed to write object {oid:x}"))
        .await
        .map(|_| ())
}

/// Writes one piece of object `idx` the way the C dog does: WRITE_OBJ into
/// an object the VDI owns, else CREATE_AND_WRITE_OBJ (COW from the owner)
/// followed by the 4-byte index update in the inode.
async fn write_piece(
    c: &Client,
    ino: &Inode,
    idx: u32,
    off: u32,
    data: Bytes,
) -> Result<(), DogError> {
    let owner = ino.owner(idx);
    let oid = data_oid(ino.vid, idx);
    let (cp, pol) = (ino.copies, ino.copy_policy);
    if owner == ino.vid {
        return write_obj(c, WRITE_OBJ, oid, 0, off, data, 0, cp, pol).await;
    }
    let (fl, cow) = if owner != 0 {
        (COW, data_oid(owner, idx))
    } else {
        (0, 0)
    };
    write_obj(c, CREATE_AND_WRITE_OBJ, oid, cow, off, data, fl, cp, pol).await?;
    let ioff = HDR_SIZE + 4 * idx;
    let v = Bytes::copy_from_slice(&ino.vid.to_le_bytes());
    write_obj(c, WRITE_OBJ, inode_oid(ino.vid), 0, ioff, v, 0, cp, pol).await
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
        let h = Hdr::new(GET_NODE_LIST).len(SD_MAX_NODES * SD_NODE_SIZE as u32);
        let (r, p) = call(c, h, Bytes::new(), "Failed to get node list").await?;
        let nodes = p.chunks_exact(SD_NODE_SIZE).map(Node::parse).collect();
        let h = Hdr::new(STAT_CLUSTER).len(EPOCH_LOG_SIZE as u32);
        send(c, h, Bytes::new())
            .await
            .map_err(|e| DogError::client("Failed to get cluster status", e))?;
        Ok((nodes, r.epoch()))
    }

    /// GET_VDI_INFO: name, tag, snapid → vid.
    async fn find(&self, c: &Client, name: &str, s: &Snap) -> Result<u32, DogError> {
        let h = Hdr::new(GET_VDI_INFO).u32(32, s.id);
        let what = if s.id == 0 && s.tag.is_empty() {
            format!("Failed to open VDI {name}")
        } else {
            format!(
                "Failed to open VDI {name} (snapshot id: {} snapshot tag: {})",
                s.id, s.tag
            )
        };
        let (r, _) = call(c, h, name_buf(name, Some(&s.tag)), &what).await?;
        Ok(r.u32(24))
    }

    async fn bitmaps(&self, c: &Client) -> Result<Vec<u32>, DogError> {
        let h = Hdr::new(READ_VDIS).len(BITMAP_SIZE);
        let (_, inuse) = call(c, h, Bytes::new(), "Failed to read VDIs").await?;
        let h = Hdr::new(READ_DEL_VDIS).len(BITMAP_SIZE);
        let (_, del) = call(c, h, Bytes::new(), "Failed to read deleted VDIs").await?;
        let mut out = Vec::new();
        for (i, &b) in inuse.iter().enumerate() {
            if b == 0 {
                continue;
            }
            for bit in 0..8 {
                let vid = (i * 8 + bit) as u32;
                let deleted = del.get(i).is_some_and(|d| d & (1 << bit) != 0);
                if b & (1 << bit) != 0 && !deleted {
                    out.push(vid);
                }
            }
        }
        Ok(out)
    }

    /// All live inodes: header (4672 bytes) plus the used index.
    async fn all_vdis(&self, c: &Client) -> Result<Vec<Inode>, DogError> {
        let mut out = Vec::new();
        for vid in self.bitmaps(c).await? {
            let b = read_obj(c, inode_oid(vid), 0, HDR_SIZE + 8, DIRECT).await?;
            let mut ino = Inode::parse(&b);
            if ino.name.is_empty() {
                continue;
            }
            ino.vid = vid;
            if ino.store_policy == 0 && ino.nr_objs() > 0 {
                let n = (ino.nr_objs() * 4) as u32;
                let idx = read_obj(c, inode_oid(vid), HDR_SIZE, n, DIRECT).await?;
                ino.index = idx
                    .chunks_exact(4)
                    .map(|c| u32::from_le_bytes(c.try_into().unwrap_or_default()))
                    .collect();
            }
            out.push(ino);
        }
        Ok(out)
    }

    pub(crate) async fn cluster_format(
        &mut self,
        copies: u8,
        policy: u8,
        flags: u16,
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
            let h = Hdr::new(CLUSTER_INFO).len(CLUSTER_INFO_SIZE);
            call(
                nc.as_ref().unwrap_or(&c),
                h,
                Bytes::new(),
                &format!("Failed to get cluster info of {}", n.addr),
            )
            .await?;
        }
        let h = Hdr::new(READ_VDIS).len(BITMAP_SIZE);
        let (_, inuse) = call(&c, h, Bytes::new(), "Failed to read VDIs").await?;
        if !yes && inuse.iter().any(|&b| b != 0) {
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
        let mut sb = store.as_bytes().to_vec();
        sb.push(0);
        let h = Hdr::new(MAKE_FS)
            .u64(24, crate::daemon::cluster::now_ctime())
            .u8(32, copies)
            .u8(33, policy)
            .u16(34, flags)
            .u8(44, shift);
        call(&c, h, sb.into(), "Format failed").await?;
        Ok(())
    }

    pub(crate) async fn cluster_info(&mut self) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let (nodes, epoch) = self.nodes(&c).await?;
        let rec = EPOCH_LOG_SIZE + nodes.len() * SD_NODE_SIZE;
        let h = Hdr::new(STAT_CLUSTER)
            .len(epoch * rec as u32)
            .u32(40, nodes.len() as u32);
        let (r, p) = send(&c, h, Bytes::new())
            .await
            .map_err(|e| DogError::client("Failed to get cluster status", e))?;
        let status = match r.result() {
            0 => "running, auto-recovery enabled".to_string(),
            code => crate::proto::SdResult::from_code(code)
                .description()
                .to_string(),
        };
        let mut logs = Vec::new();
        if r.result() == 0 {
            for recb in p.chunks(rec) {
                if recb.len() < EPOCH_LOG_SIZE {
                    break;
                }
                let u32_at =
                    |o: usize| u32::from_le_bytes(recb[o..o + 4].try_into().unwrap_or_default());
                let ctime = u64::from_le_bytes(recb[0..8].try_into().unwrap_or_default());
                let time = u64::from_le_bytes(recb[8..16].try_into().unwrap_or_default());
                let ep = u32_at(16);
                let nr = (u32_at(20) as usize).min(nodes.len());
                let ns: Vec<Node> = (0..nr)
                    .filter_map(|i| {
                        recb.get(
                            EPOCH_LOG_SIZE + i * SD_NODE_SIZE
                                ..EPOCH_LOG_SIZE + (i + 1) * SD_NODE_SIZE,
                        )
                        .map(Node::parse)
                    })
                    .collect();
                logs.push((ctime, time, ep, ns, recb[25]));
            }
        }
        if self.json {
            let v = json!({
                "status": status,
                "result": crate::proto::SdResult::from_code(r.result()).name(),
                "epochs": logs.iter().map(|(ct, t, e, ns, cp)| json!({
                    "ctime": ct >> 32, "time": t, "epoch": e, "copies": cp,
                    "nodes": ns.iter().map(|n| json!({"addr": n.addr.to_string(), "vnodes": n.vnodes})).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            });
            return self.out_json(v).await;
        }
        let mut s = format!("Cluster status: {status}\n");
        if let Some((ct, ..)) = logs.first() {
            s += &format!(
                "\nCluster created at {}\n\nEpoch Time           Version [Host:Port:V-Nodes,,,]\n",
                fmt::time(ct >> 32, "%a %b %e %H:%M:%S %Y")
            );
            for (_, t, e, ns, _) in &logs {
                let list: Vec<String> = ns
                    .iter()
                    .map(|n| format!("{}:{}", n.addr, n.vnodes))
                    .collect();
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
        call(&c, Hdr::new(SHUTDOWN), Bytes::new(), "Failed to shutdown").await?;
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
        let mut s = String::from("  Id   Host:Port         V-Nodes       Zone\n");
        for (i, n) in nodes.iter().enumerate() {
            s += &format!(
                "{i:4}   {:<20}\t{:2}{:11}\n",
                n.addr.to_string(),
                n.vnodes,
                n.zone
            );
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
                Hdr::new(STAT_SHEEP),
                Bytes::new(),
                &format!("Failed to get node info of {}", n.addr),
            )
            .await?;
            rows.push((r.u64(32), r.u64(40)));
        }
        let vdis = self.all_vdis(&c).await?;
        let vsize: u64 = vdis.iter().map(|v| v.size).sum();
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
        let mut s = String::from("Id\tSize\tUsed\tAvail\tUse%\n");
        for (i, (sz, fr)) in rows.iter().enumerate() {
            s += &format!(
                "{i:2}\t{}\t{}\t{}\t{:3}%\n",
                fmt::size(*sz, self.raw),
                fmt::size(sz.saturating_sub(*fr), self.raw),
                fmt::size(*fr, self.raw),
                pct(*sz, *fr)
            );
        }
        s += &format!(
            "Total\t{}\t{}\t{}\t{:3}%\n\nTotal virtual image size\t{}\n",
            fmt::size(tsize, self.raw),
            fmt::size(tsize.saturating_sub(tfree), self.raw),
            fmt::size(tfree, self.raw),
            pct(tsize, tfree),
            fmt::size(vsize, self.raw)
        );
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
                Hdr::new(STAT_RECOVERY).len(24),
                Bytes::new(),
                &format!("Failed to get recovery status of {}", n.addr),
            )
            .await?;
            let mut b = [0u8; 24];
            let k = p.len().min(24);
            b[..k].copy_from_slice(&p[..k]);
            let done = u64::from_le_bytes(b[8..16].try_into().unwrap_or_default());
            let total = u64::from_le_bytes(b[16..24].try_into().unwrap_or_default());
            rows.push((n.clone(), b[0] != 0, done, total));
        }
        if self.json {
            let v: Vec<_> = rows.iter().enumerate().map(|(i, (n, r, d, t))| json!({"id": i, "addr": n.addr.to_string(), "in_recovery": r, "finished": d, "total": t})).collect();
            return self.out_json(v.into()).await;
        }
        let mut s = String::from(
            "Nodes In Recovery:\n  Id   Host:Port         V-Nodes       Zone       Progress\n",
        );
        for (i, (n, rec, d, t)) in rows.iter().enumerate() {
            if *rec {
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
        let h = Hdr::new(CLUSTER_INFO).len(CLUSTER_INFO_SIZE);
        call(&c, h, Bytes::new(), "Failed to get cluster info").await?;
        let h = Hdr::new(NEW_VDI)
            .u64(16, size)
            .u8(28, copies)
            .u8(29, policy)
            .u8(30, store_policy)
            .u8(31, shift);
        let (r, _) = call(
            &c,
            h,
            name_buf(name, None),
            &format!("Failed to create VDI {name}"),
        )
        .await?;
        if prealloc {
            let vid = r.u32(24);
            let b = read_obj(&c, inode_oid(vid), 0, INODE_SIZE, DIRECT).await?;
            let ino = Inode::parse(&b);
            self.write_stream(Arc::new(c), ino, 0, size, true).await?;
        }
        Ok(())
    }

    pub(crate) async fn vdi_list(&mut self, only: Option<&str>) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let mut vdis = self.all_vdis(&c).await?;
        vdis.retain(|v| only.is_none_or(|n| n == v.name));
        vdis.sort_by(|a, b| (&a.name, a.snap_id).cmp(&(&b.name, b.snap_id)));
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
                    json!({"name": v.name, "snapshot": v.snap_ctime != 0, "clone": v.snap_ctime == 0 && v.parent != 0,
                        "id": v.snap_id, "size": v.size, "used": u, "shared": sh, "ctime": v.ctime >> 32,
                        "vid": v.vid, "copies": v.copies, "copy_policy": v.copy_policy, "tag": v.tag,
                        "block_size_shift": v.shift, "parent": v.parent})
                })
                .collect();
            return self.out_json(arr.into()).await;
        }
        let mut s = String::from("  Name        Id    Size    Used  Shared    Creation time   VDI id  Copies  Tag   Block Size Shift\n");
        for v in &vdis {
            let (u, sh) = usage(v);
            let kind = if v.snap_ctime != 0 {
                's'
            } else if v.parent != 0 {
                'c'
            } else {
                ' '
            };
            let red = if v.copy_policy == 0 {
                v.copies.to_string()
            } else {
                format!("{}:{}", (v.copy_policy >> 4) * 2, v.copy_policy & 0xf)
            };
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
        let b = read_obj(&c, inode_oid(vid), 0, INODE_SIZE, 0).await?;
        let ino = Inode::parse(&b);
        let n = (ino.nr_objs() * 4) as usize;
        if ino.store_policy == 0 && n > 0 {
            let zeros = Bytes::from(vec![0u8; n]);
            write_obj(
                &c,
                WRITE_OBJ,
                inode_oid(vid),
                0,
                HDR_SIZE,
                zeros,
                DIRECT,
                ino.copies,
                ino.copy_policy,
            )
            .await?;
        }
        let h = Hdr::new(DEL_VDI).u32(32, s.id);
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
            let h = Hdr::new(GET_VDI_INFO);
            let (r, _) = send(&c, h, name_buf(name, Some(tag)))
                .await
                .map_err(|e| DogError::client("Failed to look up the snapshot tag", e))?;
            if r.result() == 0 {
                read_obj(&c, inode_oid(r.u32(24)), 0, HDR_SIZE, DIRECT).await?;
                return Err(DogError::Other(format!(
                    "Snapshot tag {} is already used by another snapshot of {name}",
                    s.tag
                )));
            }
        }
        let vid = self.find(&c, name, &Snap::default()).await?;
        let b = read_obj(&c, inode_oid(vid), 0, HDR_SIZE, DIRECT).await?;
        let ino = Inode::parse(&b);
        let mut tb = vec![0u8; 256];
        let n = tag.len().min(255);
        tb[..n].copy_from_slice(&tag.as_bytes()[..n]);
        write_obj(
            &c,
            WRITE_OBJ,
            inode_oid(vid),
            0,
            256,
            tb.into(),
            0,
            ino.copies,
            ino.copy_policy,
        )
        .await?;
        let h = Hdr::new(NEW_VDI)
            .u64(16, ino.size)
            .u32(24, vid)
            .u8(28, ino.copies)
            .u8(29, ino.copy_policy)
            .u8(30, ino.store_policy)
            .u8(31, b[555])
            .u32(32, 1);
        let (r, _) = call(
            &c,
            h,
            name_buf(name, None),
            &format!("Failed to create snapshot for {name}"),
        )
        .await?;
        if self.json {
            return self
                .out_json(json!({"snapshot_vid": vid, "new_vid": r.u32(24), "tag": tag}))
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
        let ino = Inode::parse(&b);
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
        let h = Hdr::new(NEW_VDI)
            .u64(16, ino.size)
            .u32(24, vid)
            .u8(28, cp)
            .u8(29, pol)
            .u8(30, ino.store_policy)
            .u8(31, b[555]);
        let (r, _) = call(
            &c,
            h,
            name_buf(dst, None),
            &format!("Failed to create VDI {dst}"),
        )
        .await?;
        if prealloc {
            // Copy every allocated object of the snapshot into the clone.
            let new_vid = r.u32(24);
            let nb = read_obj(&c, inode_oid(new_vid), 0, INODE_SIZE, DIRECT).await?;
            let nino = Inode::parse(&nb);
            let osz = ino.obj_size() as u32;
            for idx in 0..ino.nr_objs() as u32 {
                let owner = ino.owner(idx);
                if owner == 0 {
                    continue;
                }
                let data = read_obj(&c, data_oid(owner, idx), 0, osz, 0).await?;
                write_piece(&c, &nino, idx, 0, data).await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn vdi_resize(&mut self, name: &str, size: u64) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let vid = self.find(&c, name, &Snap::default()).await?;
        let b = read_obj(&c, inode_oid(vid), 0, HDR_SIZE, DIRECT).await?;
        let ino = Inode::parse(&b);
        if size < ino.size {
            return Err(DogError::Other("Shrinking VDIs is not implemented".into()));
        }
        let max = (1u64 << 20) * ino.obj_size();
        if size > max {
            return Err(DogError::Other(format!(
                "New VDI size is too large. This size should not exceed {max} bytes"
            )));
        }
        let mut nb = b.to_vec();
        nb[536..544].copy_from_slice(&size.to_le_bytes());
        write_obj(
            &c,
            WRITE_OBJ,
            inode_oid(vid),
            0,
            0,
            nb.into(),
            DIRECT,
            ino.copies,
            ino.copy_policy,
        )
        .await
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
        let b = read_obj(&c, inode_oid(vid), 0, INODE_SIZE, DIRECT).await?;
        let mut ino = Inode::parse(&b);
        ino.vid = vid;
        let len = len.unwrap_or(ino.size.saturating_sub(off));
        if off.checked_add(len).is_none_or(|e| e > ino.size) {
            return Err(DogError::Other(format!(
                "Invalid offset/length: {off}+{len} is beyond the VDI size {}",
                ino.size
            )));
        }
        let pb = progress(self.env.progress, len);
        let ino = Arc::new(ino);
        let osz = ino.obj_size();
        let mut q: VecDeque<tokio::task::JoinHandle<Result<Bytes, DogError>>> = VecDeque::new();
        let mut pos = off;
        let end = off + len;
        while pos < end || !q.is_empty() {
            while pos < end && q.len() < self.inflight {
                let idx = (pos / osz) as u32;
                let inoff = pos % osz;
                let n = (osz - inoff).min(end - pos);
                let owner = ino.owner(idx);
                let c2 = c.clone();
                q.push_back(tokio::spawn(async move {
                    if owner == 0 {
                        Ok(Bytes::from(vec![0u8; n as usize]))
                    } else {
                        read_obj(&c2, data_oid(owner, idx), inoff as u32, n as u32, 0).await
                    }
                }));
                pos += n;
            }
            let Some(h) = q.pop_front() else { break };
            let data = h
                .await
                .map_err(|e| DogError::Other(format!("read task failed: {e}")))??;
            pb.inc(data.len() as u64);
            self.env
                .stdout
                .write_all(&data)
                .await
                .map_err(|e| DogError::Other(format!("Failed to write to stdout: {e}")))?;
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
        let b = read_obj(&c, inode_oid(vid), 0, INODE_SIZE, DIRECT).await?;
        let mut ino = Inode::parse(&b);
        ino.vid = vid;
        let len = len.unwrap_or(ino.size.saturating_sub(off));
        if off.checked_add(len).is_none_or(|e| e > ino.size) {
            return Err(DogError::Other(format!(
                "Invalid offset/length: {off}+{len} is beyond the VDI size {}",
                ino.size
            )));
        }
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
        let mut first_err = None;
        while pos < end {
            let Ok(permit) = sem.clone().acquire_owned().await else {
                break;
            };
            while let Some(r) = set.try_join_next() {
                if let Err(e) = r.unwrap_or_else(|e| Err(DogError::Other(e.to_string()))) {
                    first_err.get_or_insert(e);
                }
            }
            if first_err.is_some() {
                break;
            }
            let idx = (pos / osz) as u32;
            let inoff = pos % osz;
            let want = (osz - inoff).min(end - pos) as usize;
            let mut buf = vec![0u8; want];
            let mut got = want;
            if !zeros {
                got = 0;
                while got < want {
                    let n =
                        self.env.stdin.read(&mut buf[got..]).await.map_err(|e| {
                            DogError::Other(format!("Failed to read from stdin: {e}"))
                        })?;
                    if n == 0 {
                        break;
                    }
                    got += n;
                }
                buf.truncate(got);
            }
            if got == 0 {
                break;
            }
            let (c2, i2, pb2) = (c.clone(), ino.clone(), pb.clone());
            set.spawn(async move {
                let r = write_piece(&c2, &i2, idx, inoff as u32, buf.into()).await;
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
            if let Err(e) = r.unwrap_or_else(|e| Err(DogError::Other(e.to_string()))) {
                first_err.get_or_insert(e);
            }
        }
        pb.finish_and_clear();
        first_err.map_or(Ok(()), Err)
    }

    async fn attr(
        &self,
        c: &Client,
        name: &str,
        s: &Snap,
        key: &str,
        value: Option<&[u8]>,
        fl: u16,
    ) -> Result<(RspHdr, u32), DogError> {
        let mut a = vec![0u8; ATTR_SIZE];
        let put = |a: &mut [u8], at: usize, v: &[u8]| {
            let n = v.len().min(255);
            a[at..at + n].copy_from_slice(&v[..n]);
        };
        put(&mut a, 0, name.as_bytes());
        put(&mut a, 256, s.tag.as_bytes());
        a[520..524].copy_from_slice(&s.id.to_le_bytes());
        put(&mut a, 528, key.as_bytes());
        if let Some(v) = value {
            if v.len() > 65536 {
                return Err(DogError::Usage("Attribute value is too long".into()));
            }
            a[524..528].copy_from_slice(&(v.len() as u32).to_le_bytes());
            a[784..784 + v.len()].copy_from_slice(v);
        }
        let h = Hdr::new(GET_VDI_ATTR).flags(fl).u32(32, s.id);
        let (r, _) = call(
            c,
            h,
            a.into(),
            &format!("Failed to access attribute '{key}' of {name}"),
        )
        .await?;
        let oid_id = r.u32(28);
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
        let fl = WRITE | CREAT | if excl { EXCL } else { 0 };
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
        let b = read_obj(&c, attr_oid(r.u32(24), id), 0, ATTR_SIZE as u32, 0).await?;
        let n =
            (u32::from_le_bytes(b[524..528].try_into().unwrap_or_default()) as usize).min(65536);
        let v = b[784..784 + n].to_vec();
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
        let ino = Inode::parse(&b);
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
                let h = Hdr::new(GET_HASH).u64(16, oid);
                let (r, _) = send(nc, h, Bytes::new())
                    .await
                    .map_err(|e| DogError::client("Failed to get object hash", e))?;
                if r.result() == 0 {
                    hashes.entry(r.0[24..44].to_vec()).or_default().push(i);
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
                    WRITE_OBJ,
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
