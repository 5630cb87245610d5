//! The inode object: `InodeHeader` decode/encode, and byte-range writes and
//! reads on a whole in-memory `Inode` (what WRITE_OBJ/READ_OBJ do to a vdi
//! object): a write lands exactly where asked, reads back identically,
//! touches no neighbouring byte, and an out-of-range write changes nothing.
use std::cell::RefCell;

use sdwire_fuzz::*;
use sheep_proto::oid::{SD_INODE_GREF_OFFSET, SD_INODE_HEADER_SIZE, SD_INODE_SIZE};
use sheep_proto::{Inode, InodeHeader};

thread_local! {
    static INODE: RefCell<Inode> = RefCell::new(Inode::default());
}

fn pick_offset(sel: u8, raw: u64) -> usize {
    let r = raw as usize;
    match sel % 8 {
        0 => r % SD_INODE_HEADER_SIZE,
        1 => SD_INODE_HEADER_SIZE - 16 + r % 32,
        2 => SD_INODE_HEADER_SIZE + r % (SD_INODE_GREF_OFFSET - SD_INODE_HEADER_SIZE),
        3 => SD_INODE_GREF_OFFSET - 16 + r % 32,
        4 => SD_INODE_GREF_OFFSET + r % (SD_INODE_SIZE - SD_INODE_GREF_OFFSET),
        5 => SD_INODE_SIZE - 64 + r % 128,
        6 => (raw as u32) as usize,
        _ => r, // anything, including offset + len overflowing usize
    }
}

fn main() {
    fuzz_main(|data: &[u8]| {
        if data.len() < 9 {
            return;
        }
        let sel = data[0];
        let raw = u64::from_le_bytes(data[1..9].try_into().unwrap());
        let payload = &data[9..];
        // The header on its own: exact round trip (no don't-care bytes).
        roundtrip::<InodeHeader>(payload, 0, &[]);
        if let Ok(h) = InodeHeader::from_prefix(payload) {
            assert_eq!(
                &sdwire::to_vec(&h, 0).unwrap()[..],
                &payload[..InodeHeader::SIZE]
            );
        }
        let off = pick_offset(sel, raw);
        INODE.with(|ino| {
            let mut ino = ino.borrow_mut();
            let len = payload.len();
            let in_range = off.checked_add(len).is_some_and(|e| e <= SD_INODE_SIZE);
            // Neighbourhood before the write: 16 bytes either side, clipped.
            let lo = off.min(SD_INODE_SIZE).saturating_sub(16);
            let hi_start = off.saturating_add(len).min(SD_INODE_SIZE);
            let hi_end = hi_start.saturating_add(16).min(SD_INODE_SIZE);
            let before = ino.read_range(lo, off.min(SD_INODE_SIZE) - lo).unwrap();
            let after = ino.read_range(hi_start, hi_end - hi_start).unwrap();
            let covered = if in_range {
                Some(ino.read_range(off, len).unwrap())
            } else {
                None
            };
            let hdr_before = ino.header.clone();
            match ino.apply_write(off, payload) {
                Ok(()) => {
                    assert!(in_range, "write outside the object accepted");
                    assert_eq!(
                        ino.read_range(off, len).unwrap(),
                        payload,
                        "write does not read back"
                    );
                    let _ = covered;
                }
                Err(e) => {
                    assert!(!in_range, "in-range write refused: {e}");
                    assert_eq!(ino.header, hdr_before, "refused write changed the header");
                    assert!(ino.read_range(off, len).is_err());
                }
            }
            assert_eq!(
                ino.read_range(lo, off.min(SD_INODE_SIZE) - lo).unwrap(),
                before,
                "bytes before the write changed"
            );
            assert_eq!(
                ino.read_range(hi_start, hi_end - hi_start).unwrap(),
                after,
                "bytes after the write changed"
            );
            // Typed view agrees with the byte view on the touched index entries.
            if in_range && len > 0 && off >= SD_INODE_HEADER_SIZE && off < SD_INODE_GREF_OFFSET {
                let idx = ((off - SD_INODE_HEADER_SIZE) / 4) as u32;
                let w = ino
                    .read_range(sheep_proto::inode::data_vdi_id_offset(idx), 4)
                    .unwrap();
                assert_eq!(
                    u32::from_le_bytes(w.try_into().unwrap()),
                    ino.data_vdi_id[idx as usize]
                );
            }
            let _ = ino.used_index_len();
        });
    });
}
