//! VDI op handlers: NEW_VDI (create, snapshot, clone), GET_VDI_INFO,
//! LOCK_VDI, RELEASE_VDI, DEL_VDI, READ_VDIS, READ_DEL_VDIS, GET_VDI_ATTR.

use bytes::Bytes;

use super::{cstr, new_inode_header, off, VdiMeta};
use crate::daemon::cluster::now_ctime;
use crate::daemon::{lock, Ctx, Reply, State};
use crate::gateway::store_err;
use crate::proto::oid::{Oid, SD_INODE_DATA_INDEX, SD_INODE_DATA_VDI_ID_OFFSET, SD_INODE_SIZE};
use crate::proto::{SdResult, VdiReq, VdiRsp};

fn vdi_reply(vid: u32, m: &VdiMeta) -> Reply {
    Reply::ok().vdi(VdiRsp {
        vdi_id: vid,
        copies: m.copies,
        block_size_shift: m.block_size_shift,
        ..VdiRsp::default()
    })
}

/// (name, tag) from a name[256] (+ tag[256]) payload.
fn name_tag(p: &[u8]) -> Result<(Vec<u8>, Vec<u8>), SdResult> {
    if p.len() < 256 || p.len() > 512 + 64 {
        return Err(SdResult::InvalidParms);
    }
    let name = cstr(&p[..256]).to_vec();
    let tag = if p.len() >= 512 {
        cstr(&p[256..512]).to_vec()
    } else {
        Vec::new()
    };
    if name.is_empty() {
        return Err(SdResult::InvalidParms);
    }
    Ok((name, tag))
}

/// NEW_VDI (create, snapshot or clone), under the VDI op lock.
pub async fn new_vdi(cx: &Ctx, a: VdiReq) -> Reply {
    let _g = cx.st.vdi_ops.lock().await;
    create_vdi(&cx.st, &cx.payload, a)
        .await
        .unwrap_or_else(Reply::code)
}

/// GET_VDI_INFO: the vid of name/tag/snapid.
pub async fn get_vdi_info(cx: &Ctx, a: VdiReq) -> Reply {
    find(cx, a, false).unwrap_or_else(Reply::code)
}

/// LOCK_VDI: looks the VDI up and locks it with `vdi.type`.
pub async fn lock_vdi(cx: &Ctx, a: VdiReq) -> Reply {
    find(cx, a, true).unwrap_or_else(Reply::code)
}

fn find(cx: &Ctx, a: VdiReq, take_lock: bool) -> Result<Reply, SdResult> {
    let (name, tag) = name_tag(&cx.payload)?;
    let t = cx.st.vdis.read().unwrap_or_else(|e| e.into_inner());
    let vid = t.lookup(&name, &tag, a.snapid)?;
    let m = t.vdis[&vid].clone();
    drop(t);
    if take_lock {
        lock(&cx.st.locks).lock(vid, a.lock_type)?;
    }
    Ok(vdi_reply(vid, &m))
}

/// RELEASE_VDI: unlocks vid `vdi.base_vdi_id`.
pub async fn release_vdi(cx: &Ctx, a: VdiReq) -> Reply {
    match lock(&cx.st.locks).release(a.base_vdi_id) {
        Ok(()) => Reply::ok(),
        Err(c) => Reply::code(c),
    }
}

/// DEL_VDI, under the VDI op lock.
pub async fn del_vdi(cx: &Ctx, a: VdiReq) -> Reply {
    let _g = cx.st.vdi_ops.lock().await;
    delete_vdi(&cx.st, &cx.payload, a)
        .await
        .unwrap_or_else(Reply::code)
}

/// READ_VDIS: the in-use bitmap.
pub fn read_vdis(cx: &Ctx) -> Reply {
    let t = cx.st.vdis.read().unwrap_or_else(|e| e.into_inner());
    Reply::data(t.in_use_bitmap())
}

/// READ_DEL_VDIS: the deleted bitmap.
pub fn read_del_vdis(cx: &Ctx) -> Reply {
    let t = cx.st.vdis.read().unwrap_or_else(|e| e.into_inner());
    Reply::data(t.deleted_bitmap())
}

/// NEW_VDI: a fresh VDI, a snapshot (`snapid != 0`: the base is frozen in
/// place and the working VDI moves to a new vid) or a clone of a snapshot.
async fn create_vdi(st: &State, payload: &Bytes, a: VdiReq) -> Result<Reply, SdResult> {
    if payload.len() != 256 {
        return Err(SdResult::InvalidParms);
    }
    let name = cstr(payload).to_vec();
    if name.is_empty() {
        return Err(SdResult::InvalidParms);
    }
    let fmt = st.format().ok_or(SdResult::WaitForFormat)?;
    let (new_vid, base) = {
        let t = st.vdis.read().unwrap_or_else(|e| e.into_inner());
        let base = if a.base_vdi_id != 0 {
            let b = t
                .vdis
                .get(&a.base_vdi_id)
                .cloned()
                .ok_or(SdResult::NoBaseVdi)?;
            if b.is_deleted() {
                return Err(SdResult::NoBaseVdi);
            }
            Some(b)
        } else {
            None
        };
        let snapshot = a.snapid != 0;
        if snapshot {
            let b = base.as_ref().ok_or(SdResult::NoBaseVdi)?;
            if b.is_snapshot() || b.name != name {
                return Err(SdResult::NoBaseVdi);
            }
        } else if t.lookup(&name, b"", 0).is_ok() {
            return Err(SdResult::VdiExist);
        }
        (t.alloc_vid(&name).ok_or(SdResult::FullVdi)?, base)
    };
    let now = now_ctime();
    let inode = match &base {
        None => {
            let shift = match a.block_size_shift {
                0 => st.default_shift(),
                s if (20..=31).contains(&s) => s,
                _ => return Err(SdResult::InvalidParms),
            };
            let max = (u64::from(SD_INODE_DATA_INDEX)) << shift;
            if a.vdi_size == 0 || a.vdi_size > max {
                return Err(SdResult::InvalidParms);
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
                    return Err(SdResult::InvalidParms);
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
    let m = t.vdis.get(&new_vid).cloned().ok_or(SdResult::Eio)?;
    tracing::info!(vid = format_args!("{new_vid:x}"), name = %String::from_utf8_lossy(&name),
        snapshot = a.snapid != 0, clone = base.is_some() && a.snapid == 0, "new vdi");
    Ok(vdi_reply(new_vid, &m))
}

/// DEL_VDI: the VDI's own data objects go (unless a live descendant may
/// still read them), and the inode is kept with an empty name, so its vid
/// stays in use and shows in the deleted bitmap.
async fn delete_vdi(st: &State, payload: &Bytes, a: VdiReq) -> Result<Reply, SdResult> {
    let (name, tag) = name_tag(payload)?;
    let (vid, keep_data) = {
        let t = st.vdis.read().unwrap_or_else(|e| e.into_inner());
        let vid = t.lookup(&name, &tag, a.snapid)?;
        (vid, t.has_live_descendants(vid))
    };
    if lock(&st.locks).get(vid).is_some() {
        return Err(SdResult::VdiLocked);
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
    Ok(Reply::ok().vdi(VdiRsp {
        vdi_id: vid,
        ..VdiRsp::default()
    }))
}
