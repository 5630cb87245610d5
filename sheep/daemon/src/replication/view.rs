//! One cluster membership as the gateway and recovery see it: the members,
//! their vnode ring, the epoch, this node's place and the peer protocol
//! version of each link.

use std::net::SocketAddr;

use crate::cluster::join::Versions;
use crate::cluster::membership::View;
use crate::cluster::placement::{auto_vnodes, PlacementNode, VnodeRing};
use crate::proto::{SdNode, PEER_COMPAT};

/// One membership as the gateway sees it.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    /// Members, oldest first (with the vnode counts placement uses).
    pub nodes: Vec<SdNode>,
    /// Their ring.
    pub ring: VnodeRing,
    /// Membership epoch.
    pub epoch: u32,
    /// Index of this node in `nodes`.
    pub me: Option<usize>,
    /// Per member (same order as `nodes`): the peer protocol version this
    /// node speaks with it; [`PEER_COMPAT`] until the daemon's link-version
    /// function ([`Replicas::set_link_versions`](super::replicas::Replicas::set_link_versions)) or
    /// [`ClusterView::with_links`] knows better.
    pub links: Vec<u8>,
}

impl ClusterView {
    /// Builds the view of `members` (auto vnodes from their space) for the
    /// node announced as `me`.
    pub fn new(members: &[SdNode], epoch: u32, me: SocketAddr) -> ClusterView {
        let spaces: Vec<u64> = members.iter().map(|n| n.space).collect();
        let vn = auto_vnodes(&spaces);
        let nodes: Vec<SdNode> = members
            .iter()
            .zip(vn)
            .map(|(n, v)| SdNode { nr_vnodes: v, ..*n })
            .collect();
        let pn: Vec<PlacementNode> = nodes
            .iter()
            .map(|n| PlacementNode {
                addr: n.nid.addr,
                port: n.nid.port,
                zone: n.zone,
                nr_vnodes: n.nr_vnodes,
            })
            .collect();
        let me = nodes.iter().position(|n| n.socket_addr() == me);
        ClusterView {
            ring: VnodeRing::new(&pn),
            links: vec![PEER_COMPAT as u8; nodes.len()],
            nodes,
            epoch,
            me,
        }
    }

    /// The view with every link's peer version: the highest both this
    /// node (`ours`) and the member know, from the membership `m`
    /// ([`View::peer_version_with`]); the oldest version for a member the
    /// membership has no ranges of.
    #[must_use]
    pub fn with_links(mut self, m: &View, ours: &Versions) -> ClusterView {
        self.links = self
            .nodes
            .iter()
            .map(|n| m.peer_version_with(ours, n).unwrap_or(ours.peer.compat))
            .collect();
        self
    }

    /// The peer version of the link to `addr` ([`PEER_COMPAT`] for a node
    /// that is not a member).
    pub fn link_version(&self, addr: SocketAddr) -> u8 {
        self.nodes
            .iter()
            .position(|n| n.socket_addr() == addr)
            .and_then(|i| self.links.get(i).copied())
            .unwrap_or(PEER_COMPAT as u8)
    }

    /// The replica holders of `oid` (indices into `nodes`), `copies` capped
    /// at the number of zones.
    pub fn replicas(&self, oid: u64, copies: usize) -> Vec<usize> {
        self.ring.replicas(oid, copies.max(1))
    }
}
