//! The VDI inode object `sd_inode` (docs/sheepdog-facts.md §11.1).
//!
//! A full inode is 12,587,576 bytes: a 4,664-byte header, `data_vdi_id[2^20]`
//! (u32 each) and `gref[2^20]` ({i32 generation, i32 count} each). Clients
//! read and write arbitrary byte ranges of it (dog updates one 4-byte
//! `data_vdi_id` entry with WRITE_OBJ; the gateway updates 8-byte `gref`
//! entries), so besides whole-object encode/decode this module offers
//! [`Inode::apply_write`] and [`Inode::read_range`] on an in-memory inode.

use super::oid::{
    SD_INODE_DATA_INDEX, SD_INODE_DATA_VDI_ID_OFFSET, SD_INODE_GREF_OFFSET, SD_INODE_HEADER_SIZE,
    SD_INODE_SIZE,
};
use sdwire::Wire;

/// The first 4,664 bytes of an inode.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 256 | name (NUL-padded) |
/// | 256 | 256 | tag (snapshot tag) |
/// | 512 | 8 | create_time (`sec<<32 \| usec*1000`) |
/// | 520 | 8 | snap_ctime (non-zero = snapshot) |
/// | 528 | 8 | vm_clock_nsec |
/// | 536 | 8 | vdi_size |
/// | 544 | 8 | vm_state_size |
/// | 552 | 1 | copy_policy |
/// | 553 | 1 | store_policy |
/// | 554 | 1 | nr_copies |
/// | 555 | 1 | block_size_shift |
/// | 556 | 4 | snap_id |
/// | 560 | 4 | vdi_id |
/// | 564 | 4 | parent_vdi_id |
/// | 568 | 4 | btree_counter |
/// | 572 | 4092 | unused (old child_vdi_id area), kept as read |
#[derive(Wire, Clone, PartialEq, Eq, Debug)]
#[wire(le, size = 4664)]
pub struct InodeHeader {
    /// VDI name, NUL-padded.
    pub name: [u8; 256],
    /// Snapshot tag, NUL-padded.
    pub tag: [u8; 256],
    /// Creation time.
    pub create_time: u64,
    /// Snapshot time; non-zero means this inode is a snapshot.
    pub snap_ctime: u64,
    /// VM clock.
    pub vm_clock_nsec: u64,
    /// Size in bytes.
    pub vdi_size: u64,
    /// VM state size.
    pub vm_state_size: u64,
    /// Copy policy.
    pub copy_policy: u8,
    /// 0 = flat data_vdi_id, 1 = B-tree.
    pub store_policy: u8,
    /// Copies.
    pub nr_copies: u8,
    /// Object size shift.
    pub block_size_shift: u8,
    /// Snapshot id.
    pub snap_id: u32,
    /// This VDI's vid.
    pub vdi_id: u32,
    /// Parent vid.
    pub parent_vdi_id: u32,
    /// B-tree node counter.
    pub btree_counter: u32,
    /// The old `child_vdi_id[1024]` area minus btree_counter.
    pub unused: [u8; 4092],
}

impl Default for InodeHeader {
    fn default() -> Self {
        InodeHeader {
            name: [0; 256],
            tag: [0; 256],
            create_time: 0,
            snap_ctime: 0,
            vm_clock_nsec: 0,
            vdi_size: 0,
            vm_state_size: 0,
            copy_policy: 0,
            store_policy: 0,
            nr_copies: 0,
            block_size_shift: 0,
            snap_id: 0,
            vdi_id: 0,
            parent_vdi_id: 0,
            btree_counter: 0,
            unused: [0; 4092],
        }
    }
}

impl InodeHeader {
    /// Size on the wire.
    pub const SIZE: usize = SD_INODE_HEADER_SIZE;

    /// Decodes the header from the first 4,664 bytes of `bytes` (e.g. a partial inode read).
    ///
    /// # Errors
    /// Fewer than 4,664 bytes.
    pub fn from_prefix(bytes: &[u8]) -> Result<InodeHeader, sdwire::DecodeError> {
        sdwire::from_slice(bytes, 0)
    }

    /// The name up to its first NUL.
    pub fn name_bytes(&self) -> &[u8] {
        super::cluster_info::c_str(&self.name)
    }

    /// The tag up to its first NUL.
    pub fn tag_bytes(&self) -> &[u8] {
        super::cluster_info::c_str(&self.tag)
    }

    /// Whether this inode is a snapshot.
    pub fn is_snapshot(&self) -> bool {
        self.snap_ctime != 0
    }
}

/// One `gref` entry.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct Gref {
    /// Generation.
    pub generation: i32,
    /// Reference count.
    pub count: i32,
}

/// A whole inode object.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 4,664 | header ([`InodeHeader`]) |
/// | 4,664 | 4,194,304 | data_vdi_id[2^20] (u32) |
/// | 4,198,968 | 8,388,608 | gref[2^20]: {i32 generation, i32 count}, stored interleaved |
#[derive(Wire, Clone, PartialEq, Eq, Debug)]
#[wire(le, size = 12587576)]
pub struct Inode {
    /// The header.
    pub header: InodeHeader,
    /// Which vid owns data object i (0 = unallocated).
    pub data_vdi_id: Box<[u32; 1 << 20]>,
    /// `gref[i]` as `[generation, count]` pairs: element 2i is the generation, 2i+1 the count.
    pub gref: Box<[i32; 1 << 21]>,
}

/// A byte range outside the inode object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("byte range {offset}+{len} is outside the {SD_INODE_SIZE}-byte inode")]
pub struct InodeRangeError {
    /// Start.
    pub offset: usize,
    /// Length.
    pub len: usize,
}

/// Offset of `data_vdi_id[idx]` inside the inode.
pub const fn data_vdi_id_offset(idx: u32) -> usize {
    SD_INODE_DATA_VDI_ID_OFFSET + 4 * idx as usize
}

/// Offset of `gref[idx]` inside the inode.
pub const fn gref_offset(idx: u32) -> usize {
    SD_INODE_GREF_OFFSET + 8 * idx as usize
}

fn boxed<T: Copy + Default, const N: usize>() -> Box<[T; N]> {
    vec![T::default(); N]
        .into_boxed_slice()
        .try_into()
        .unwrap_or_else(|_| unreachable!("length N"))
}

impl Default for Inode {
    fn default() -> Self {
        Inode::new(InodeHeader::default())
    }
}

impl Inode {
    /// Size of the object.
    pub const SIZE: usize = SD_INODE_SIZE;

    /// An inode with `header` and empty index and grefs.
    pub fn new(header: InodeHeader) -> Inode {
        Inode {
            header,
            data_vdi_id: boxed(),
            gref: boxed(),
        }
    }

    /// `gref[idx]`.
    pub fn gref(&self, idx: u32) -> Gref {
        let i = 2 * idx as usize;
        Gref {
            generation: self.gref[i],
            count: self.gref[i + 1],
        }
    }

    /// Sets `gref[idx]`.
    pub fn set_gref(&mut self, idx: u32, g: Gref) {
        let i = 2 * idx as usize;
        self.gref[i] = g.generation;
        self.gref[i + 1] = g.count;
    }

    fn check(offset: usize, len: usize) -> Result<(), InodeRangeError> {
        match offset.checked_add(len) {
            Some(end) if end <= SD_INODE_SIZE => Ok(()),
            _ => Err(InodeRangeError { offset, len }),
        }
    }

    /// Applies a write of `data` at byte `offset` of the object, as a store
    /// would to the object file (any offset and length, e.g. a 4-byte
    /// `data_vdi_id` update or a header rewrite).
    ///
    /// # Errors
    /// The range extends past the end of the object.
    pub fn apply_write(&mut self, offset: usize, data: &[u8]) -> Result<(), InodeRangeError> {
        Self::check(offset, data.len())?;
        let end = offset + data.len();
        let hdr_end = SD_INODE_HEADER_SIZE;
        let idx_end = SD_INODE_GREF_OFFSET;
        // Header part.
        if offset < hdr_end {
            let mut h = [0u8; SD_INODE_HEADER_SIZE];
            self.header.encode(&mut &mut h[..], 0).expect("header fits");
            let e = end.min(hdr_end);
            h[offset..e].copy_from_slice(&data[..e - offset]);
            self.header = sdwire::from_slice(&h, 0).expect("header decodes");
        }
        // data_vdi_id part.
        let s = offset.max(hdr_end);
        let e = end.min(idx_end);
        if s < e {
            patch_words(
                &mut self.data_vdi_id[..],
                s - hdr_end,
                &data[s - offset..e - offset],
                u32::to_le_bytes,
                u32::from_le_bytes,
            );
        }
        // gref part.
        let s = offset.max(idx_end);
        if s < end {
            patch_words(
                &mut self.gref[..],
                s - idx_end,
                &data[s - offset..],
                i32::to_le_bytes,
                i32::from_le_bytes,
            );
        }
        Ok(())
    }

    /// Reads `len` bytes at `offset` of the object (what READ_OBJ returns).
    ///
    /// # Errors
    /// The range extends past the end of the object.
    pub fn read_range(&self, offset: usize, len: usize) -> Result<Vec<u8>, InodeRangeError> {
        Self::check(offset, len)?;
        let end = offset + len;
        let mut out = Vec::with_capacity(len);
        let hdr_end = SD_INODE_HEADER_SIZE;
        let idx_end = SD_INODE_GREF_OFFSET;
        if offset < hdr_end {
            let mut h = [0u8; SD_INODE_HEADER_SIZE];
            self.header.encode(&mut &mut h[..], 0).expect("header fits");
            out.extend_from_slice(&h[offset..end.min(hdr_end)]);
        }
        let s = offset.max(hdr_end);
        let e = end.min(idx_end);
        if s < e {
            read_words(
                &self.data_vdi_id[..],
                s - hdr_end,
                e - s,
                u32::to_le_bytes,
                &mut out,
            );
        }
        let s = offset.max(idx_end);
        if s < end {
            read_words(
                &self.gref[..],
                s - idx_end,
                end - s,
                i32::to_le_bytes,
                &mut out,
            );
        }
        Ok(out)
    }

    /// Number of allocated entries in `data_vdi_id`, scanning to the last non-zero one
    /// (what `vdi list` reads).
    pub fn used_index_len(&self) -> u32 {
        self.data_vdi_id
            .iter()
            .rposition(|&v| v != 0)
            .map_or(0, |i| i as u32 + 1)
    }
}

fn patch_words<T: Copy>(
    words: &mut [T],
    byte_off: usize,
    data: &[u8],
    to: fn(T) -> [u8; 4],
    from: fn([u8; 4]) -> T,
) {
    let mut pos = byte_off;
    let mut i = 0;
    while i < data.len() {
        let w = pos / 4;
        let within = pos % 4;
        let n = (4 - within).min(data.len() - i);
        let mut b = to(words[w]);
        b[within..within + n].copy_from_slice(&data[i..i + n]);
        words[w] = from(b);
        pos += n;
        i += n;
    }
}

fn read_words<T: Copy>(
    words: &[T],
    byte_off: usize,
    len: usize,
    to: fn(T) -> [u8; 4],
    out: &mut Vec<u8>,
) {
    let mut pos = byte_off;
    let end = byte_off + len;
    while pos < end {
        let w = pos / 4;
        let within = pos % 4;
        let n = (4 - within).min(end - pos);
        out.extend_from_slice(&to(words[w])[within..within + n]);
        pos += n;
    }
}

const _: () = assert!(SD_INODE_DATA_INDEX as usize == 1 << 20);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(InodeHeader::FIXED_SIZE, Some(4664));
        assert_eq!(Inode::FIXED_SIZE, Some(SD_INODE_SIZE));
        assert_eq!(
            InodeHeader::LAYOUT.field("vdi_id").unwrap().offset,
            Some(560)
        );
        assert_eq!(
            InodeHeader::LAYOUT.field("btree_counter").unwrap().offset,
            Some(568)
        );
        assert_eq!(
            Inode::LAYOUT.field("gref").unwrap().offset,
            Some(SD_INODE_GREF_OFFSET)
        );
        assert_eq!(data_vdi_id_offset(1), 4668);
        assert_eq!(gref_offset(1), 4_198_976);
    }

    #[test]
    fn byte_range_writes() {
        let mut ino = Inode::default();
        ino.apply_write(data_vdi_id_offset(1), &0x7c2b25u32.to_le_bytes())
            .unwrap();
        assert_eq!(ino.data_vdi_id[1], 0x7c2b25);
        assert_eq!(ino.used_index_len(), 2);
        ino.apply_write(gref_offset(3), &[1, 0, 0, 0, 2, 0, 0, 0])
            .unwrap();
        assert_eq!(
            ino.gref(3),
            Gref {
                generation: 1,
                count: 2
            }
        );
        // Unaligned write across the header/index boundary.
        ino.apply_write(SD_INODE_HEADER_SIZE - 2, &[9, 9, 0xaa, 0xbb])
            .unwrap();
        assert_eq!(ino.header.unused[4090..], [9, 9]);
        assert_eq!(ino.data_vdi_id[0], 0xbbaa);
        assert_eq!(
            ino.read_range(SD_INODE_HEADER_SIZE - 2, 8).unwrap(),
            vec![9, 9, 0xaa, 0xbb, 0, 0, 0x25, 0x2b]
        );
        ino.apply_write(0, b"test").unwrap();
        assert_eq!(ino.header.name_bytes(), b"test");
        assert!(ino.apply_write(SD_INODE_SIZE - 1, &[0, 0]).is_err());
        // Whole-object round trip and consistency with read_range.
        let all = sdwire::to_vec(&ino, 0).unwrap();
        assert_eq!(all.len(), SD_INODE_SIZE);
        assert_eq!(ino.read_range(0, SD_INODE_SIZE).unwrap(), all);
        assert_eq!(sdwire::from_slice::<Inode>(&all, 0).unwrap(), ino);
    }
}

/// One `data_vdi_id` entry: the vid owning an object (0: unallocated).
#[derive(Wire, Clone, Copy, PartialEq, Eq, Default, Debug)]
#[wire(le, size = 4)]
pub struct IndexEntry(pub u32);

/// A run of `data_vdi_id` entries (a slice of [`Inode`]'s index, as read
/// from or written at [`data_vdi_id_offset`]).
#[derive(Wire, Clone, PartialEq, Eq, Default, Debug)]
#[wire(le)]
pub struct IndexRun {
    /// The vids, one per object.
    #[wire(rest)]
    pub entries: Vec<IndexEntry>,
}

impl IndexRun {
    /// A run of `vids`.
    pub fn new(vids: Vec<u32>) -> IndexRun {
        IndexRun {
            entries: vids.into_iter().map(IndexEntry).collect(),
        }
    }

    /// The vids.
    pub fn vids(self) -> Vec<u32> {
        self.entries.into_iter().map(|e| e.0).collect()
    }
}
