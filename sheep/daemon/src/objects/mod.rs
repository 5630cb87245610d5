//! Local objects as the layers above see them: the VDI table, an
//! in-memory index of the inode objects in the local store ([`vdis`]),
//! kept fresh as inode headers are written.

use std::sync::RwLock;

use crate::proto::oid::{Oid, SD_INODE_HEADER_SIZE};
use crate::store::ObjectStore;

pub mod vdis;

pub use vdis::{VdiMeta, VdiTable};

/// After a write into an inode header, refresh the cached VDI table.
pub fn after_inode_write(vdis: &RwLock<VdiTable>, store: &dyn ObjectStore, oid: Oid, offset: u32) {
    if oid.is_inode() && (offset as usize) < SD_INODE_HEADER_SIZE {
        let mut t = crate::sync::write(vdis);
        t.refresh(store, oid.vid());
    }
}
