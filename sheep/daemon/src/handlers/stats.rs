//! Request counters for STAT (`dog node stat`), counted as sheepdog 1.0
//! counts them: gateway object I/O (CREATE_AND_WRITE_OBJ, READ_OBJ,
//! WRITE_OBJ, REMOVE_OBJ, DECREF_OBJ, and FLUSH_VDI), and the peer ops the
//! gateway fans out (CREATE_AND_WRITE_PEER, READ_PEER, WRITE_PEER,
//! REMOVE_PEER, DECREF_PEER). Bytes in are the `data_length` of requests
//! with WRITE, bytes out the `data_length` of the others (what the client
//! asked for, as sheepdog counts). Other ops are not counted.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use crate::proto::{ReqFlags, ReqHeader, SdStat};

/// Which counters a request moves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Side {
    Gateway,
    Peer,
}

/// The counters of one daemon.
#[derive(Default, Debug)]
pub struct RequestStats {
    gway_active: AtomicU64,
    peer_active: AtomicU64,
    gway_total: AtomicU64,
    peer_total: AtomicU64,
    gway_rx: AtomicU64,
    gway_tx: AtomicU64,
    peer_rx: AtomicU64,
    peer_tx: AtomicU64,
    /// Only DISCARD_OBJ moves it in sheepdog, and DISCARD_OBJ is not a
    /// counted op there: it stays 0 (REMOVE_OBJ counts in the total only).
    gway_remove: AtomicU64,
    gway_read: AtomicU64,
    gway_write: AtomicU64,
    gway_flush: AtomicU64,
    peer_remove: AtomicU64,
    peer_read: AtomicU64,
    peer_write: AtomicU64,
}

/// Keeps a request counted as active until dropped.
#[must_use = "the request stays active until the guard is dropped"]
pub struct Active<'a> {
    counter: &'a AtomicU64,
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.counter.fetch_sub(1, Relaxed);
    }
}

impl RequestStats {
    /// Counts the request of `h` (if it is one sheepdog counts); the
    /// returned guard keeps it active until the answer is built.
    pub fn begin(&self, h: &ReqHeader) -> Option<Active<'_>> {
        let add = |c: &AtomicU64, n: u64| {
            c.fetch_add(n, Relaxed);
        };
        let side = match h.opcode {
            0x01..=0x04 | 0xC1 => Side::Gateway,
            0xA3..=0xA6 | 0xC2 => Side::Peer,
            // FLUSH_VDI: gateway total, active and flush only.
            0x16 => {
                add(&self.gway_total, 1);
                add(&self.gway_flush, 1);
                add(&self.gway_active, 1);
                return Some(Active {
                    counter: &self.gway_active,
                });
            }
            _ => return None,
        };
        let len = u64::from(h.data_length);
        let write = h.flags.contains(ReqFlags::WRITE);
        let (total, active, rx, tx) = match side {
            Side::Gateway => (
                &self.gway_total,
                &self.gway_active,
                &self.gway_rx,
                &self.gway_tx,
            ),
            Side::Peer => (
                &self.peer_total,
                &self.peer_active,
                &self.peer_rx,
                &self.peer_tx,
            ),
        };
        add(total, 1);
        add(if write { rx } else { tx }, len);
        match h.opcode {
            0x02 => add(&self.gway_read, 1),
            0x01 | 0x03 => add(&self.gway_write, 1),
            0xA4 => add(&self.peer_read, 1),
            0xA3 | 0xA5 => add(&self.peer_write, 1),
            0xA6 => add(&self.peer_remove, 1),
            _ => {}
        }
        add(active, 1);
        Some(Active { counter: active })
    }

    /// The counters as the STAT reply carries them.
    pub fn snapshot(&self) -> SdStat {
        let g = |c: &AtomicU64| c.load(Relaxed);
        SdStat {
            gway_active_nr: g(&self.gway_active),
            peer_active_nr: g(&self.peer_active),
            gway_total_nr: g(&self.gway_total),
            peer_total_nr: g(&self.peer_total),
            gway_total_rx: g(&self.gway_rx),
            gway_total_tx: g(&self.gway_tx),
            peer_total_rx: g(&self.peer_rx),
            peer_total_tx: g(&self.peer_tx),
            gway_total_remove_nr: g(&self.gway_remove),
            gway_total_read_nr: g(&self.gway_read),
            gway_total_write_nr: g(&self.gway_write),
            gway_total_flush_nr: g(&self.gway_flush),
            peer_total_remove_nr: g(&self.peer_remove),
            peer_total_read_nr: g(&self.peer_read),
            peer_total_write_nr: g(&self.peer_write),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(opcode: u8, write: bool, len: u32) -> ReqHeader {
        let flags = if write {
            ReqFlags::WRITE
        } else {
            ReqFlags::EMPTY
        };
        ReqHeader::new(opcode, flags, len)
    }

    #[test]
    fn counts_like_sheepdog() {
        let s = RequestStats::default();
        {
            let _w = s.begin(&hdr(0x03, true, 4096));
            let _r = s.begin(&hdr(0xA4, false, 512));
            let snap = s.snapshot();
            assert_eq!((snap.gway_active_nr, snap.peer_active_nr), (1, 1));
        }
        drop(s.begin(&hdr(0x02, false, 8192)));
        drop(s.begin(&hdr(0xA5, true, 100)));
        drop(s.begin(&hdr(0xA6, false, 0)));
        drop(s.begin(&hdr(0x16, false, 0)));
        assert!(s.begin(&hdr(0x11, true, 256)).is_none(), "NEW_VDI");
        assert!(s.begin(&hdr(0xB8, false, 120)).is_none(), "STAT itself");
        let snap = s.snapshot();
        assert_eq!((snap.gway_active_nr, snap.peer_active_nr), (0, 0));
        assert_eq!((snap.gway_total_nr, snap.peer_total_nr), (3, 3));
        assert_eq!((snap.gway_total_rx, snap.gway_total_tx), (4096, 8192));
        assert_eq!((snap.peer_total_rx, snap.peer_total_tx), (100, 512));
        assert_eq!((snap.gway_total_read_nr, snap.gway_total_write_nr), (1, 1));
        assert_eq!(snap.gway_total_flush_nr, 1);
        assert_eq!(
            (
                snap.peer_total_read_nr,
                snap.peer_total_write_nr,
                snap.peer_total_remove_nr
            ),
            (1, 1, 1)
        );
    }
}
