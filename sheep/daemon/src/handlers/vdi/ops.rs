//! VDI op handlers: NEW_VDI (create, snapshot, clone), GET_VDI_INFO,
//! LOCK_VDI, RELEASE_VDI, DEL_VDI, READ_VDIS, READ_DEL_VDIS, GET_VDI_ATTR.

use bytes::Bytes;

use std::collections::{BTreeMap, BTreeSet};

use super::{encode_header, header_field_offset, new_inode_header, VdiMeta};
use crate::cluster::state::now_ctime;
use crate::handlers::{Ctx, Reply, Services};
use crate::proto::cluster_info::{c_str, padded};
use crate::proto::inode::data_vdi_id_offset;
use crate::proto::oid::{Oid, SD_INODE_DATA_INDEX, SD_INODE_SIZE};
use crate::proto::payload::{VdiName, VdiNameTag};
use crate::proto::{Inode, InodeHeader, SdResult, VdiReq, VdiRsp};
use crate::sync::lock;

fn vdi_reply(vid: u32, m: &VdiMeta) -> Reply {
    Reply::ok().vdi(VdiRsp {
        vdi_id: vid,
        copies: m.copies,
        block_size_shift: m.block_size_shift,
        ..VdiRsp::default()
    })
}

/// (name, tag) from a [`VdiNameTag`] payload, or a bare [`VdiName`] (no
/// tag). Extra trailing bytes (up to 64) are tolerated as before.
fn name_tag(p: &[u8]) -> Result<(Vec<u8>, Vec<u8>), SdResult> {
    if p.len() > 512 + 64 {
        return Err(SdResult::InvalidParms);
    }
    let (name, tag) = if let Ok(nt) = sdwire::from_slice::<VdiNameTag>(p, 0) {
        (c_str(&nt.name).to_vec(), c_str(&nt.tag).to_vec())
    } else {
        let n = sdwire::from_slice::<VdiName>(p, 0).map_err(|_| SdResult::InvalidParms)?;
        (n.as_bytes().to_vec(), Vec::new())
    };
    if name.is_empty() {
        return Err(SdResult::InvalidParms);
    }
    Ok((name, tag))
}

/// NEW_VDI (create, snapshot or clone), under the VDI op lock.
pub async fn new_vdi(cx: &Ctx, a: VdiReq) -> Reply {
    crate::replication::recovery::wait_metadata(&cx.st).await;
    let _g = cx.st.vdi_ops.lock().await;
    create_vdi(&cx.st, &cx.payload, a)
        .await
        .unwrap_or_else(Reply::code)
}

/// GET_VDI_INFO: the vid of name/tag/snapid.
pub async fn get_vdi_info(cx: &Ctx, a: VdiReq) -> Reply {
    crate::replication::recovery::wait_metadata(&cx.st).await;
    find(cx, a, false).unwrap_or_else(Reply::code)
}

/// LOCK_VDI: looks the VDI up and locks it with `vdi.type`.
pub async fn lock_vdi(cx: &Ctx, a: VdiReq) -> Reply {
    crate::replication::recovery::wait_metadata(&cx.st).await;
    find(cx, a, true).unwrap_or_else(Reply::code)
}

fn find(cx: &Ctx, a: VdiReq, take_lock: bool) -> Result<Reply, SdResult> {
    let (name, tag) = name_tag(&cx.payload)?;
    let t = crate::sync::read(&cx.st.vdis);
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
    crate::replication::recovery::wait_metadata(&cx.st).await;
    let _g = cx.st.vdi_ops.lock().await;
    delete_vdi(&cx.st, &cx.payload, a)
        .await
        .unwrap_or_else(Reply::code)
}

/// READ_VDIS: the in-use bitmap.
pub fn read_vdis(cx: &Ctx) -> Reply {
    let t = crate::sync::read(&cx.st.vdis);
    Reply::data(t.in_use_bitmap())
}

/// READ_DEL_VDIS: the deleted bitmap.
pub fn read_del_vdis(cx: &Ctx) -> Reply {
    let t = crate::sync::read(&cx.st.vdis);
    Reply::data(t.deleted_bitmap())
}

/// NEW_VDI: a fresh VDI, a snapshot (`snapid != 0`: the base is frozen in
/// place and the working VDI moves to a new vid) or a clone of a snapshot.
async fn create_vdi(st: &Services, payload: &Bytes, a: VdiReq) -> Result<Reply, SdResult> {
    let name = sdwire::from_slice_exact::<VdiName>(payload, 0)
        .map_err(|_| SdResult::InvalidParms)?
        .as_bytes()
        .to_vec();
    if name.is_empty() {
        return Err(SdResult::InvalidParms);
    }
    let fmt = st.format().ok_or(SdResult::WaitForFormat)?;
    let (new_vid, base) = {
        let t = crate::sync::read(&st.vdis);
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
            encode_header(&new_inode_header(
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
            ))
        }
        Some(b) => {
            // The base's header and index; its gref stays zero in the new VDI.
            let base_oid = Oid::inode(a.base_vdi_id).0;
            let len = data_vdi_id_offset(SD_INODE_DATA_INDEX);
            let mut ino = st
                .replicas
                .read(st, base_oid, 0, len)
                .await
                .map_err(|e| e.result())?;
            let mut h = InodeHeader::from_prefix(&ino).map_err(|_| SdResult::Eio)?;
            let snapshot = a.snapid != 0;
            h.name = padded(&name[..name.len().min(255)]);
            h.tag = [0; 256];
            h.create_time = now;
            h.snap_ctime = 0;
            if a.vdi_size != 0 {
                if a.vdi_size < b.vdi_size {
                    return Err(SdResult::InvalidParms);
                }
                h.vdi_size = a.vdi_size;
            }
            h.snap_id = if snapshot { b.snap_id + 1 } else { 1 };
            h.vdi_id = new_vid;
            h.parent_vdi_id = a.base_vdi_id;
            ino[..InodeHeader::SIZE].copy_from_slice(&encode_header(&h));
            ino
        }
    };
    // Create the new inode first: a crash before the base is frozen leaves
    // the base writable, never a VDI without a working image.
    st.replicas
        .create_and_write(
            st,
            Oid::inode(new_vid).0,
            SD_INODE_SIZE,
            0,
            Bytes::from(inode),
            None,
        )
        .await
        .map_err(|e| e.result())?;
    if a.snapid != 0 {
        let ts = Bytes::copy_from_slice(&now.to_le_bytes());
        st.replicas
            .write(
                st,
                Oid::inode(a.base_vdi_id).0,
                header_field_offset("snap_ctime"),
                ts,
            )
            .await
            .map_err(|e| e.result())?;
    }
    let mut t = crate::sync::write(&st.vdis);
    t.refresh(st.store.as_ref(), new_vid);
    if a.snapid != 0 {
        t.refresh(st.store.as_ref(), a.base_vdi_id);
    }
    let m = t.vdis.get(&new_vid).cloned().ok_or(SdResult::Eio)?;
    tracing::info!(vid = format_args!("{new_vid:x}"), name = %String::from_utf8_lossy(&name),
        snapshot = a.snapid != 0, clone = base.is_some() && a.snapid == 0, "new vdi");
    Ok(vdi_reply(new_vid, &m))
}

/// The data_vdi_id array of `vid`, from its whole decoded [`Inode`].
async fn read_index(
    st: &Services,
    vid: u32,
) -> Result<Box<[u32; SD_INODE_DATA_INDEX as usize]>, SdResult> {
    let b = st
        .replicas
        .read(st, Oid::inode(vid).0, 0, Inode::SIZE)
        .await
        .map_err(|e| e.result())?;
    let ino: Inode = sdwire::from_slice(&b, 0).map_err(|_| SdResult::Eio)?;
    Ok(ino.data_vdi_id)
}

/// DEL_VDI: the inode is kept with an empty name, so its vid stays in use
/// and shows in the deleted bitmap, and the data objects that no live VDI
/// reads any more are removed.
///
/// Which objects a VDI owns is not taken from its index alone (the C dog
/// zeroes the index before it sends DEL_VDI): every data object in the store
/// whose vid is the deleted VDI's, or that of an earlier deleted VDI, is a
/// candidate, and a candidate survives only if a live VDI's data_vdi_id
/// still points at it (a snapshot's objects read through a clone or the
/// working image).
async fn delete_vdi(st: &Services, payload: &Bytes, a: VdiReq) -> Result<Reply, SdResult> {
    let (name, tag) = name_tag(payload)?;
    let vid = {
        let t = crate::sync::read(&st.vdis);
        t.lookup(&name, &tag, a.snapid)?
    };
    if lock(&st.locks).get(vid).is_some() {
        return Err(SdResult::VdiLocked);
    }
    let ioid = Oid::inode(vid).0;
    let own_index = read_index(st, vid).await?;
    st.replicas
        .write(
            st,
            ioid,
            header_field_offset("name"),
            Bytes::from(vec![0u8; 256]),
        )
        .await
        .map_err(|e| e.result())?;
    let t = {
        let mut t = crate::sync::write(&st.vdis);
        t.refresh(st.store.as_ref(), vid);
        t.vdis.clone()
    };
    let freed = reclaim(st, vid, &own_index[..], &t).await?;
    tracing::info!(vid = format_args!("{vid:x}"), freed, "vdi deleted");
    Ok(Reply::ok().vdi(VdiRsp {
        vdi_id: vid,
        ..VdiRsp::default()
    }))
}

/// Removes the data objects of deleted VDIs (`vid` and any earlier ones)
/// that no live VDI references. Returns how many went.
async fn reclaim(
    st: &Services,
    vid: u32,
    own_index: &[u32],
    t: &BTreeMap<u32, VdiMeta>,
) -> Result<usize, SdResult> {
    let dead = |v: u32| v == vid || t.get(&v).is_some_and(VdiMeta::is_deleted);
    let mut cand: BTreeSet<(u32, u32)> = own_index
        .iter()
        .enumerate()
        .filter(|(_, &o)| o == vid)
        .map(|(i, _)| (vid, i as u32))
        .collect();
    let store = st.store.clone();
    let listed = tokio::task::spawn_blocking(move || store.list())
        .await
        .map_err(|_| SdResult::Eio)?
        .map_err(|e| e.result())?;
    for oid in listed {
        let o = Oid(oid);
        if o.is_data() && dead(o.vid()) {
            cand.insert((o.vid(), o.index()));
        }
    }
    if cand.is_empty() {
        return Ok(0);
    }
    let dead_vids: BTreeSet<u32> = cand.iter().map(|&(v, _)| v).collect();
    // Only a live VDI descending from a dead one can point at its objects.
    let descends = |mut v: u32| {
        let mut hops = 0;
        while let Some(m) = t.get(&v) {
            if m.parent == 0 || hops > 1 << 16 {
                return false;
            }
            if dead_vids.contains(&m.parent) {
                return true;
            }
            v = m.parent;
            hops += 1;
        }
        false
    };
    for (&v, m) in t {
        if m.is_deleted() || v == vid || !descends(v) {
            continue;
        }
        for (i, &owner) in read_index(st, v).await?.iter().enumerate() {
            if owner != 0 && owner != v {
                cand.remove(&(owner, i as u32));
            }
        }
    }
    let mut freed = 0;
    for (v, i) in cand {
        match st.replicas.remove(st, Oid::data(v, i).0).await {
            Ok(()) => freed += 1,
            Err(e) if e.is_no_obj() => {}
            Err(e) => return Err(e.result()),
        }
    }
    Ok(freed)
}
