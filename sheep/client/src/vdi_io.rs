//! How a byte range of a VDI maps onto its objects, and what a write into
//! one object has to do: the VDI I/O rules of dog and tgtd's sheepdog
//! backend, in one place for every front end (dog, [`Client::vdi_write`],
//! the daemon's NBD server).
//!
//! A VDI of `size` bytes is cut into objects of `1 << block_size_shift`
//! bytes; `data_vdi_id[idx]` of its inode names the VDI that owns object
//! `idx` (0: never written, reads as zeros). A write into an object the
//! VDI owns goes to the object; into one it does not own, it creates the
//! VDI's own object (copy-on-write from the owner's, an ancestor after a
//! snapshot or clone) and then points `data_vdi_id[idx]` at the VDI.
//!
//! ```
//! use sheep_client::vdi_io::{pieces, WritePlan};
//! let p: Vec<_> = pieces((4 << 20) - 512, 1024, 4 << 20).collect();
//! assert_eq!(p.len(), 2);
//! assert_eq!((p[0].idx, p[0].offset, p[0].len, p[0].at), (0, (4 << 20) - 512, 512, 0));
//! assert_eq!((p[1].idx, p[1].offset, p[1].len, p[1].at), (1, 0, 512, 512));
//! assert_eq!(WritePlan::new(7, 3, 7), WritePlan::InPlace { oid: sheep_proto::Oid::data(7, 3).0 });
//! assert!(WritePlan::new(7, 3, 5).creates());
//! ```
//!
//! [`Client::vdi_write`]: crate::Client::vdi_write

use crate::proto::Oid;

/// The part of a byte range that falls into one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Piece {
    /// Object index in the VDI.
    pub idx: u32,
    /// Byte offset inside the object.
    pub offset: u32,
    /// Bytes in this object.
    pub len: u32,
    /// Byte offset of the piece from the start of the range.
    pub at: u64,
}

/// The pieces of `len` bytes at VDI byte `offset`, objects of `obj_size`
/// bytes, in order.
pub fn pieces(offset: u64, len: u64, obj_size: u64) -> impl Iterator<Item = Piece> {
    let end = offset.saturating_add(len);
    let mut pos = offset;
    std::iter::from_fn(move || {
        if pos >= end {
            return None;
        }
        let inoff = pos % obj_size;
        let n = (obj_size - inoff).min(end - pos);
        let p = Piece {
            idx: (pos / obj_size) as u32,
            offset: inoff as u32,
            len: n as u32,
            at: pos - offset,
        };
        pos += n;
        Some(p)
    })
}

/// How a write into object `idx` of a VDI happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WritePlan {
    /// The VDI owns the object: WRITE_OBJ into it.
    InPlace {
        /// The object.
        oid: u64,
    },
    /// CREATE_AND_WRITE_OBJ of the VDI's own object (with the COW flag
    /// and `cow` as the source when an ancestor owns the index slot), then
    /// `data_vdi_id[idx] = vid` in the inode.
    Create {
        /// The object to create.
        oid: u64,
        /// The ancestor's object to copy first.
        cow: Option<u64>,
    },
}

impl WritePlan {
    /// The plan for writing object `idx` of VDI `vid` whose index entry is
    /// `owner`.
    pub fn new(vid: u32, idx: u32, owner: u32) -> WritePlan {
        let oid = Oid::data(vid, idx).0;
        if owner == vid {
            WritePlan::InPlace { oid }
        } else {
            let cow = (owner != 0).then(|| Oid::data(owner, idx).0);
            WritePlan::Create { oid, cow }
        }
    }

    /// Whether the write creates the object (and must update the index).
    pub fn creates(&self) -> bool {
        matches!(self, WritePlan::Create { .. })
    }
}

/// The object a read of object `idx` comes from, given its index entry
/// `owner`; `None` is a hole (reads as zeros).
pub fn read_source(idx: u32, owner: u32) -> Option<u64> {
    (owner != 0).then(|| Oid::data(owner, idx).0)
}
