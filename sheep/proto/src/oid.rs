//! Sheepdog object ids (docs/sheepdog-facts.md §10).
//!
//! An oid is a 64-bit value: the top five bits say what kind of object it is,
//! bits 32..56 hold the VDI id and bits 0..32 an index whose meaning depends on
//! the kind (data object index, attribute id, B-tree node id, VM state index).

use std::fmt;

/// Size of a complete `sd_inode` object in bytes.
pub const SD_INODE_SIZE: usize = 12_587_576;
/// Size of the inode header (everything before `data_vdi_id[]`).
pub const SD_INODE_HEADER_SIZE: usize = 4664;
/// Size of a VDI attribute object.
pub const SD_ATTR_OBJ_SIZE: usize = 66_320;
/// Number of VDI ids (24 bits); vid 0 is never used.
pub const SD_NR_VDIS: u32 = 1 << 24;

/// Bytes of a vid bitmap (READ_VDIS, READ_DEL_VDIS): one bit per vid.
pub const VDI_BITMAP_SIZE: usize = (SD_NR_VDIS / 8) as usize;
/// Number of entries in an inode's `data_vdi_id[]` and `gref[]` arrays.
pub const SD_INODE_DATA_INDEX: u32 = 1 << 20;
/// Default `block_size_shift` (4 MiB data objects).
pub const DEFAULT_BLOCK_SIZE_SHIFT: u8 = 22;
/// Size of B-tree index nodes (store_policy 1) and ledger objects: 4 MiB.
pub const SD_BTREE_OBJ_SIZE: usize = 4 << 20;
/// Size of a ledger object: 4 MiB.
pub const SD_LEDGER_OBJ_SIZE: usize = 4 << 20;
/// Offset of `data_vdi_id[0]` inside an inode.
pub const SD_INODE_DATA_VDI_ID_OFFSET: usize = SD_INODE_HEADER_SIZE;
/// Offset of `gref[0]` inside an inode (after 2^20 u32 `data_vdi_id` entries).
pub const SD_INODE_GREF_OFFSET: usize = SD_INODE_HEADER_SIZE + 4 * SD_INODE_DATA_INDEX as usize;

/// Mask of the vid field once shifted down.
const VID_MASK: u64 = (SD_NR_VDIS as u64) - 1;
/// Mask of the index field.
const INDEX_MASK: u64 = 0xFFFF_FFFF;
/// Position of the vid field.
const VID_SHIFT: u32 = 32;

/// Plain 64-bit FNV-1a offset basis.
const FNV1A_64_INIT: u64 = 0xcbf2_9ce4_8422_2325;
/// 64-bit FNV prime.
const FNV_64_PRIME: u64 = 0x0000_0100_0000_01b3;

/// The vid a VDI name hashes to: plain FNV-1a-64 over the name bytes (without
/// any NUL), masked to 24 bits. A VDI is created at this vid if it is free,
/// otherwise at the next free one.
pub fn vdi_name_hash(name: &[u8]) -> u32 {
    let h = name.iter().fold(FNV1A_64_INIT, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(FNV_64_PRIME)
    });
    (h & VID_MASK) as u32
}

/// What an oid refers to, decided by its top bits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum OidKind {
    /// A VDI's inode (`VDI_BIT`).
    Inode,
    /// A VM state object (`VMSTATE_BIT`).
    Vmstate,
    /// A VDI attribute object (`VDI_ATTR_BIT`).
    Attr,
    /// A B-tree index node (`VDI_BTREE_BIT`).
    Btree,
    /// A reference ledger for a data object (`LEDGER_BIT`).
    Ledger,
    /// A data object (none of the kind bits set).
    Data,
}

/// A 64-bit sheepdog object id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default, sdwire::Wire)]
#[wire(le, size = 8)]
#[repr(transparent)]
pub struct Oid(pub u64);

impl Oid {
    /// Bit number of `VDI_BIT` (inode objects).
    pub const VDI_BIT: u32 = 63;
    /// Bit number of `VMSTATE_BIT` (VM state objects).
    pub const VMSTATE_BIT: u32 = 62;
    /// Bit number of `VDI_ATTR_BIT` (attribute objects).
    pub const VDI_ATTR_BIT: u32 = 61;
    /// Bit number of `VDI_BTREE_BIT` (B-tree index nodes).
    pub const VDI_BTREE_BIT: u32 = 60;
    /// Bit number of `LEDGER_BIT` (reference ledgers).
    pub const LEDGER_BIT: u32 = 59;

    /// `1 << VDI_BIT`.
    pub const VDI_MASK: u64 = 1 << Self::VDI_BIT;
    /// `1 << VMSTATE_BIT`.
    pub const VMSTATE_MASK: u64 = 1 << Self::VMSTATE_BIT;
    /// `1 << VDI_ATTR_BIT`.
    pub const VDI_ATTR_MASK: u64 = 1 << Self::VDI_ATTR_BIT;
    /// `1 << VDI_BTREE_BIT`.
    pub const VDI_BTREE_MASK: u64 = 1 << Self::VDI_BTREE_BIT;
    /// `1 << LEDGER_BIT`.
    pub const LEDGER_MASK: u64 = 1 << Self::LEDGER_BIT;
    /// All five kind bits.
    pub const KIND_MASK: u64 = Self::VDI_MASK
        | Self::VMSTATE_MASK
        | Self::VDI_ATTR_MASK
        | Self::VDI_BTREE_MASK
        | Self::LEDGER_MASK;

    fn with_vid(vid: u32) -> u64 {
        (u64::from(vid) & VID_MASK) << VID_SHIFT
    }

    /// The inode object of VDI `vid`: `1<<63 | vid<<32`.
    pub fn inode(vid: u32) -> Oid {
        Oid(Self::VDI_MASK | Self::with_vid(vid))
    }

    /// Data object `idx` of VDI `vid`: `vid<<32 | idx`.
    pub fn data(vid: u32, idx: u32) -> Oid {
        Oid(Self::with_vid(vid) | u64::from(idx))
    }

    /// Attribute object `attr_id` of VDI `vid`: `vid<<32 | 1<<61 | attr_id`.
    pub fn attr(vid: u32, attr_id: u32) -> Oid {
        Oid(Self::VDI_ATTR_MASK | Self::with_vid(vid) | u64::from(attr_id))
    }

    /// B-tree index node `id` of VDI `vid`: `vid<<32 | 1<<60 | id`.
    pub fn btree(vid: u32, id: u32) -> Oid {
        Oid(Self::VDI_BTREE_MASK | Self::with_vid(vid) | u64::from(id))
    }

    /// VM state object `idx` of VDI `vid`: `1<<62 | vid<<32 | idx`.
    pub fn vmstate(vid: u32, idx: u32) -> Oid {
        Oid(Self::VMSTATE_MASK | Self::with_vid(vid) | u64::from(idx))
    }

    /// The ledger object of a data object: `1<<59 | data_oid`.
    pub fn ledger(data_oid: Oid) -> Oid {
        Oid(Self::LEDGER_MASK | data_oid.0)
    }

    /// The data object a ledger object accounts for (clears `LEDGER_BIT`).
    pub fn ledger_to_data(self) -> Oid {
        Oid(self.0 & !Self::LEDGER_MASK)
    }

    /// The kind of object, from the top bits. The first set bit wins, in the
    /// order VDI, VMSTATE, ATTR, BTREE, LEDGER (the same precedence as the
    /// C `is_*_obj` helpers, which test a single bit each).
    pub fn kind(self) -> OidKind {
        if self.0 & Self::VDI_MASK != 0 {
            OidKind::Inode
        } else if self.0 & Self::VMSTATE_MASK != 0 {
            OidKind::Vmstate
        } else if self.0 & Self::VDI_ATTR_MASK != 0 {
            OidKind::Attr
        } else if self.0 & Self::VDI_BTREE_MASK != 0 {
            OidKind::Btree
        } else if self.0 & Self::LEDGER_MASK != 0 {
            OidKind::Ledger
        } else {
            OidKind::Data
        }
    }

    /// True for an inode (VDI) object.
    pub fn is_inode(self) -> bool {
        self.kind() == OidKind::Inode
    }

    /// True for a VM state object.
    pub fn is_vmstate(self) -> bool {
        self.kind() == OidKind::Vmstate
    }

    /// True for a VDI attribute object.
    pub fn is_attr(self) -> bool {
        self.kind() == OidKind::Attr
    }

    /// True for a B-tree index node.
    pub fn is_btree(self) -> bool {
        self.kind() == OidKind::Btree
    }

    /// True for a ledger object.
    pub fn is_ledger(self) -> bool {
        self.kind() == OidKind::Ledger
    }

    /// True for a data object (none of bits 59..=63 set).
    pub fn is_data(self) -> bool {
        self.0 & Self::KIND_MASK == 0
    }

    /// The VDI id (bits 32..56).
    pub fn vid(self) -> u32 {
        ((self.0 >> VID_SHIFT) & VID_MASK) as u32
    }

    /// The low 32 bits: data/vmstate index, attribute id or B-tree node id.
    pub fn index(self) -> u32 {
        (self.0 & INDEX_MASK) as u32
    }

    /// Size in bytes of the object, given the VDI's `block_size_shift`
    /// (only data and VM state objects depend on it).
    pub fn object_size(self, block_size_shift: u8) -> usize {
        match self.kind() {
            OidKind::Inode => SD_INODE_SIZE,
            OidKind::Attr => SD_ATTR_OBJ_SIZE,
            OidKind::Btree => SD_BTREE_OBJ_SIZE,
            OidKind::Ledger => SD_LEDGER_OBJ_SIZE,
            OidKind::Data | OidKind::Vmstate => 1usize << block_size_shift,
        }
    }
}

impl From<u64> for Oid {
    fn from(v: u64) -> Oid {
        Oid(v)
    }
}

impl From<Oid> for u64 {
    fn from(o: Oid) -> u64 {
        o.0
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::LowerHex for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::LowerHex::fmt(&self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_hashes() {
        assert_eq!(vdi_name_hash(b"test"), 0x7c2b25);
        assert_eq!(vdi_name_hash(b"clone1"), 0xc8f989);
        assert_eq!(vdi_name_hash(b"s1"), 0x78d149);
        // Empty name: the basis itself, masked.
        assert_eq!(vdi_name_hash(b""), 0x222325);
    }

    #[test]
    fn constructors() {
        let vid = 0x7c2b25;
        assert_eq!(Oid::inode(vid).0, 0x807c_2b25_0000_0000);
        assert_eq!(Oid::data(vid, 1).0, 0x007c_2b25_0000_0001);
        assert_eq!(Oid::attr(vid, 7).0, 0x207c_2b25_0000_0007);
        assert_eq!(Oid::btree(vid, 3).0, 0x107c_2b25_0000_0003);
        assert_eq!(Oid::vmstate(vid, 2).0, 0x407c_2b25_0000_0002);
        assert_eq!(Oid::ledger(Oid::data(vid, 5)).0, 0x087c_2b25_0000_0005);
        assert_eq!(
            Oid::ledger(Oid::data(vid, 5)).ledger_to_data(),
            Oid::data(vid, 5)
        );
        // Vids are masked to 24 bits.
        assert_eq!(Oid::inode(0x1ff_ffff).vid(), 0xff_ffff);
        assert_eq!(Oid::data(u32::MAX, u32::MAX).0, 0x00ff_ffff_ffff_ffff);
    }

    #[test]
    fn bit_constants() {
        assert_eq!(Oid::VDI_MASK, 0x8000_0000_0000_0000);
        assert_eq!(Oid::VMSTATE_MASK, 0x4000_0000_0000_0000);
        assert_eq!(Oid::VDI_ATTR_MASK, 0x2000_0000_0000_0000);
        assert_eq!(Oid::VDI_BTREE_MASK, 0x1000_0000_0000_0000);
        assert_eq!(Oid::LEDGER_MASK, 0x0800_0000_0000_0000);
        assert_eq!(Oid::KIND_MASK, 0xf800_0000_0000_0000);
    }

    #[test]
    fn kinds_and_fields() {
        let cases = [
            (Oid::inode(9), OidKind::Inode, 0),
            (Oid::data(9, 77), OidKind::Data, 77),
            (Oid::attr(9, 78), OidKind::Attr, 78),
            (Oid::btree(9, 79), OidKind::Btree, 79),
            (Oid::vmstate(9, 80), OidKind::Vmstate, 80),
            (Oid::ledger(Oid::data(9, 81)), OidKind::Ledger, 81),
        ];
        for (oid, kind, idx) in cases {
            assert_eq!(oid.kind(), kind, "{oid}");
            assert_eq!(oid.vid(), 9, "{oid}");
            assert_eq!(oid.index(), idx, "{oid}");
            assert_eq!(oid.is_inode(), kind == OidKind::Inode);
            assert_eq!(oid.is_data(), kind == OidKind::Data);
            assert_eq!(oid.is_attr(), kind == OidKind::Attr);
            assert_eq!(oid.is_btree(), kind == OidKind::Btree);
            assert_eq!(oid.is_vmstate(), kind == OidKind::Vmstate);
            assert_eq!(oid.is_ledger(), kind == OidKind::Ledger);
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(SD_INODE_SIZE, 12_587_576);
        assert_eq!(SD_INODE_HEADER_SIZE, 4664);
        assert_eq!(SD_ATTR_OBJ_SIZE, 66_320);
        assert_eq!(SD_NR_VDIS, 16_777_216);
        assert_eq!(SD_INODE_DATA_INDEX, 1_048_576);
        assert_eq!(DEFAULT_BLOCK_SIZE_SHIFT, 22);
        // header + data_vdi_id[2^20] (u32) + gref[2^20] ({i32, i32})
        assert_eq!(SD_INODE_GREF_OFFSET, 4_198_968);
        assert_eq!(
            SD_INODE_HEADER_SIZE + 12 * SD_INODE_DATA_INDEX as usize,
            SD_INODE_SIZE
        );

        let s = DEFAULT_BLOCK_SIZE_SHIFT;
        assert_eq!(Oid::inode(1).object_size(s), 12_587_576);
        assert_eq!(Oid::attr(1, 0).object_size(s), 66_320);
        assert_eq!(Oid::btree(1, 0).object_size(s), 4 << 20);
        assert_eq!(Oid::ledger(Oid::data(1, 0)).object_size(s), 4 << 20);
        assert_eq!(Oid::data(1, 0).object_size(s), 4 << 20);
        assert_eq!(Oid::vmstate(1, 0).object_size(s), 4 << 20);
        assert_eq!(Oid::data(1, 0).object_size(20), 1 << 20);
        assert_eq!(Oid::vmstate(1, 0).object_size(23), 8 << 20);
        // Ledger and btree are fixed whatever the shift.
        assert_eq!(Oid::ledger(Oid::data(1, 0)).object_size(20), 4 << 20);
        assert_eq!(Oid::inode(1).object_size(20), SD_INODE_SIZE);
    }

    #[test]
    fn display() {
        assert_eq!(Oid::inode(0x7c2b25).to_string(), "807c2b2500000000");
        assert_eq!(Oid::data(0x7c2b25, 1).to_string(), "007c2b2500000001");
        assert_eq!(Oid(0).to_string(), "0000000000000000");
        assert_eq!(format!("{:#x}", Oid(0xab)), "0xab");
        assert_eq!(Oid::default(), Oid(0));
        assert_eq!(u64::from(Oid::from(5u64)), 5);
        assert!(Oid::data(1, 2) < Oid::inode(1));
    }
}
