//! VDIs: the in-memory table of inode headers, vid allocation (FNV-1a plus
//! in-use bitmap probing, fact sheet §10), lookups by name/tag/snapid, and
//! the VDI op handlers ([`ops`]).
//!
//! The table is a cache of the inode objects in the store: it is rebuilt
//! from the store at startup, and refreshed whenever an inode header is
//! written, so the store stays the single source of truth.

use std::collections::BTreeMap;

use crate::proto::oid::{vdi_name_hash, Oid, SD_INODE_HEADER_SIZE, SD_NR_VDIS};
use crate::proto::SdResult;
use crate::store::ObjectStore;

pub mod attr;
pub mod lock;
pub mod ops;

/// Bytes of the inode header that lookups need (name .. parent_vdi_id).
pub const INODE_LOOKUP_SIZE: usize = 568;
/// Size of the in-use / deleted bitmaps (2^24 bits).
pub const BITMAP_SIZE: usize = (SD_NR_VDIS / 8) as usize;

/// Inode header field offsets (fact sheet §11.1).
#[allow(missing_docs)]
pub mod off {
    pub const NAME: usize = 0;
    pub const TAG: usize = 256;
    pub const CREATE_TIME: usize = 512;
    pub const SNAP_CTIME: usize = 520;
    pub const VDI_SIZE: usize = 536;
    pub const COPY_POLICY: usize = 552;
    pub const STORE_POLICY: usize = 553;
    pub const NR_COPIES: usize = 554;
    pub const BLOCK_SIZE_SHIFT: usize = 555;
    pub const SNAP_ID: usize = 556;
    pub const VDI_ID: usize = 560;
    pub const PARENT_VDI_ID: usize = 564;
}

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
    /// Parses the first [`INODE_LOOKUP_SIZE`] bytes of an inode.
    pub fn parse(h: &[u8]) -> VdiMeta {
        let u32_at = |o: usize| u32::from_le_bytes(h[o..o + 4].try_into().unwrap());
        let u64_at = |o: usize| u64::from_le_bytes(h[o..o + 8].try_into().unwrap());
        VdiMeta {
            name: cstr(&h[off::NAME..off::NAME + 256]).to_vec(),
            tag: cstr(&h[off::TAG..off::TAG + 256]).to_vec(),
            snap_ctime: u64_at(off::SNAP_CTIME),
            vdi_size: u64_at(off::VDI_SIZE),
            copies: h[off::NR_COPIES],
            copy_policy: h[off::COPY_POLICY],
            block_size_shift: h[off::BLOCK_SIZE_SHIFT],
            snap_id: u32_at(off::SNAP_ID),
            parent: u32_at(off::PARENT_VDI_ID),
        }
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

/// The bytes of a NUL-terminated (or full) C string field.
pub fn cstr(b: &[u8]) -> &[u8] {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    &b[..end]
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
                let h = store.read(oid, 0, INODE_LOOKUP_SIZE)?;
                t.vdis.insert(o.vid(), VdiMeta::parse(&h));
            }
        }
        Ok(t)
    }

    /// Re-reads the header of `vid` from the store.
    pub fn refresh(&mut self, store: &dyn ObjectStore, vid: u32) {
        match store.read(Oid::inode(vid).0, 0, INODE_LOOKUP_SIZE) {
            Ok(h) => {
                self.vdis.insert(vid, VdiMeta::parse(&h));
            }
            Err(_) => {
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

/// A fresh inode header (the first [`SD_INODE_HEADER_SIZE`] bytes).
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
) -> Vec<u8> {
    let mut h = vec![0u8; SD_INODE_HEADER_SIZE];
    let n = name.len().min(255);
    h[..n].copy_from_slice(&name[..n]);
    h[off::CREATE_TIME..off::CREATE_TIME + 8].copy_from_slice(&ctime.to_le_bytes());
    h[off::VDI_SIZE..off::VDI_SIZE + 8].copy_from_slice(&vdi_size.to_le_bytes());
    h[off::COPY_POLICY] = copy_policy;
    h[off::STORE_POLICY] = store_policy;
    h[off::NR_COPIES] = copies;
    h[off::BLOCK_SIZE_SHIFT] = block_size_shift;
    h[off::SNAP_ID..off::SNAP_ID + 4].copy_from_slice(&snap_id.to_le_bytes());
    h[off::VDI_ID..off::VDI_ID + 4].copy_from_slice(&vid.to_le_bytes());
    h[off::PARENT_VDI_ID..off::PARENT_VDI_ID + 4].copy_from_slice(&parent.to_le_bytes());
    h
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
