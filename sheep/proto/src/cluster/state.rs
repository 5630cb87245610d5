//! The cluster state a node keeps on disk beside `config` (a
//! [`SheepdogConfig`](crate::SheepdogConfig)): one epoch file per
//! epoch, `STORE/epoch/%08u` (`daemon::cluster`).

use sdwire::Wire;

use crate::{EpochLog, NodeId, SdNode};

/// A node as an epoch file keeps it: an `sd_node` without its 24 bytes of
/// red-black-tree pointers.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 40 | nid ([`NodeId`]) |
/// | 40 | 2 | nr_vnodes |
/// | 42 | 2 | reserved (padding) |
/// | 44 | 4 | zone |
/// | 48 | 8 | space |
#[derive(Wire, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[wire(le, size = 56)]
pub struct EpochNode {
    /// The node's identity.
    pub nid: NodeId,
    /// Number of virtual nodes.
    pub nr_vnodes: u16,
    /// Padding.
    #[wire(reserved)]
    pub _pad: [u8; 2],
    /// Failure zone.
    pub zone: u32,
    /// Store capacity in bytes.
    pub space: u64,
}

impl From<SdNode> for EpochNode {
    fn from(n: SdNode) -> EpochNode {
        EpochNode {
            nid: n.nid,
            nr_vnodes: n.nr_vnodes,
            _pad: [0; 2],
            zone: n.zone,
            space: n.space,
        }
    }
}

impl From<EpochNode> for SdNode {
    fn from(n: EpochNode) -> SdNode {
        SdNode {
            nid: n.nid,
            nr_vnodes: n.nr_vnodes,
            zone: n.zone,
            space: n.space,
            ..SdNode::default()
        }
    }
}

/// An epoch file: the epoch's `epoch_log`, then its members.
#[derive(Wire, Debug, Clone, PartialEq, Eq, Default)]
#[wire(le, version = 1, compat = 1)]
pub struct EpochFile {
    /// The epoch, its time and the cluster's format.
    pub log: EpochLog,
    /// The members of the epoch, as many as the file holds.
    #[wire(rest)]
    pub nodes: Vec<EpochNode>,
}
