//! Replication: the cluster view and placement, the fan-out of object I/O
//! to the replicas with the peer connection pool ([`replicas`]), and
//! object recovery after membership changes ([`recovery`]). The rule "who
//! holds object X" is written once, [`recovery::holders`].
//!
//! [`Node`] is what this layer works on: the local store, the replica set,
//! the persisted cluster state (format, epochs), the current epoch, the VDI
//! table placement needs, and the recovery state. The handlers above get it
//! through their services; nothing here sees a request or a connection.

use std::sync::{Arc, Mutex, RwLock};

use tokio::sync::watch;

use crate::cluster::membership::Membership;
use crate::cluster::state::{ClusterState, Format, NodeInfo};
use crate::config::Config;
use crate::objects::VdiTable;
use crate::proto::{ClusterInfo, SdNode, SdResult};
use crate::store::{ObjectStore, PlainStore, StoreOptions};
use crate::sync::lock;
use recovery::Recovery;
use replicas::Replicas;

pub mod error;
pub mod recovery;
pub mod replicas;
pub mod view;

pub use error::ReplicaError;

/// One sheep's node-level state, shared by replication and the handlers.
pub struct Node {
    /// Configuration.
    pub cfg: Config,
    /// The local object store.
    pub store: Arc<dyn ObjectStore>,
    /// Where object I/O goes: the replicas of the current view (the local
    /// store alone without a membership).
    pub replicas: Replicas,
    /// Format, epochs, this node.
    pub cluster: Mutex<ClusterState>,
    /// Epoch changes, for parked peer requests.
    pub epoch_tx: watch::Sender<u32>,
    /// Inode headers by vid (shared with [`Replicas`] for placement).
    pub vdis: Arc<RwLock<VdiTable>>,
    /// The cluster membership, once attached (`server::members::attach`).
    pub membership: std::sync::OnceLock<Arc<Membership>>,
    /// Object recovery after membership changes.
    pub recovery: Recovery,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// Opens the store and the persisted state in `cfg.dir`.
    ///
    /// # Errors
    ///
    /// I/O errors opening the store or reading the state files.
    pub fn open(cfg: Config) -> std::io::Result<Arc<Node>> {
        std::fs::create_dir_all(&cfg.dir)?;
        let store = PlainStore::open(&cfg.dir, StoreOptions { sync: cfg.sync })
            .map_err(std::io::Error::other)?;
        let store: Arc<dyn ObjectStore> = Arc::new(store);
        let space = store.stats().1;
        let zone = cfg.zone.unwrap_or_else(|| match cfg.addr.ip() {
            std::net::IpAddr::V4(v4) => u32::from_le_bytes(v4.octets()),
            std::net::IpAddr::V6(v6) => u32::from_le_bytes(v6.octets()[12..16].try_into().unwrap()),
        });
        let node = NodeInfo {
            addr: cfg.addr,
            zone,
            space,
        };
        let cluster = ClusterState::load_with(&cfg.dir, node, cfg.clustered)?;
        let vdis = VdiTable::load(store.as_ref()).map_err(std::io::Error::other)?;
        tracing::info!(
            dir = %cfg.dir.display(),
            formatted = cluster.format.is_some(),
            epoch = cluster.epoch,
            vdis = vdis.vdis.len(),
            "sheep state loaded"
        );
        let (epoch_tx, _) = watch::channel(cluster.epoch);
        let vdis = Arc::new(RwLock::new(vdis));
        let replicas = Replicas::local(store.clone());
        replicas.set_vdi_table(vdis.clone());
        if let Some(f) = &cluster.format {
            replicas
                .fan
                .default_copies
                .store(f.copies, std::sync::atomic::Ordering::Relaxed);
        }
        // The members of the last epochs this store lived through: until
        // they are all back, this node's absences are not authoritative
        // (see recovery).
        let prior_members: Vec<std::net::SocketAddr> = cluster
            .logged_epochs()
            .iter()
            .take(16)
            .filter_map(|&e| cluster.nodes_of_epoch(e))
            .flatten()
            .map(|n| n.socket_addr())
            .filter(|a| *a != cfg.addr)
            .collect();
        Ok(Arc::new(Node {
            replicas,
            store,
            cluster: Mutex::new(cluster),
            epoch_tx,
            vdis,
            membership: std::sync::OnceLock::new(),
            recovery: Recovery::after_restart(prior_members),
            cfg,
        }))
    }

    /// The current epoch.
    pub fn epoch(&self) -> u32 {
        *self.epoch_tx.borrow()
    }

    /// The format, if formatted.
    pub fn format(&self) -> Option<Format> {
        lock(&self.cluster).format.clone()
    }

    /// Default block_size_shift of the cluster.
    pub fn default_shift(&self) -> u8 {
        self.format()
            .map(|f| f.block_size_shift)
            .filter(|&s| s != 0)
            .unwrap_or(crate::proto::oid::DEFAULT_BLOCK_SIZE_SHIFT)
    }

    /// Whether a cluster membership drives this daemon.
    pub fn clustered(&self) -> bool {
        self.membership.get().is_some()
    }

    /// The cluster as CLUSTER_INFO reports it: the persisted state, with
    /// the node list and epoch of the membership when clustered.
    pub fn cluster_info(&self) -> ClusterInfo {
        let mut ci = lock(&self.cluster).cluster_info();
        if let Some(v) = self.replicas.view() {
            ci.header.nr_nodes = u16::try_from(v.nodes.len()).unwrap_or(u16::MAX);
            ci.header.epoch = v.epoch;
            ci.nodes = v.nodes;
        }
        ci
    }

    /// The current members (this node alone when not clustered).
    pub fn nodes(&self) -> Vec<SdNode> {
        match self.replicas.view() {
            Some(v) => v.nodes,
            None => vec![lock(&self.cluster).node.sd_node()],
        }
    }

    /// Refreshes the VDI table after a write at `offset` into `oid`
    /// touched an inode header.
    pub fn after_inode_write(&self, oid: crate::proto::Oid, offset: u32) {
        crate::objects::after_inode_write(&self.vdis, self.store.as_ref(), oid, offset);
    }

    /// Applies the epoch rules to a peer request carrying `epoch`: an older
    /// epoch answers OLD_NODE_VER at once; a newer one waits (at most the
    /// configured park timeout) for this node to reach it, then NEW_NODE_VER.
    pub async fn check_epoch(&self, epoch: u32) -> Result<(), SdResult> {
        let mine = self.epoch();
        if epoch < mine {
            return Err(SdResult::OldNodeVer);
        }
        if epoch > mine {
            let mut rx = self.epoch_tx.subscribe();
            let reached = tokio::time::timeout(self.cfg.park_timeout, async {
                rx.wait_for(|&e| e >= epoch).await.is_ok()
            })
            .await;
            if reached != Ok(true) {
                return Err(SdResult::NewNodeVer);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::net::SocketAddr;
    use std::sync::atomic::Ordering;

    use super::recovery::holders;
    use super::replicas::ClusterView;
    use super::*;
    use crate::objects::VdiMeta;
    use crate::proto::oid::Oid;

    fn node(port: u16, zone: u32) -> SdNode {
        let mut n = SdNode::new(SocketAddr::from(([127, 0, 0, 1], port)), 128, 1 << 30);
        n.zone = zone;
        n
    }

    fn node_at(dir: &std::path::Path, me: SdNode, default_copies: u8) -> Arc<Node> {
        let mut cfg = Config::new(dir, me.socket_addr());
        cfg.sync = false;
        let n = Node::open(cfg).unwrap();
        n.replicas
            .fan
            .default_copies
            .store(default_copies, Ordering::Relaxed);
        n
    }

    #[test]
    fn vdi_metadata_is_held_by_every_member_data_by_the_ring() {
        let dir = tempfile::tempdir().unwrap();
        let members = [node(7000, 1), node(7001, 2), node(7002, 3), node(7003, 4)];
        let st = node_at(dir.path(), members[0], 2);
        let v = ClusterView::new(&members, 1, members[0].socket_addr());
        let all: Vec<usize> = (0..members.len()).collect();
        assert_eq!(holders(&st, &v, Oid::inode(0x7c2b25).0, 0), all);
        assert_eq!(holders(&st, &v, Oid::attr(0x7c2b25, 3).0, 1), all);
        for idx in 0..64 {
            let oid = Oid::data(0x7c2b25, idx).0;
            let h = holders(&st, &v, oid, 0);
            // The cluster default (2) decides, in the ring's order.
            assert_eq!(h, v.replicas(oid, 2), "{oid:#x}");
            let zones: HashSet<u32> = h.iter().map(|&i| v.nodes[i].zone).collect();
            assert_eq!(zones.len(), 2, "one copy per zone");
            // A request's own copies win over the default.
            assert_eq!(holders(&st, &v, oid, 3).len(), 3);
        }
    }

    #[test]
    fn copies_come_from_the_request_then_the_vdi_then_the_cluster() {
        let dir = tempfile::tempdir().unwrap();
        let me = node(7000, 1);
        let st = node_at(dir.path(), me, 2);
        let oid = Oid::data(0x42, 0).0;
        assert_eq!(st.replicas.copies_of(oid, 0), 2);
        assert_eq!(st.replicas.copies_of(oid, 3), 3);
        crate::sync::write(&st.vdis).vdis.insert(
            0x42,
            VdiMeta {
                copies: 1,
                ..VdiMeta::default()
            },
        );
        assert_eq!(st.replicas.copies_of(oid, 0), 1, "the VDI's own count");
        assert_eq!(st.replicas.copies_of(Oid::data(0x43, 0).0, 0), 2);
    }

    #[test]
    fn copies_are_capped_by_the_number_of_zones() {
        let dir = tempfile::tempdir().unwrap();
        // Four nodes, two zones: at most two distinct-zone copies.
        let members = [node(7000, 1), node(7001, 1), node(7002, 2), node(7003, 2)];
        let st = node_at(dir.path(), members[0], 3);
        let v = ClusterView::new(&members, 1, members[0].socket_addr());
        for idx in 0..32 {
            let h = holders(&st, &v, Oid::data(9, idx).0, 0);
            assert_eq!(h.len(), 2);
            assert_ne!(v.nodes[h[0]].zone, v.nodes[h[1]].zone);
        }
    }

    #[test]
    fn a_node_that_is_not_a_member_holds_nothing_here() {
        let dir = tempfile::tempdir().unwrap();
        let me = node(7009, 9);
        let members = [node(7000, 1), node(7001, 2)];
        let st = node_at(dir.path(), me, 2);
        let v = ClusterView::new(&members, 1, me.socket_addr());
        assert_eq!(v.me, None);
        // Every holder is a member; this node is none of them.
        let h = holders(&st, &v, Oid::data(5, 0).0, 0);
        assert_eq!(h.len(), 2);
        assert!(h
            .iter()
            .all(|&i| v.nodes[i].socket_addr() != me.socket_addr()));
    }
}
