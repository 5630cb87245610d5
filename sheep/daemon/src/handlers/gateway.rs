//! Client-facing object I/O (CREATE_AND_WRITE/READ/WRITE/REMOVE/DISCARD_OBJ,
//! FLUSH_VDI, GET_HASH, EXIST), sent to the object's
//! [`Replicas`](crate::replication::replicas::Replicas).
//!
//! Writes into the objects of a snapshot (a frozen image) answer READONLY,
//! which is how tgtd learns that its VDI was snapshotted.

use crate::handlers::{Ctx, Reply, Services};
use crate::proto::oid::{Oid, OidKind, SD_INODE_DATA_VDI_ID_OFFSET};
use crate::proto::{HashRsp, ObjReq, ReqFlags, RspArm, SdResult};
use crate::replication::replicas::ObjData;
use crate::replication::ReplicaError;

/// The COW source of a create request: `cow_oid` when COW is set.
pub fn cow_source(h: &crate::proto::ReqHeader, a: &ObjReq) -> Option<u64> {
    (h.flags.contains(ReqFlags::COW) && a.cow_oid.0 != 0).then_some(a.cow_oid.0)
}

/// The size of `oid`: by kind, data objects by their VDI's block_size_shift.
pub fn object_size(st: &Services, oid: Oid) -> usize {
    let shift = match oid.kind() {
        OidKind::Data | OidKind::Vmstate => crate::sync::read(&st.vdis)
            .vdis
            .get(&oid.vid())
            .map(|m| m.block_size_shift)
            .filter(|&s| (9..=31).contains(&s))
            .unwrap_or_else(|| st.default_shift()),
        _ => 0,
    };
    oid.object_size(shift)
}

/// Whether writes to `oid` must be refused because its VDI is a snapshot.
///
/// Only data objects, as in sheepdog 1.0 (`oid_is_readonly`): a snapshot's
/// inode, VM state and attributes stay writable. The C dog relies on it:
/// `vdi delete -s` zeroes the snapshot inode's index before DEL_VDI and
/// gives up, leaving the snapshot, when that write is refused.
pub fn readonly(st: &Services, oid: Oid) -> bool {
    oid.kind() == OidKind::Data
        && crate::sync::read(&st.vdis)
            .vdis
            .get(&oid.vid())
            .is_some_and(|m| m.is_snapshot())
}

/// Checks that `offset..offset+len` fits in the object.
fn in_range(st: &Services, oid: Oid, offset: u32, len: usize) -> Result<usize, SdResult> {
    let size = object_size(st, oid);
    if (offset as usize)
        .checked_add(len)
        .is_none_or(|end| end > size)
    {
        return Err(SdResult::InvalidParms);
    }
    Ok(size)
}

/// CREATE_AND_WRITE_OBJ.
pub async fn create_and_write_obj(cx: &Ctx, a: ObjReq) -> Reply {
    if readonly(&cx.st, a.oid) {
        return Reply::code(SdResult::Readonly);
    }
    let cow = cow_source(&cx.hdr, &a);
    create_and_write(&cx.st, a, cx.payload.clone(), cow, Via::Replicas).await
}

/// Reads of at least this many bytes from a local replica are sent
/// with `sendfile(2)` from the object file (no copy through user space);
/// smaller ones are read into memory and coalesce with other answers.
const SENDFILE_MIN: usize = 64 << 10;

/// READ_OBJ.
pub async fn read_obj(cx: &Ctx, a: ObjReq) -> Reply {
    read(&cx.st, a, cx.hdr.data_length as usize, Via::Replicas, true).await
}

/// WRITE_OBJ.
pub async fn write_obj(cx: &Ctx, a: ObjReq) -> Reply {
    if readonly(&cx.st, a.oid) {
        return Reply::code(SdResult::Readonly);
    }
    write(&cx.st, a, cx.payload.clone(), Via::Replicas).await
}

/// REMOVE_OBJ.
pub async fn remove_obj(cx: &Ctx, a: ObjReq) -> Reply {
    remove(&cx.st, a.oid, Via::Replicas).await
}

/// DISCARD_OBJ.
pub async fn discard_obj(cx: &Ctx, a: ObjReq) -> Reply {
    discard(&cx.st, a.oid).await
}

/// FLUSH_VDI.
pub async fn flush_vdi(cx: &Ctx) -> Reply {
    match cx.st.replicas.flush().await {
        Ok(()) => Reply::ok(),
        Err(e) => Reply::code(e.result()),
    }
}

/// GET_HASH: the SHA-1 of the object in `rsp.hash.digest`.
pub async fn get_hash(cx: &Ctx, a: ObjReq) -> Reply {
    match cx.st.replicas.sha1(a.oid.0).await {
        Ok(digest) => Reply::ok().arm(RspArm::Hash(HashRsp {
            digest,
            ..HashRsp::default()
        })),
        Err(e) => Reply::code(e.result()),
    }
}

/// EXIST: SUCCESS when the object is stored here, else NO_OBJ.
pub async fn exist(cx: &Ctx, a: ObjReq) -> Reply {
    if cx.st.replicas.exists(a.oid.0).await {
        Reply::ok()
    } else {
        Reply::code(SdResult::NoObj)
    }
}

/// Where an op acts: the gateway path fans out to every replica, the peer
/// path acts on this node's store only (a forwarded request never fans out
/// again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Placement: all replicas (client ops).
    Replicas,
    /// The local store (peer ops).
    Local,
}

/// Creates (or, if it exists, writes) an object.
pub async fn create_and_write(
    st: &Services,
    a: ObjReq,
    data: bytes::Bytes,
    cow: Option<u64>,
    via: Via,
) -> Reply {
    let size = match in_range(st, a.oid, a.offset, data.len()) {
        Ok(s) => s,
        Err(c) => return Reply::code(c),
    };
    let r = match via {
        Via::Replicas => {
            st.replicas
                .create_and_write_copies(
                    st,
                    a.oid.0,
                    a.copies,
                    size,
                    u64::from(a.offset),
                    data,
                    cow,
                )
                .await
        }
        Via::Local => {
            st.replicas
                .local_create_and_write(st, a.oid.0, size, u64::from(a.offset), data, cow)
                .await
        }
    };
    match r {
        Ok(()) => {
            if a.oid.is_inode() {
                st.after_inode_write(a.oid, 0);
            }
            Reply::ok()
        }
        Err(e) => Reply::code(e.result()),
    }
}

/// Writes into an existing object.
pub async fn write(st: &Services, a: ObjReq, data: bytes::Bytes, via: Via) -> Reply {
    if let Err(c) = in_range(st, a.oid, a.offset, data.len()) {
        return Reply::code(c);
    }
    let off = u64::from(a.offset);
    let r = match via {
        Via::Replicas => {
            st.replicas
                .write_copies(st, a.oid.0, a.copies, off, data)
                .await
        }
        Via::Local => st
            .replicas
            .local_write(a.oid.0, off, data)
            .await
            .map_err(ReplicaError::Local),
    };
    match r {
        Ok(()) => {
            st.after_inode_write(a.oid, a.offset);
            Reply::ok()
        }
        Err(e) => Reply::code(e.result()),
    }
}

/// Reads `len` bytes (allocated only after the range is validated). With
/// `file_ok`, an answer of at least `SENDFILE_MIN` (64 KiB) from the local
/// store is sent from the object file (not for answers whose bytes the
/// reply itself must see, e.g. a READ_PEER at 0x0b carries their CRC).
pub async fn read(st: &Services, a: ObjReq, len: usize, via: Via, file_ok: bool) -> Reply {
    if let Err(c) = in_range(st, a.oid, a.offset, len) {
        return Reply::code(c);
    }
    let off = u64::from(a.offset);
    let file_range = file_ok && len >= SENDFILE_MIN;
    let r = match via {
        Via::Replicas => {
            st.replicas
                .read_data(st, a.oid.0, a.copies, off, len, file_range)
                .await
        }
        Via::Local => st
            .replicas
            .local_read_data(a.oid.0, off, len, file_range)
            .await
            .map_err(ReplicaError::Local),
    };
    match r {
        Ok(ObjData::Mem(b)) => Reply::data(b),
        Ok(ObjData::File(f)) => Reply::file(f),
        Err(e) => Reply::code(e.result()),
    }
}

/// Removes an object.
pub async fn remove(st: &Services, oid: Oid, via: Via) -> Reply {
    let r = match via {
        Via::Replicas => st.replicas.remove(st, oid.0).await,
        Via::Local => st
            .replicas
            .local_remove(oid.0)
            .await
            .map_err(ReplicaError::Local),
    };
    match r {
        Ok(()) => {
            if oid.is_inode() {
                st.after_inode_write(oid, 0);
            }
            Reply::ok()
        }
        Err(e) => Reply::code(e.result()),
    }
}

/// Discards a data object: unmaps it from its VDI's index and removes it.
pub async fn discard(st: &Services, oid: Oid) -> Reply {
    if !oid.is_data() {
        return Reply::code(SdResult::InvalidParms);
    }
    if readonly(st, oid) {
        return Reply::code(SdResult::Readonly);
    }
    let vid = oid.vid();
    let idx = oid.index();
    if idx < crate::proto::oid::SD_INODE_DATA_INDEX {
        let ioff = (SD_INODE_DATA_VDI_ID_OFFSET + 4 * idx as usize) as u64;
        if let Ok(cur) = st.replicas.read(st, Oid::inode(vid).0, ioff, 4).await {
            if cur == vid.to_le_bytes() {
                let zero = bytes::Bytes::from_static(&[0, 0, 0, 0]);
                if let Err(e) = st.replicas.write(st, Oid::inode(vid).0, ioff, zero).await {
                    return Reply::code(e.result());
                }
            }
        }
    }
    match st.replicas.remove(st, oid.0).await {
        Ok(()) => Reply::ok(),
        Err(e) if e.is_no_obj() => Reply::ok(),
        Err(e) => Reply::code(e.result()),
    }
}
