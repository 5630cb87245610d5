//! VDI locks (LOCK_VDI / RELEASE_VDI).
//!
//! Sheepdog tracks lock owners per node; every client of a one-node cluster
//! comes through this node, so a normal lock is repeatable and a shared lock
//! is a single participant: tgtd's unpaired re-locks after a snapshot reload
//! are harmless, and one RELEASE unlocks.

use std::collections::HashMap;

use crate::proto::SdResult;

/// Lock type on the wire (`vdi.type`).
pub const LOCK_TYPE_NORMAL: u32 = 0;
/// Shared lock (iSCSI multipath, tgtd).
pub const LOCK_TYPE_SHARED: u32 = 1;

/// How a VDI is locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// Exclusive.
    Normal,
    /// Shared.
    Shared,
}

/// The locks held, by vid.
#[derive(Debug, Default)]
pub struct LockTable {
    locks: HashMap<u32, LockKind>,
}

impl LockTable {
    /// Takes a lock of wire type `ty` on `vid`.
    ///
    /// # Errors
    ///
    /// `VDI_LOCKED` when it is held in the other mode, `INVALID_PARMS` for
    /// an unknown type.
    pub fn lock(&mut self, vid: u32, ty: u32) -> Result<(), SdResult> {
        let want = match ty {
            LOCK_TYPE_NORMAL => LockKind::Normal,
            LOCK_TYPE_SHARED => LockKind::Shared,
            _ => return Err(SdResult::InvalidParms),
        };
        match self.locks.get(&vid) {
            Some(&k) if k != want => Err(SdResult::VdiLocked),
            _ => {
                self.locks.insert(vid, want);
                Ok(())
            }
        }
    }

    /// Releases `vid`.
    ///
    /// # Errors
    ///
    /// `VDI_NOT_LOCKED` if it was not locked.
    pub fn release(&mut self, vid: u32) -> Result<(), SdResult> {
        self.locks
            .remove(&vid)
            .map(|_| ())
            .ok_or(SdResult::VdiNotLocked)
    }

    /// The lock on `vid`.
    pub fn get(&self, vid: u32) -> Option<LockKind> {
        self.locks.get(&vid).copied()
    }

    /// Drops every lock (format).
    pub fn clear(&mut self) {
        self.locks.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_modes() {
        let mut t = LockTable::default();
        assert_eq!(t.lock(1, LOCK_TYPE_SHARED), Ok(()));
        assert_eq!(t.lock(1, LOCK_TYPE_SHARED), Ok(()));
        assert_eq!(t.lock(1, LOCK_TYPE_NORMAL), Err(SdResult::VdiLocked));
        assert_eq!(t.release(1), Ok(()));
        assert_eq!(t.release(1), Err(SdResult::VdiNotLocked));
        assert_eq!(t.lock(1, LOCK_TYPE_NORMAL), Ok(()));
        assert_eq!(t.lock(1, LOCK_TYPE_NORMAL), Ok(()));
        assert_eq!(t.lock(1, 7), Err(SdResult::InvalidParms));
    }
}
