//! VDI op handlers: NEW_VDI (create, snapshot, clone), GET_VDI_INFO,
//! LOCK_VDI, RELEASE_VDI, DEL_VDI, READ_VDIS, READ_DEL_VDIS, GET_VDI_ATTR.

use std::sync::Arc;

use bytes::Bytes;

use super::{cstr, new_inode_header, off, VdiMeta};
use crate::daemon::cluster::now_ctime;
use crate::daemon::{lock, Reply, Request, State};
use crate::gateway::store_err;
use crate::net::frame::{op, res, Req};
use crate::proto::oid::{Oid, SD_INODE_DATA_INDEX, SD_INODE_DATA_VDI_ID_OFFSET, SD_INODE_SIZE};

/// The `vdi` request arm (fact sheet §3.1).
#[derive(Debug, Clone, Copy)]
pub struct VdiArgs {
    /// Size in bytes.
    pub vdi_size: u64,
    /// Base (or, for RELEASE, the vid).
    pub base_vdi_id: u32,
    /// Copies (0 = default).
    pub copies: u8,
    /// Copy policy.
    pub copy_policy: u8,
    /// Store policy.
    pub store_policy: u8,
    /// Object size shift (0 = default).
    pub block_size_shift: u8,
    /// Snapshot id.
    pub snapid: u32,
    /// Lock type.
    pub ty: u32,
}

impl VdiArgs {
    /// Reads the arm.
    pub fn of(h: &Req) -> VdiArgs {
        VdiArgs {
            vdi_size: h.u64_at(16),
            base_vdi_id: h.u32_at(24),
            copies: h.u8_at(28),
            copy_policy: h.u8_at(29),
            store_policy: h.u8_at(30),
            block_size_shift: h.u8_at(31),
            snapid: h.u32_at(32),
            ty: h.u32_at(36),
        }
    }
}

fn vdi_reply(vid: u32, m: &VdiMeta) -> Reply {
    Reply::ok()
        .u32_at(24, vid)
        .u8_at(32, m.copies)
        .u8_at(33, m.block_size_shift)
}

/// (name, tag) from a name[256] (+ tag[256]) payload.
fn name_tag(p: &[u8]) -> Result<(Vec<u8>, Vec<u8>), u32> {
    if p.len() < 256 || p.len() > 512 + 64 {
        return Err(res::INVALID_PARMS);
    }
    let name = cstr(&p[..256]).to_vec();
    let tag = if p.len() >= 512 {
        cstr(&p[256..512]).to_vec()
    } else {
        Vec::new()
    };
    if name.is_empty() {
        return Err(res::INVALID_PARMS);
    }
    Ok((name, tag))
}

/// Handles a VDI op.
pub async fn handle(st: &Arc<State>, req: &Request) -> Reply {
    let a = VdiArgs::of(&req.hdr);
    match req.hdr.opcode {
        op::NEW_VDI => {
            let _g = st.vdi_ops.lock().await;
            new_vdi(st, req, a).await.unwrap_or_else(Reply::code)
        }
        op::GET_VDI_INFO | op::LOCK_VDI => {
            let (name, tag) = match name_tag(&req.payload) {
                Ok(x) => x,
                Err(c) => return Reply::code(c),
            };
            let t = st.vdis.read().unwrap_or_else(|e| e.into_inner());
            let vid = match t.lookup(&name, &tag, a.snapid) {
                Ok(v) => v,
                Err(c) => return Reply::code(c),
            };
            let m = t.vdis[&vid].clone();
            drop(t);
            if req.hdr.opcode == op::LOCK_VDI {
                if let Err(c) = lock(&st.locks).lock(vid, a.ty) {
                    return Reply::code(c);
                }
            }
            vdi_reply(vid, &m)
        }
        op::RELEASE_VDI => match lock(&st.locks).release(a.base_vdi_id) {
            Ok(()) => Reply::ok(),
            Err(c) => Reply::code(c),
        },
        op::DEL_VDI => {
            let _g = st.vdi_ops.lock().await;
            del_vdi(st, req, a).await.unwrap_or_else(Reply::code)
        }
        op::READ_VDIS | op::READ_DEL_VDIS => {
            let t = st.vdis.read().unwrap_or_else(|e| e.into_inner());
            let bm = if req.hdr.opcode == op::READ_VDIS {
                t.in_use_bitmap()
            } else {
                t.deleted_bitmap()
            };
            Reply::data(bm)
        }
        op::GET_VDI_ATTR => {
            let _g = st.vdi_ops.lock().await;
            super::attr::get_vdi_attr(st, req).await
        }
        _ => Reply::code(res::INVALID_PARMS),
    }
}

/// NEW_VDI: a fresh VDI, a snapshot (`snapid != 0`: the base is frozen in
/// place and the working VDI moves to a new vid) or a clone of a snapshot.
async fn new_vdi(st: &State, req: &Request, a: VdiArgs) -> Result<Reply, u32> {
    if req.payload.len() != 256 {
        return Err(res::INVALID_PARMS);
    }
    let name = cstr(&req.payload).to_vec();
    if name.is_empty() {
        return Err(res::INVALID_PARMS);
    }
    let fmt = st.format().ok_or(res::WAIT_FOR_FORMAT)?;
    let (new_vid, base) = {
        let t = st.vdis.read().unwrap_or_else(|e| e.into_inner());
        let base = if a.base_vdi_id != 0 {
            let b = t
                .vdis
                .get(&a.base_vdi_id)
                .cloned()
                .ok_or(res::NO_BASE_VDI)?;
            if b.is_deleted() {
                return Err(res::NO_BASE_VDI);
            }
            Some(b)
        } else {
            None
        };
        let snapshot = a.snapid != 0;
        if snapshot {
            let b = base.as_ref().ok_or(res::NO_BASE_VDI)?;
            if b.is_snapshot() || b.name != name {
                return Err(res::NO_BASE_VDI);
            }
        } else if t.lookup(&name, b"", 0).is_ok() {
            return Err(res::VDI_EXIST);
        }
        (t.alloc_vid(&name).ok_or(res::FULL_VDI)?, base)
    };
    let now = now_ctime();
    let inode = match &base {
        None => {
            let shift = match a.block_size_shift {
                0 => st.default_shift(),
                s if (20..=31).contains(&s) => s,
                _ => return Err(res::INVALID_PARMS),
            };
            let max = (u64::from(SD_INODE_DATA_INDEX)) << shift;
            if a.vdi_size == 0 || a.vdi_size > max {
                return Err(res::INVALID_PARMS);
            }
            let copies = if a.copies == 0 {
                fmt.copies
            } else {
                a.copies.min(31)
            };
            new_inode_header(
                &name,
                new_vid,
                a.vdi_size,
                copies,
                a.copy_policy,
                a.store_policy,
                shift,
                1,
                0,
                now,
            )
        }
        Some(b) => {
            let base_oid = Oid::inode(a.base_vdi_id).0;
            let len = SD_INODE_DATA_VDI_ID_OFFSET + 4 * SD_INODE_DATA_INDEX as usize;
            let mut ino = st
                .replicas
                .read(base_oid, 0, len)
                .await
                .map_err(|e| store_err(&e))?;
            let snapshot = a.snapid != 0;
            let put32 = |ino: &mut Vec<u8>, o: usize, v: u32| {
                ino[o..o + 4].copy_from_slice(&v.to_le_bytes());
            };
            let put64 = |ino: &mut Vec<u8>, o: usize, v: u64| {
                ino[o..o + 8].copy_from_slice(&v.to_le_bytes());
            };
            ino[..512].fill(0);
            ino[..name.len().min(255)].copy_from_slice(&name[..name.len().min(255)]);
            put64(&mut ino, off::CREATE_TIME, now);
            put64(&mut ino, off::SNAP_CTIME, 0);
            if a.vdi_size != 0 {
                if a.vdi_size < b.vdi_size {
                    return Err(res::INVALID_PARMS);
                }
                put64(&mut ino, off::VDI_SIZE, a.vdi_size);
            }
            put32(
                &mut ino,
                off::SNAP_ID,
                if snapshot { b.snap_id + 1 } else { 1 },
            );
            put32(&mut ino, off::VDI_ID, new_vid);
            put32(&mut ino, off::PARENT_VDI_ID, a.base_vdi_id);
            ino
        }
    };
    // Create the new inode first: a crash before the base is frozen leaves
    // the base writable, never a VDI without a working image.
    st.replicas
        .create_and_write(
            Oid::inode(new_vid).0,
            SD_INODE_SIZE,
            0,
            Bytes::from(inode),
            None,
        )
        .await
        .map_err(|e| store_err(&e))?;
    if a.snapid != 0 {
        let ts = Bytes::copy_from_slice(&now.to_le_bytes());
        st.replicas
            .write(Oid::inode(a.base_vdi_id).0, off::SNAP_CTIME as u64, ts)
            .await
            .map_err(|e| store_err(&e))?;
    }
    let mut t = st.vdis.write().unwrap_or_else(|e| e.into_inner());
    t.refresh(st.store.as_ref(), new_vid);
    if a.snapid != 0 {
        t.refresh(st.store.as_ref(), a.base_vdi_id);
    }
    let m = t.vdis.get(&new_vid).cloned().ok_or(res::EIO)?;
    tracing::info!(vid = format_args!("{new_vid:x}"), name = %String::from_utf8_lossy(&name),
        snapshot = a.snapid != 0, clone = base.is_some() && a.snapid == 0, "new vdi");
    Ok(vdi_reply(new_vid, &m))
}

/// DEL_VDI: the VDI's own data objects go (unless a live descendant may
/// still read them), and the inode is kept with an empty name, so its vid
/// stays in use and shows in the deleted bitmap.
async fn del_vdi(st: &State, req: &Request, a: VdiArgs) -> Result<Reply, u32> {
    let (name, tag) = name_tag(&req.payload)?;
    let (vid, keep_data) = {
        let t = st.vdis.read().unwrap_or_else(|e| e.into_inner());
        let vid = t.lookup(&name, &tag, a.snapid)?;
        (vid, t.has_live_descendants(vid))
    };
    if lock(&st.locks).get(vid).is_some() {
        return Err(res::VDI_LOCKED);
    }
    let ioid = Oid::inode(vid).0;
    if !keep_data {
        let idx = st
            .replicas
            .read(
                ioid,
                SD_INODE_DATA_VDI_ID_OFFSET as u64,
                4 * SD_INODE_DATA_INDEX as usize,
            )
            .await
            .map_err(|e| store_err(&e))?;
        for (i, c) in idx.chunks_exact(4).enumerate() {
            if u32::from_le_bytes(c.try_into().unwrap()) == vid {
                match st.replicas.remove(Oid::data(vid, i as u32).0).await {
                    Ok(()) | Err(crate::store::StoreError::NoObj(_)) => {}
                    Err(e) => return Err(store_err(&e)),
                }
            }
        }
    }
    st.replicas
        .write(ioid, 0, Bytes::from(vec![0u8; 256]))
        .await
        .map_err(|e| store_err(&e))?;
    st.vdis
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .refresh(st.store.as_ref(), vid);
    tracing::info!(vid = format_args!("{vid:x}"), "vdi deleted");
    Ok(Reply::ok().u32_at(24, vid))
}
