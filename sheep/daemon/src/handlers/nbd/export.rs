//! One exported VDI: NBD commands turned into object I/O through the
//! gateway's own paths ([`crate::handlers::gateway`]), with the VDI I/O
//! rules dog and tgtd follow ([`sheep_client::vdi_io`]): a write into an
//! object the VDI does not own creates it (copy-on-write from the owner)
//! and then points the inode's `data_vdi_id` entry at the VDI.

use std::sync::{Arc, RwLock};

use bytes::{Bytes, BytesMut};
use futures::future::try_join_all;
use sheep_client::vdi_io::{self, WritePlan};

use crate::handlers::gateway::{self, Via};
use crate::handlers::{Reply, Services};
use crate::proto::inode::{data_vdi_id_offset, IndexRun};
use crate::proto::nbd::{errno, CommandFlags, CommandHandler, Request, MAX_IO};
use crate::proto::{ObjReq, Oid, SdResult};

/// Which VDI an export name means: `NAME`, `NAME@TAG` or `NAME@SNAPID`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// The VDI name.
    pub name: Vec<u8>,
    /// Snapshot tag (empty: none).
    pub tag: Vec<u8>,
    /// Snapshot id (0: none).
    pub snapid: u32,
}

impl Selector {
    /// Parses an export name; anything after the last `@` selects a
    /// snapshot, by id when it is a number, else by tag.
    pub fn parse(export: &[u8]) -> Selector {
        match export.iter().rposition(|&b| b == b'@') {
            Some(at) => {
                let (name, snap) = (&export[..at], &export[at + 1..]);
                let id = std::str::from_utf8(snap)
                    .ok()
                    .and_then(|s| s.parse::<u32>().ok());
                Selector {
                    name: name.to_vec(),
                    tag: if id.is_some() {
                        Vec::new()
                    } else {
                        snap.to_vec()
                    },
                    snapid: id.unwrap_or(0),
                }
            }
            None => Selector {
                name: export.to_vec(),
                tag: Vec::new(),
                snapid: 0,
            },
        }
    }

    /// Whether the name selects a snapshot (exported read-only).
    pub fn is_snapshot(&self) -> bool {
        !self.tag.is_empty() || self.snapid != 0
    }
}

/// The current vid of an export and the cached `data_vdi_id` entries of
/// its objects.
#[derive(Debug)]
struct View {
    vid: u32,
    index: Vec<u32>,
}

/// An exported VDI, shared by every connection that exports it, so that
/// object creation is serialized once per VDI.
#[derive(Debug)]
pub struct Export {
    st: Arc<Services>,
    sel: Selector,
    /// Size in bytes.
    pub size: u64,
    /// Snapshots are exported read-only.
    pub read_only: bool,
    obj_size: u64,
    view: RwLock<View>,
    /// Held while an object is created and its index entry updated: one
    /// lock per object index modulo [`ALLOC_LOCKS`], so creations of
    /// different objects run in parallel.
    alloc: Vec<tokio::sync::Mutex<()>>,
}

/// Object creation locks per export.
const ALLOC_LOCKS: usize = 64;

/// A clear message for a lookup failure.
fn lookup_message(sel: &Selector, e: SdResult) -> String {
    let name = String::from_utf8_lossy(&sel.name);
    match e {
        SdResult::NoTag => format!(
            "VDI {name} has no snapshot tagged {:?}",
            String::from_utf8_lossy(&sel.tag)
        ),
        SdResult::NoVdi if sel.snapid != 0 => {
            format!("VDI {name} has no snapshot {}", sel.snapid)
        }
        SdResult::NoVdi => format!("no VDI named {name:?}"),
        e => format!("cannot open VDI {name:?}: {e:?}"),
    }
}

/// The payload of a gateway reply, or its error.
fn payload(r: Reply) -> Result<Bytes, SdResult> {
    if r.result == SdResult::Success {
        Ok(r.payload)
    } else {
        Err(r.result)
    }
}

fn done(r: Reply) -> Result<(), SdResult> {
    payload(r).map(|_| ())
}

fn obj(oid: u64, offset: u32) -> ObjReq {
    ObjReq {
        oid: Oid(oid),
        offset,
        ..ObjReq::default()
    }
}

/// The NBD error number of a sheep result.
pub fn errno_of(r: SdResult) -> u32 {
    match r {
        SdResult::Readonly => errno::EPERM,
        SdResult::NoSpace => errno::ENOSPC,
        SdResult::InvalidParms => errno::EINVAL,
        _ => errno::EIO,
    }
}

impl Export {
    /// Looks up the VDI an export name selects and loads its index.
    ///
    /// # Errors
    ///
    /// A message for the client when there is no such VDI or snapshot, or
    /// its inode cannot be read.
    pub async fn open(st: Arc<Services>, name: &[u8]) -> Result<Export, String> {
        let sel = Selector::parse(name);
        crate::replication::recovery::wait_metadata(&st).await;
        let (vid, meta) = {
            let t = crate::sync::read(&st.vdis);
            let vid = t
                .lookup(&sel.name, &sel.tag, sel.snapid)
                .map_err(|e| lookup_message(&sel, e))?;
            (vid, t.vdis[&vid].clone())
        };
        let shift = if (9..=31).contains(&meta.block_size_shift) {
            meta.block_size_shift
        } else {
            st.default_shift()
        };
        let obj_size = 1u64 << shift;
        let read_only = sel.is_snapshot() || meta.is_snapshot();
        let e = Export {
            st,
            sel,
            size: meta.vdi_size,
            read_only,
            obj_size,
            view: RwLock::new(View {
                vid,
                index: Vec::new(),
            }),
            alloc: (0..ALLOC_LOCKS)
                .map(|_| tokio::sync::Mutex::new(()))
                .collect(),
        };
        let index = e
            .load_index(vid)
            .await
            .map_err(|r| format!("cannot read the inode of VDI {vid:#x}: {r:?}"))?;
        crate::sync::write(&e.view).index = index;
        Ok(e)
    }

    /// The vid currently exported.
    pub fn vid(&self) -> u32 {
        crate::sync::read(&self.view).vid
    }

    /// The size the block size info advertises as preferred.
    pub fn obj_size(&self) -> u64 {
        self.obj_size
    }

    fn objects(&self) -> usize {
        self.size.div_ceil(self.obj_size) as usize
    }

    async fn load_index(&self, vid: u32) -> Result<Vec<u32>, SdResult> {
        let n = self.objects();
        if n == 0 {
            return Ok(Vec::new());
        }
        let off = data_vdi_id_offset(0) as u32;
        let r = gateway::read(
            &self.st,
            obj(Oid::inode(vid).0, off),
            4 * n,
            Via::Replicas,
            false,
        );
        let b = payload(r.await)?;
        let run: IndexRun = sdwire::from_slice(&b, 0).map_err(|_| SdResult::Eio)?;
        Ok(run.vids())
    }

    /// Re-reads index entry `idx` (another client may have written it).
    async fn refresh_entry(&self, vid: u32, idx: u32) -> Result<u32, SdResult> {
        let off = data_vdi_id_offset(idx) as u32;
        let r = gateway::read(
            &self.st,
            obj(Oid::inode(vid).0, off),
            4,
            Via::Replicas,
            false,
        );
        let b = payload(r.await)?;
        let run: IndexRun = sdwire::from_slice(&b, 0).map_err(|_| SdResult::Eio)?;
        let owner = run.vids().first().copied().unwrap_or(0);
        let mut v = crate::sync::write(&self.view);
        if v.vid == vid {
            if let Some(e) = v.index.get_mut(idx as usize) {
                *e = owner;
            }
        }
        Ok(owner)
    }

    /// After a snapshot the working VDI has a new vid (writes into the old
    /// one answer READONLY): looks the name up again, as tgtd does.
    async fn reload(&self) -> Result<(), SdResult> {
        let vid = crate::sync::read(&self.st.vdis).lookup(&self.sel.name, &[], 0)?;
        let index = self.load_index(vid).await?;
        let mut v = crate::sync::write(&self.view);
        v.vid = vid;
        v.index = index;
        Ok(())
    }

    fn entry(&self, idx: u32) -> (u32, u32) {
        let v = crate::sync::read(&self.view);
        (v.vid, v.index.get(idx as usize).copied().unwrap_or(0))
    }

    async fn read_piece(&self, p: vdi_io::Piece) -> Result<Bytes, SdResult> {
        let (vid, mut owner) = self.entry(p.idx);
        if owner == 0 {
            owner = self.refresh_entry(vid, p.idx).await?;
        }
        for _ in 0..2 {
            let Some(oid) = vdi_io::read_source(p.idx, owner) else {
                return Ok(Bytes::from(vec![0; p.len as usize]));
            };
            let r = gateway::read(
                &self.st,
                obj(oid, p.offset),
                p.len as usize,
                Via::Replicas,
                false,
            );
            match payload(r.await) {
                // Discarded meanwhile by another client: look again.
                Err(SdResult::NoObj) => owner = self.refresh_entry(vid, p.idx).await?,
                r => return r,
            }
        }
        Err(SdResult::NoObj)
    }

    /// Reads `len` bytes at `offset` (holes read as zeros).
    async fn read(&self, offset: u64, len: u32) -> Result<Bytes, SdResult> {
        let parts =
            vdi_io::pieces(offset, u64::from(len), self.obj_size).map(|p| self.read_piece(p));
        let mut parts = try_join_all(parts).await?;
        if parts.len() == 1 {
            return Ok(parts.pop().unwrap_or_default());
        }
        let mut out = BytesMut::with_capacity(len as usize);
        for b in parts {
            out.extend_from_slice(&b);
        }
        Ok(out.freeze())
    }

    async fn write_once(&self, p: vdi_io::Piece, data: Bytes) -> Result<(), SdResult> {
        let (vid, owner) = self.entry(p.idx);
        if let WritePlan::InPlace { oid } = WritePlan::new(vid, p.idx, owner) {
            return self.write_in_place(oid, p.offset, data).await;
        }
        let g = self.alloc[p.idx as usize % ALLOC_LOCKS].lock().await;
        let (vid, owner) = self.entry(p.idx);
        match WritePlan::new(vid, p.idx, owner) {
            WritePlan::InPlace { oid } => {
                // Created meanwhile by another request.
                drop(g);
                self.write_in_place(oid, p.offset, data).await
            }
            WritePlan::Create { oid, cow } => {
                if gateway::readonly(&self.st, Oid(oid)) {
                    return Err(SdResult::Readonly);
                }
                let r = gateway::create_and_write(
                    &self.st,
                    obj(oid, p.offset),
                    data,
                    cow,
                    Via::Replicas,
                );
                done(r.await)?;
                let run =
                    sdwire::to_bytes(&IndexRun::new(vec![vid]), 0).map_err(|_| SdResult::Eio)?;
                let at = obj(Oid::inode(vid).0, data_vdi_id_offset(p.idx) as u32);
                done(gateway::write(&self.st, at, run, Via::Replicas).await)?;
                let mut v = crate::sync::write(&self.view);
                if v.vid == vid {
                    if let Some(e) = v.index.get_mut(p.idx as usize) {
                        *e = vid;
                    }
                }
                Ok(())
            }
        }
    }

    async fn write_in_place(&self, oid: u64, offset: u32, data: Bytes) -> Result<(), SdResult> {
        if gateway::readonly(&self.st, Oid(oid)) {
            return Err(SdResult::Readonly);
        }
        done(gateway::write(&self.st, obj(oid, offset), data, Via::Replicas).await)
    }

    async fn write_piece(&self, p: vdi_io::Piece, data: Bytes) -> Result<(), SdResult> {
        match self.write_once(p, data.clone()).await {
            Err(SdResult::Readonly) => {
                self.reload().await?;
                self.write_once(p, data).await
            }
            r => r,
        }
    }

    /// Writes `data` at `offset`.
    async fn write(&self, offset: u64, data: Bytes) -> Result<(), SdResult> {
        let parts = vdi_io::pieces(offset, data.len() as u64, self.obj_size).map(|p| {
            let at = p.at as usize;
            self.write_piece(p, data.slice(at..at + p.len as usize))
        });
        try_join_all(parts).await.map(|_| ())
    }

    /// Zeroes `len` bytes at `offset`: whole objects the VDI owns are
    /// discarded (unless `keep` asks for allocated zeros), holes stay
    /// holes, anything else gets zeros written.
    async fn zero(&self, offset: u64, len: u32, keep: bool) -> Result<(), SdResult> {
        let parts = vdi_io::pieces(offset, u64::from(len), self.obj_size).map(|p| async move {
            let (vid, owner) = self.entry(p.idx);
            let whole = u64::from(p.len) == self.obj_size;
            if owner == 0 && !keep {
                return Ok(());
            }
            if whole && owner == vid && !keep {
                done(gateway::discard(&self.st, Oid::data(vid, p.idx)).await)?;
                let mut v = crate::sync::write(&self.view);
                if v.vid == vid {
                    if let Some(e) = v.index.get_mut(p.idx as usize) {
                        *e = 0;
                    }
                }
                return Ok(());
            }
            self.write_piece(p, Bytes::from(vec![0; p.len as usize]))
                .await
        });
        try_join_all(parts).await.map(|_| ())
    }

    /// Whether `len` bytes at `offset` lie inside the export.
    fn in_range(&self, offset: u64, len: u32) -> bool {
        offset
            .checked_add(u64::from(len))
            .is_some_and(|end| end <= self.size)
    }

    /// Checks a modifying command: read-only export, then range.
    fn check_write(&self, req: &Request, out_of_range: u32) -> Result<(), u32> {
        if self.read_only {
            return Err(errno::EPERM);
        }
        if !self.in_range(req.offset, req.length) {
            return Err(out_of_range);
        }
        Ok(())
    }
}

/// The context of one command: its request header.
#[derive(Debug, Clone, Copy)]
pub struct Call<'r> {
    /// The request.
    pub req: &'r Request,
}

/// What a command answers.
#[derive(Debug, Default)]
pub struct Answer {
    /// 0 or an NBD error number.
    pub error: u32,
    /// A READ's data.
    pub data: Bytes,
    /// DISC: close after the answers in flight.
    pub disconnect: bool,
}

impl Answer {
    fn of(r: Result<(), u32>) -> Answer {
        Answer {
            error: r.err().unwrap_or(0),
            ..Answer::default()
        }
    }
}

fn logged(req: &Request, what: &str, r: Result<(), SdResult>) -> Result<(), u32> {
    r.map_err(|e| {
        tracing::warn!(cookie = req.cookie, offset = req.offset, length = req.length, error = ?e, "nbd {what} failed");
        errno_of(e)
    })
}

impl<'r> CommandHandler<Call<'r>> for Export {
    type Output = Answer;

    async fn read(&self, c: Call<'r>) -> Answer {
        if c.req.length > MAX_IO || !self.in_range(c.req.offset, c.req.length) {
            return Answer::of(Err(errno::EINVAL));
        }
        match self.read(c.req.offset, c.req.length).await {
            Ok(data) => Answer {
                data,
                ..Answer::default()
            },
            Err(e) => Answer::of(logged(c.req, "read", Err(e))),
        }
    }

    async fn write(&self, c: Call<'r>, data: Bytes) -> Answer {
        // The spec prefers ENOSPC for a write past the end.
        if let Err(e) = self.check_write(c.req, errno::ENOSPC) {
            return Answer::of(Err(e));
        }
        // Acknowledged only when durable on every replica, so FUA needs
        // nothing more.
        let r = self.write(c.req.offset, data).await;
        Answer::of(logged(c.req, "write", r))
    }

    async fn disc(&self, _: Call<'r>) -> Answer {
        Answer {
            disconnect: true,
            ..Answer::default()
        }
    }

    async fn flush(&self, c: Call<'r>) -> Answer {
        let r = self.st.replicas.flush().await.map_err(|e| {
            tracing::warn!(error = %e, "nbd flush failed");
            SdResult::Eio
        });
        Answer::of(logged(c.req, "flush", r))
    }

    async fn trim(&self, c: Call<'r>) -> Answer {
        if let Err(e) = self.check_write(c.req, errno::EINVAL) {
            return Answer::of(Err(e));
        }
        let r = self.zero(c.req.offset, c.req.length, false).await;
        Answer::of(logged(c.req, "trim", r))
    }

    async fn write_zeroes(&self, c: Call<'r>) -> Answer {
        if let Err(e) = self.check_write(c.req, errno::ENOSPC) {
            return Answer::of(Err(e));
        }
        let keep = c.req.flags.contains(CommandFlags::NO_HOLE);
        let r = self.zero(c.req.offset, c.req.length, keep).await;
        Answer::of(logged(c.req, "write_zeroes", r))
    }

    async fn unknown_op(&self, c: Call<'r>, kind: u16) -> Answer {
        tracing::warn!(kind, cookie = c.req.cookie, "nbd: unknown command");
        Answer::of(Err(errno::EINVAL))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn export_names_select_vdis_and_snapshots() {
        let s = Selector::parse(b"disk");
        assert_eq!((s.name.as_slice(), s.is_snapshot()), (&b"disk"[..], false));
        let s = Selector::parse(b"disk@before");
        assert_eq!(
            (s.name.as_slice(), s.tag.as_slice(), s.snapid),
            (&b"disk"[..], &b"before"[..], 0)
        );
        let s = Selector::parse(b"a@b@2");
        assert_eq!(
            (s.name.as_slice(), s.tag.as_slice(), s.snapid),
            (&b"a@b"[..], &b""[..], 2)
        );
        assert!(s.is_snapshot());
    }

    #[test]
    fn sheep_results_map_to_nbd_errors() {
        assert_eq!(errno_of(SdResult::Readonly), errno::EPERM);
        assert_eq!(errno_of(SdResult::NoSpace), errno::ENOSPC);
        assert_eq!(errno_of(SdResult::Eio), errno::EIO);
    }
}
