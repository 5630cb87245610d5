//! Cluster-wide notices: the bodies of driver notifies that every member
//! applies in the cluster's total order. Each starts with a NUL-terminated
//! ASCII magic naming it; a notice with an unknown magic is ignored.

use bytes::Bytes;
use sdwire::Wire;

/// MAKE_FS: format the cluster (`daemon::members`).
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 13 | magic `"SHEEP-MKFS-1\0"` |
/// | 13 | 8 | ctime |
/// | 21 | 2 | flags (`SD_CLUSTER_FLAG_*`) |
/// | 23 | 1 | copies |
/// | 24 | 1 | copy_policy |
/// | 25 | 1 | block_size_shift |
/// | 26 | rest | store name (no NUL) |
#[derive(Wire, Debug, Clone, PartialEq, Eq, Default)]
#[wire(le, packed, version = 1, compat = 1)]
pub struct MakeFsNotice {
    /// [`MakeFsNotice::MAGIC`].
    pub magic: [u8; 13],
    /// Cluster identity (`sec << 32 | nsec`).
    pub ctime: u64,
    /// `SD_CLUSTER_FLAG_*`.
    pub flags: u16,
    /// Default copies.
    pub copies: u8,
    /// Default copy policy.
    pub copy_policy: u8,
    /// Default block_size_shift.
    pub block_size_shift: u8,
    /// Backend store name.
    #[wire(rest)]
    pub store: Bytes,
}

impl MakeFsNotice {
    /// The magic.
    pub const MAGIC: [u8; 13] = *b"SHEEP-MKFS-1\0";

    /// Whether the magic is MAKE_FS's.
    pub fn is_valid(&self) -> bool {
        self.magic == Self::MAGIC
    }
}

/// SHUTDOWN: stop every member (`admin`). The notice is its magic alone.
#[derive(Wire, Debug, Clone, PartialEq, Eq, Default)]
#[wire(le, size = 17, version = 1, compat = 1)]
pub struct ShutdownNotice {
    /// [`ShutdownNotice::MAGIC`].
    pub magic: [u8; 17],
}

impl ShutdownNotice {
    /// The magic.
    pub const MAGIC: [u8; 17] = *b"SHEEP-SHUTDOWN-1\0";

    /// The notice.
    pub fn new() -> ShutdownNotice {
        ShutdownNotice { magic: Self::MAGIC }
    }

    /// Whether `msg` is exactly a SHUTDOWN notice.
    pub fn matches(msg: &[u8]) -> bool {
        sdwire::from_slice_exact::<ShutdownNotice>(msg, super::CLUSTER_VERSION)
            .is_ok_and(|n| n.magic == Self::MAGIC)
    }
}
