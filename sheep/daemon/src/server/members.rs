//! Connects the cluster membership ([`Membership`]) to the daemon: every
//! Join/Leave rebuilds the node list, the epoch and the vnode ring the
//! gateway places objects with; cluster-wide ops (MAKE_FS) travel as driver
//! notifications, applied by every member (the sender included) in the
//! driver's total order.

use std::sync::Arc;

use super::State;
use crate::cluster::membership::Membership;
use crate::cluster::state::decode_make_fs;
use crate::cluster::ClusterEvent;
use crate::proto::SdNode;
use crate::replication::replicas::ClusterView;
use crate::sync::lock;

/// Installs the membership of `epoch`: logs its node list, lets recovery
/// update which local copies are authoritative (before any request can see
/// the new epoch), publishes the view and the epoch, and starts the
/// recovery of the new epoch (which supersedes a running one).
fn install(st: &Arc<State>, me: &SdNode, members: &[SdNode], epoch: u32) {
    let v = ClusterView::new(members, epoch, me.socket_addr());
    if v.me.is_none() {
        tracing::warn!(addr = %me.socket_addr(), "this node is not in the member list");
    }
    if let Err(e) = lock(&st.cluster).record_epoch(epoch, &v.nodes) {
        tracing::error!(error = %e, epoch, "logging the epoch failed");
    }
    let newer = st.recovery.on_view(st, &v);
    st.replicas.set_view(v);
    st.epoch_tx.send_replace(epoch);
    if newer {
        crate::replication::recovery::start(&st.node, epoch);
    }
}

/// Attaches `m` to `st`: installs the current view and follows the
/// membership's events for the life of the daemon. A Leave of this node
/// itself (eviction) ends the process with status 1, unless the daemon is
/// already stopping (then it is its own graceful leave).
pub fn attach(st: &Arc<State>, m: Arc<Membership>, me: SdNode) {
    // Each peer link speaks the highest version both ends know, recomputed
    // with every view installed.
    let ours = st.cfg.versions;
    let weak = Arc::downgrade(&m);
    st.replicas.set_link_versions(Box::new(move |n| {
        weak.upgrade()?.view().peer_version_with(&ours, n)
    }));
    let v = m.view();
    install(st, &me, &v.members, v.epoch);
    let mut events = crate::sync::lock(&m.events).take();
    let _ = st.membership.set(m.clone());
    let st = st.clone();
    tokio::spawn(async move {
        let Some(ev) = events.as_mut() else { return };
        while let Some(ev) = ev.recv().await {
            match ev {
                ClusterEvent::Join {
                    node,
                    members,
                    epoch,
                    ..
                } => {
                    install(&st, &me, &members, epoch);
                    tracing::info!(node = %node.socket_addr(), epoch, nodes = members.len(), "node joined");
                }
                ClusterEvent::Leave {
                    node,
                    members,
                    epoch,
                } => {
                    if node.nid.key() == me.nid.key() {
                        if *st.shutdown_tx.borrow() {
                            // Our own graceful leave while stopping: main
                            // exits with the daemon's status.
                            return;
                        }
                        tracing::error!("this node was removed from the cluster, exiting");
                        std::process::exit(1);
                    }
                    install(&st, &me, &members, epoch);
                    tracing::info!(node = %node.socket_addr(), epoch, nodes = members.len(), "node left");
                }
                ClusterEvent::Notify { sender, msg } => {
                    if let Some(f) = decode_make_fs(&msg) {
                        tracing::info!(from = %sender.socket_addr(), copies = f.copies, "cluster format");
                        let r = crate::handlers::admin::apply_make_fs(&st, f).await;
                        if !r.result.is_success() {
                            tracing::error!(result = ?r.result, "applying the cluster format failed");
                        }
                    } else if crate::handlers::admin::is_shutdown_notify(&msg) {
                        tracing::info!(from = %sender.socket_addr(), "cluster shutdown");
                        crate::handlers::admin::shutdown_soon(&st.services);
                    }
                }
            }
        }
    });
}
