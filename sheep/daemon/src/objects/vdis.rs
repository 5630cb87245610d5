//! VDIs: the in-memory table of inode headers, vid allocation (FNV-1a plus
//! in-use bitmap probing, docs/sheepdog-facts.md §10), lookups by name/tag/snapid, and
//! the VDI op handlers (`handlers::vdi`).
//!
//! The table is a cache of the inode objects in the store: it is rebuilt
//! from the store at startup, and refreshed whenever an inode header is
//! written, so the store stays the single source of truth.

use std::collections::BTreeMap;

use sdwire::Wire;

use crate::proto::cluster_info::padded;
use crate::proto::oid::{vdi_name_hash, Oid, SD_NR_VDIS};
use crate::proto::{InodeHeader, SdResult};
use crate::store::ObjectStore;

pub use crate::proto::oid::VDI_BITMAP_SIZE as BITMAP_SIZE;

/// What the daemon remembers of one inode.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VdiMeta {
    /// Name (without NUL padding); empty for a deleted VDI.
    pub name: Vec<u8>,
    /// Snapshot tag.
    pub tag: Vec<u8>,
    /// Non-zero for a snapshot (frozen image).
    pub snap_ctime: u64,
    /// Size in bytes.
    pub vdi_size: u64,
    /// Copies.
    pub copies: u8,
    /// Copy policy.
    pub copy_policy: u8,
    /// Object size shift.
    pub block_size_shift: u8,
    /// Snapshot id.
    pub snap_id: u32,
    /// Parent vid (0 = none).
    pub parent: u32,
}

impl VdiMeta {
    /// The fields of a decoded inode header.
    pub fn from_header(h: &InodeHeader) -> VdiMeta {
        VdiMeta {
            name: h.name_bytes().to_vec(),
            tag: h.tag_bytes().to_vec(),
            snap_ctime: h.snap_ctime,
            vdi_size: h.vdi_size,
            copies: h.nr_copies,
            copy_policy: h.copy_policy,
            block_size_shift: h.block_size_shift,
            snap_id: h.snap_id,
            parent: h.parent_vdi_id,
        }
    }

    /// Decodes the inode header at the start of `bytes` (at least
    /// [`InodeHeader::SIZE`] bytes).
    ///
    /// # Errors
    ///
    /// Too few bytes.
    pub fn parse(bytes: &[u8]) -> Result<VdiMeta, sdwire::DecodeError> {
        InodeHeader::from_prefix(bytes).map(|h| VdiMeta::from_header(&h))
    }

    /// Whether this is a frozen snapshot.
    pub fn is_snapshot(&self) -> bool {
        self.snap_ctime != 0
    }

    /// Whether the VDI was deleted.
    pub fn is_deleted(&self) -> bool {
        self.name.is_empty()
    }
}

/// The byte offset of a named [`InodeHeader`] field, from its wire layout
/// (for partial writes into the inode object).
pub fn header_field_offset(field: &str) -> u64 {
    InodeHeader::LAYOUT
        .field(field)
        .and_then(|f| f.offset)
        .unwrap_or_else(|| panic!("InodeHeader has a fixed-offset field {field}")) as u64
}

/// All inodes of the store, by vid.
#[derive(Debug, Default)]
pub struct VdiTable {
    /// vid -> header.
    pub vdis: BTreeMap<u32, VdiMeta>,
}

impl VdiTable {
    /// Rebuilds the table from the inode objects in `store`.
    ///
    /// # Errors
    ///
    /// Store errors.
    pub fn load(store: &dyn ObjectStore) -> crate::store::Result<VdiTable> {
        let mut t = VdiTable::default();
        for oid in store.list()? {
            let o = Oid(oid);
            if o.is_inode() && o.index() == 0 {
                let h = store.read(oid, 0, InodeHeader::SIZE)?;
                if let Ok(m) = VdiMeta::parse(&h) {
                    t.vdis.insert(o.vid(), m);
                }
            }
        }
        Ok(t)
    }

    /// Re-reads the header of `vid` from the store.
    pub fn refresh(&mut self, store: &dyn ObjectStore, vid: u32) {
        match store
            .read(Oid::inode(vid).0, 0, InodeHeader::SIZE)
            .map(|h| VdiMeta::parse(&h))
        {
            Ok(Ok(m)) => {
                self.vdis.insert(vid, m);
            }
            _ => {
                self.vdis.remove(&vid);
            }
        }
    }

    /// Whether `vid` is in use (has an inode, deleted or not).
    pub fn in_use(&self, vid: u32) -> bool {
        self.vdis.contains_key(&vid)
    }

    /// The vid a new VDI called `name` gets: the name hash if free, else the
    /// first free vid after it, wrapping to 1. `None` when all are taken.
    pub fn alloc_vid(&self, name: &[u8]) -> Option<u32> {
        let start = vdi_name_hash(name);
        (start..SD_NR_VDIS)
            .chain(1..start)
            .find(|&v| v != 0 && !self.in_use(v))
    }

    /// Candidates for `name`: the run of in-use vids starting at its hash
    /// (wrapping), in order, filtered to the ones carrying that name.
    fn candidates<'a>(&'a self, name: &'a [u8]) -> impl Iterator<Item = (u32, &'a VdiMeta)> + 'a {
        let start = vdi_name_hash(name);
        (start..SD_NR_VDIS)
            .chain(1..start)
            .map_while(move |v| self.vdis.get(&v).map(|m| (v, m)))
            .filter(move |(_, m)| m.name == name)
    }

    /// Looks a VDI up as GET_VDI_INFO does: by tag if `tag` is non-empty, by
    /// `snapid` if non-zero, else the working (non-snapshot) VDI.
    ///
    /// # Errors
    ///
    /// `NO_VDI` if no VDI has that name (or no such snapshot), `NO_TAG` if the
    /// tag matches none of its snapshots. `INVALID_PARMS` for an empty name.
    pub fn lookup(&self, name: &[u8], tag: &[u8], snapid: u32) -> Result<u32, SdResult> {
        if name.is_empty() {
            return Err(SdResult::InvalidParms);
        }
        let mut any = false;
        for (vid, m) in self.candidates(name) {
            any = true;
            if !tag.is_empty() {
                if m.tag == tag && m.is_snapshot() {
                    return Ok(vid);
                }
            } else if snapid != 0 {
                if m.snap_id == snapid {
                    return Ok(vid);
                }
            } else if !m.is_snapshot() {
                return Ok(vid);
            }
        }
        if !any {
            Err(SdResult::NoVdi)
        } else if !tag.is_empty() {
            Err(SdResult::NoTag)
        } else {
            Err(SdResult::NoVdi)
        }
    }

    /// Whether any live VDI other than `vid` descends from it.
    pub fn has_live_descendants(&self, vid: u32) -> bool {
        self.vdis.iter().any(|(&v, m)| {
            if v == vid || m.is_deleted() {
                return false;
            }
            let mut p = m.parent;
            let mut hops = 0;
            while p != 0 && hops < 1 << 16 {
                if p == vid {
                    return true;
                }
                p = self.vdis.get(&p).map_or(0, |m| m.parent);
                hops += 1;
            }
            false
        })
    }

    /// The READ_VDIS bitmap: bit n set when vid n is in use.
    pub fn in_use_bitmap(&self) -> Vec<u8> {
        self.bitmap(|_| true)
    }

    /// The READ_DEL_VDIS bitmap: bit n set when vid n was deleted.
    pub fn deleted_bitmap(&self) -> Vec<u8> {
        self.bitmap(VdiMeta::is_deleted)
    }

    fn bitmap(&self, f: impl Fn(&VdiMeta) -> bool) -> Vec<u8> {
        let mut b = vec![0u8; BITMAP_SIZE];
        for (&v, m) in &self.vdis {
            if f(m) {
                b[(v / 8) as usize] |= 1 << (v % 8);
            }
        }
        b
    }
}

/// A fresh inode header.
#[allow(clippy::too_many_arguments)]
pub fn new_inode_header(
    name: &[u8],
    vid: u32,
    vdi_size: u64,
    copies: u8,
    copy_policy: u8,
    store_policy: u8,
    block_size_shift: u8,
    snap_id: u32,
    parent: u32,
    ctime: u64,
) -> InodeHeader {
    InodeHeader {
        name: padded(&name[..name.len().min(255)]),
        create_time: ctime,
        vdi_size,
        copy_policy,
        store_policy,
        nr_copies: copies,
        block_size_shift,
        snap_id,
        vdi_id: vid,
        parent_vdi_id: parent,
        ..InodeHeader::default()
    }
}

/// The wire bytes of an inode header.
pub fn encode_header(h: &InodeHeader) -> Vec<u8> {
    sdwire::to_vec(h, 0).expect("a fixed-size header encodes into a Vec")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(name: &str, snap: bool, snap_id: u32, tag: &str) -> VdiMeta {
        VdiMeta {
            name: name.as_bytes().to_vec(),
            tag: tag.as_bytes().to_vec(),
            snap_ctime: u64::from(snap),
            snap_id,
            ..Default::default()
        }
    }

    #[test]
    fn alloc_and_lookup() {
        let mut t = VdiTable::default();
        let h = vdi_name_hash(b"test");
        assert_eq!(t.alloc_vid(b"test"), Some(h));
        t.vdis.insert(h, meta("test", true, 1, "s1"));
        assert_eq!(t.alloc_vid(b"test"), Some(h + 1));
        t.vdis.insert(h + 1, meta("test", false, 2, ""));
        assert_eq!(t.lookup(b"test", b"", 0), Ok(h + 1));
        assert_eq!(t.lookup(b"test", b"s1", 0), Ok(h));
        assert_eq!(t.lookup(b"test", b"nope", 0), Err(SdResult::NoTag));
        assert_eq!(t.lookup(b"test", b"", 1), Ok(h));
        assert_eq!(t.lookup(b"test", b"", 9), Err(SdResult::NoVdi));
        assert_eq!(t.lookup(b"other", b"", 0), Err(SdResult::NoVdi));
        let bm = t.in_use_bitmap();
        assert_eq!(bm.len(), BITMAP_SIZE);
        assert_ne!(bm[(h / 8) as usize] & (1 << (h % 8)), 0);
        // The table wraps to vid 1 at the top.
        let mut t = VdiTable::default();
        for v in 1..4 {
            t.vdis.insert(v, meta("x", false, 1, ""));
        }
        t.vdis.insert(SD_NR_VDIS - 1, meta("x", false, 1, ""));
        assert_eq!(t.alloc_vid(b"\x00").map(|v| v != 0), Some(true));
    }

    #[test]
    fn descendants() {
        let mut t = VdiTable::default();
        t.vdis.insert(1, meta("a", true, 1, ""));
        let mut c = meta("a", false, 2, "");
        c.parent = 1;
        t.vdis.insert(2, c);
        assert!(t.has_live_descendants(1));
        assert!(!t.has_live_descendants(2));
    }
}
