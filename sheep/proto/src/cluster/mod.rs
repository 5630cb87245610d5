//! The cluster protocol: every byte format the cluster drivers carry or the
//! cluster layer stores, as `#[derive(Wire)]` types. It is the fourth
//! protocol beside client, peer and admin, with its own version window
//! [`CLUSTER_COMPAT`]`..=`[`CLUSTER_VERSION`].
//!
//! * [`record`]: the driver log records ([`DriverRecord`]: join request,
//!   join verdict, leave, notify) and the local driver's log frame
//!   ([`LogFrame`]);
//! * [`join`]: the join message a node sends ([`JoinRequestMsg`]) and the
//!   master's answer ([`JoinReplyMsg`], with the [`MemberRangesTable`]);
//! * [`notice`]: the cluster-wide notices carried by a driver notify
//!   ([`MakeFsNotice`], [`ShutdownNotice`]);
//! * [`state`]: what a node keeps on disk about the cluster, beside its
//!   `config`: the epoch files ([`EpochFile`]).
//!
//! Version 1 is what commit 185809b wrote, byte for byte; the golden bytes
//! in `sheep/tests/data/cluster-v1/` are its definition
//! (`sheep/tests/cluster_golden.rs`). Every integer is little-endian.
//!
//! Each top-level type is versioned `version = 1, compat = 1`; encode and
//! decode them at a version inside the window ([`CLUSTER_VERSION`] today).

pub mod join;
pub mod notice;
pub mod record;
pub mod state;

pub use join::{
    AcceptedReply, JoinReplyMsg, JoinRequestMsg, MemberRangesEntry, MemberRangesTable, ProtoKind,
    RangePair, RefusalMsg, VersionRanges,
};
pub use notice::{MakeFsNotice, ShutdownNotice};
pub use record::{
    DriverRecord, JoinReqRecord, JoinRspRecord, LogFrame, NotifyRecord, RecordMember,
    MAX_RECORD_MSG,
};
pub use state::{EpochFile, EpochNode};

use sdwire::Version;

/// Newest cluster protocol version this build writes and reads.
pub const CLUSTER_VERSION: Version = 1;
/// Oldest cluster protocol version this build reads and can write.
pub const CLUSTER_COMPAT: Version = 1;
