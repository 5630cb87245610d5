//! Client-facing object I/O (CREATE_AND_WRITE/READ/WRITE/REMOVE/DISCARD_OBJ,
//! FLUSH_VDI, GET_HASH, EXIST), sent to the object's [`replicas::Replicas`].
//!
//! Writes into the objects of a snapshot (a frozen image) answer READONLY,
//! which is how tgtd learns that its VDI was snapshotted.

use std::sync::Arc;

use crate::daemon::{Reply, Request, State};
use crate::net::frame::{flags, op, res, Req};
use crate::proto::oid::{Oid, OidKind, SD_INODE_DATA_VDI_ID_OFFSET, SD_INODE_HEADER_SIZE};
use crate::store::StoreError;

pub mod replicas;

/// Object-request fields (the `obj` arm, fact sheet §3.1).
#[derive(Debug, Clone, Copy)]
pub struct ObjArgs {
    /// Object.
    pub oid: Oid,
    /// COW source.
    pub cow_oid: u64,
    /// Copies.
    pub copies: u8,
    /// Epoch to read from.
    pub tgt_epoch: u32,
    /// Offset inside the object.
    pub offset: u32,
}

impl ObjArgs {
    /// Reads the arm from a header.
    pub fn of(h: &Req) -> ObjArgs {
        ObjArgs {
            oid: Oid(h.u64_at(16)),
            cow_oid: h.u64_at(24),
            copies: h.u8_at(32),
            tgt_epoch: h.u32_at(36),
            offset: h.u32_at(40),
        }
    }
}

/// Maps a store error to a result code.
pub fn store_err(e: &StoreError) -> u32 {
    match e {
        StoreError::NoObj(_) => res::NO_OBJ,
        StoreError::Exists(_) => res::VDI_EXIST,
        StoreError::OutOfRange { .. } => res::INVALID_PARMS,
        StoreError::NoSpace => res::NO_SPACE,
        StoreError::Io(_) => res::EIO,
    }
}

/// The size of `oid`: by kind, data objects by their VDI's block_size_shift.
pub fn object_size(st: &State, oid: Oid) -> usize {
    let shift = match oid.kind() {
        OidKind::Data | OidKind::Vmstate => st
            .vdis
            .read()
            .unwrap_or_else(|e| e.into_inner())
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
fn readonly(st: &State, oid: Oid) -> bool {
    matches!(
        oid.kind(),
        OidKind::Data | OidKind::Inode | OidKind::Vmstate
    ) && st
        .vdis
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .vdis
        .get(&oid.vid())
        .is_some_and(|m| m.is_snapshot())
}

/// Checks that `offset..offset+len` fits in the object.
fn in_range(st: &State, oid: Oid, offset: u32, len: usize) -> Result<usize, u32> {
    let size = object_size(st, oid);
    if (offset as usize)
        .checked_add(len)
        .is_none_or(|end| end > size)
    {
        return Err(res::INVALID_PARMS);
    }
    Ok(size)
}

/// After a write into an inode header, refresh the cached VDI table.
pub fn after_inode_write(st: &State, oid: Oid, offset: u32) {
    if oid.is_inode() && (offset as usize) < SD_INODE_HEADER_SIZE {
        let mut t = st.vdis.write().unwrap_or_else(|e| e.into_inner());
        t.refresh(st.store.as_ref(), oid.vid());
    }
}

/// Handles a gateway op.
pub async fn handle(st: &Arc<State>, req: &Request) -> Reply {
    let a = ObjArgs::of(&req.hdr);
    let h = &req.hdr;
    match h.opcode {
        op::CREATE_AND_WRITE_OBJ => {
            if readonly(st, a.oid) {
                return Reply::code(res::READONLY);
            }
            let cow = (h.flags & flags::COW != 0 && a.cow_oid != 0).then_some(a.cow_oid);
            create_and_write(st, a, req.payload.clone(), cow).await
        }
        op::READ_OBJ => read(st, a, h.data_length as usize).await,
        op::WRITE_OBJ => {
            if readonly(st, a.oid) {
                return Reply::code(res::READONLY);
            }
            write(st, a, req.payload.clone()).await
        }
        op::REMOVE_OBJ => remove(st, a.oid).await,
        op::DISCARD_OBJ => discard(st, a.oid).await,
        op::FLUSH_VDI => match st.replicas.flush().await {
            Ok(()) => Reply::ok(),
            Err(e) => Reply::code(store_err(&e)),
        },
        op::GET_HASH => match st.replicas.sha1(a.oid.0).await {
            Ok(d) => Reply::ok().bytes_at(24, &d),
            Err(e) => Reply::code(store_err(&e)),
        },
        op::EXIST => {
            if st.replicas.exists(a.oid.0).await {
                Reply::ok()
            } else {
                Reply::code(res::NO_OBJ)
            }
        }
        _ => Reply::code(res::INVALID_PARMS),
    }
}

/// Creates (or, if it exists, writes) an object.
pub async fn create_and_write(
    st: &State,
    a: ObjArgs,
    data: bytes::Bytes,
    cow: Option<u64>,
) -> Reply {
    let size = match in_range(st, a.oid, a.offset, data.len()) {
        Ok(s) => s,
        Err(c) => return Reply::code(c),
    };
    match st
        .replicas
        .create_and_write(a.oid.0, size, u64::from(a.offset), data, cow)
        .await
    {
        Ok(()) => {
            if a.oid.is_inode() {
                after_inode_write(st, a.oid, 0);
            }
            Reply::ok()
        }
        Err(e) => Reply::code(store_err(&e)),
    }
}

/// Writes into an existing object.
pub async fn write(st: &State, a: ObjArgs, data: bytes::Bytes) -> Reply {
    if let Err(c) = in_range(st, a.oid, a.offset, data.len()) {
        return Reply::code(c);
    }
    match st.replicas.write(a.oid.0, u64::from(a.offset), data).await {
        Ok(()) => {
            after_inode_write(st, a.oid, a.offset);
            Reply::ok()
        }
        Err(e) => Reply::code(store_err(&e)),
    }
}

/// Reads `len` bytes (allocated only after the range is validated).
pub async fn read(st: &State, a: ObjArgs, len: usize) -> Reply {
    if let Err(c) = in_range(st, a.oid, a.offset, len) {
        return Reply::code(c);
    }
    match st.replicas.read(a.oid.0, u64::from(a.offset), len).await {
        Ok(v) => Reply::data(v),
        Err(e) => Reply::code(store_err(&e)),
    }
}

/// Removes an object.
pub async fn remove(st: &State, oid: Oid) -> Reply {
    match st.replicas.remove(oid.0).await {
        Ok(()) => {
            if oid.is_inode() {
                after_inode_write(st, oid, 0);
            }
            Reply::ok()
        }
        Err(e) => Reply::code(store_err(&e)),
    }
}

/// Discards a data object: unmaps it from its VDI's index and removes it.
async fn discard(st: &State, oid: Oid) -> Reply {
    if !oid.is_data() {
        return Reply::code(res::INVALID_PARMS);
    }
    if readonly(st, oid) {
        return Reply::code(res::READONLY);
    }
    let vid = oid.vid();
    let idx = oid.index();
    if idx < crate::proto::oid::SD_INODE_DATA_INDEX {
        let ioff = (SD_INODE_DATA_VDI_ID_OFFSET + 4 * idx as usize) as u64;
        if let Ok(cur) = st.replicas.read(Oid::inode(vid).0, ioff, 4).await {
            if cur == vid.to_le_bytes() {
                let zero = bytes::Bytes::from_static(&[0, 0, 0, 0]);
                if let Err(e) = st.replicas.write(Oid::inode(vid).0, ioff, zero).await {
                    return Reply::code(store_err(&e));
                }
            }
        }
    }
    match st.replicas.remove(oid.0).await {
        Ok(()) | Err(StoreError::NoObj(_)) => Reply::ok(),
        Err(e) => Reply::code(store_err(&e)),
    }
}
