//! A sheep's membership view: joins the cluster through a [`ClusterDriver`]
//! with version negotiation ([`super::join`]), then folds the event stream
//! into the member list, the membership epoch and the cluster's version
//! window.
//!
//! The epoch is the driver's membership epoch: every join and leave since
//! the cluster was founded bumps it, identically on every member because
//! every node folds the same log.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use super::driver::{ClusterDriver, ClusterEvent, DriverError, JoinJudge, JoinOutcome};
use super::join::{
    append_member_ranges, judge_encoded, member_ranges, ClusterWindow, JoinMessage, JoinReply,
    MemberRanges, Refusal, Versions,
};
use crate::proto::{SdNode, SheepdogConfig};

/// The cluster identity of the store in `dir` (`config`'s ctime), 0 when
/// the store was never formatted.
pub fn store_ctime(dir: &std::path::Path) -> u64 {
    std::fs::read(dir.join("config"))
        .ok()
        .and_then(|b| sdwire::from_slice::<SheepdogConfig>(&b, 0).ok())
        .map_or(0, |c| c.ctime)
}

/// What one node knows about the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    /// Members, oldest first.
    pub members: Vec<SdNode>,
    /// Membership epoch: membership changes since the cluster was founded
    /// (the same on every member, from the driver's total order).
    pub epoch: u32,
    /// Intersection of every member's version ranges.
    pub versions: Versions,
    /// Each member's own ranges, by position in `members`.
    pub member_versions: Vec<Versions>,
}

impl View {
    /// The peer version to speak with `node`: the highest version both this
    /// node (`ours`) and `node` speak.
    pub fn peer_version_with(&self, ours: &Versions, node: &SdNode) -> Option<u8> {
        let i = self
            .members
            .iter()
            .position(|m| m.nid.key() == node.nid.key())?;
        super::join::link_version(ours, &self.member_versions[i])
    }
}

/// Why [`Membership::join`] failed.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The driver failed.
    #[error(transparent)]
    Driver(#[from] DriverError),
    /// The cluster refused this node.
    #[error("join refused: {0}")]
    Refused(Refusal),
    /// The master's reply could not be understood.
    #[error("join refused with an unreadable reply")]
    BadReply,
}

/// A joined node's membership.
pub struct Membership {
    driver: Arc<dyn ClusterDriver>,
    view: watch::Sender<View>,
    /// The driver's events after they were folded into the view, for the
    /// daemon (cluster ops, recovery).
    pub events: Mutex<Option<mpsc::UnboundedReceiver<ClusterEvent>>>,
}

impl std::fmt::Debug for Membership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Membership")
            .field("driver", &self.driver.name())
            .field("view", &*self.view.borrow())
            .finish()
    }
}

fn versions_of(msg: &[u8]) -> Option<Versions> {
    JoinMessage::decode(msg).map(|m| m.versions)
}

impl Membership {
    /// Joins as `me`, speaking `versions`, for the store in `store_dir`.
    ///
    /// While this node is the master it judges later joins against its
    /// store's ctime (read at judging time, so a format done after the join
    /// counts) and the current window.
    ///
    /// Returns once this node's own Join is folded: [`Membership::view`]
    /// is then the membership this node joined (itself included, with the
    /// cluster's current epoch), never the empty view before it.
    ///
    /// # Errors
    ///
    /// [`JoinError::Refused`] when the cluster refused this node (the caller
    /// logs it and exits non-zero), driver errors (the event stream ended
    /// before this node's Join: [`DriverError::NotMember`]).
    pub async fn join(
        driver: Arc<dyn ClusterDriver>,
        me: SdNode,
        versions: Versions,
        store_dir: PathBuf,
    ) -> Result<Arc<Membership>, JoinError> {
        let (view_tx, _) = watch::channel(View {
            members: Vec::new(),
            epoch: 0,
            versions,
            member_versions: Vec::new(),
        });
        let msg = JoinMessage {
            ctime: store_ctime(&store_dir),
            versions,
        };
        let window_view = view_tx.subscribe();
        let judge: JoinJudge = Arc::new(move |_node: &SdNode, msg: &[u8]| {
            let window = ClusterWindow {
                ctime: store_ctime(&store_dir),
                versions: window_view.borrow().versions,
            };
            let (ok, mut reply) = judge_encoded(&window, msg);
            if ok {
                let v = window_view.borrow();
                let known: MemberRanges = v
                    .members
                    .iter()
                    .zip(&v.member_versions)
                    .map(|(n, r)| (n.nid.key(), *r))
                    .collect();
                append_member_ranges(&mut reply, &known);
            }
            (ok, Bytes::from(reply))
        });
        let out = driver.join(me, Bytes::from(msg.encode()), judge).await?;
        let mut base = versions;
        let mut known = MemberRanges::new();
        let mut events = match out {
            JoinOutcome::Accepted { reply, events, .. } => {
                match JoinReply::decode(&reply) {
                    // The founder gets an empty reply.
                    None if reply.is_empty() => {}
                    Some(JoinReply::Accepted(w)) => {
                        base = w.versions;
                        known = member_ranges(&reply);
                    }
                    Some(JoinReply::Refused(r)) => return Err(JoinError::Refused(r)),
                    None => return Err(JoinError::BadReply),
                }
                events
            }
            JoinOutcome::Refused { reply } => {
                return Err(match JoinReply::decode(&reply) {
                    Some(JoinReply::Refused(r)) => JoinError::Refused(r),
                    _ => JoinError::BadReply,
                })
            }
        };
        let (fwd_tx, fwd_rx) = mpsc::unbounded_channel();
        // The stream starts with this node's own Join: fold it (and
        // anything before it) here, so that the view handed out is the
        // current membership with this node in it. Handing out the empty
        // initial view let a restarted sheep serve client I/O from no view
        // at all: its stale local copies and absences answered reads.
        loop {
            let Some(ev) = events.recv().await else {
                return Err(JoinError::Driver(DriverError::NotMember));
            };
            view_tx.send_modify(|v| fold(v, &ev, base, &known));
            let mine =
                matches!(&ev, ClusterEvent::Join { node, .. } if node.nid.key() == me.nid.key());
            let _ = fwd_tx.send(ev);
            if mine {
                break;
            }
        }
        let m = Arc::new(Membership {
            driver,
            view: view_tx,
            events: Mutex::new(Some(fwd_rx)),
        });
        let weak = Arc::downgrade(&m);
        tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                let Some(m) = weak.upgrade() else { return };
                m.view.send_modify(|v| fold(v, &ev, base, &known));
                if fwd_tx.send(ev).is_err() {
                    // Nobody consumes the events: keep folding anyway.
                }
            }
        });
        Ok(m)
    }

    /// The current view.
    pub fn view(&self) -> View {
        self.view.borrow().clone()
    }

    /// Watches view changes.
    pub fn subscribe(&self) -> watch::Receiver<View> {
        self.view.subscribe()
    }

    /// The driver.
    pub fn driver(&self) -> &Arc<dyn ClusterDriver> {
        &self.driver
    }
}

/// Folds one event; `base` is the window this node was admitted with (its
/// own ranges for the founder), used for members it knows no ranges of;
/// `known` the ranges of the members the master listed in its accept reply.
fn fold(v: &mut View, ev: &ClusterEvent, base: Versions, known: &MemberRanges) {
    match ev {
        ClusterEvent::Join {
            node,
            msg,
            members,
            epoch,
            ..
        } => {
            let vers = versions_of(msg).unwrap_or(base);
            // Rebuild member_versions in member order: the new node is last.
            let mut mv = Vec::with_capacity(members.len());
            for n in members {
                if n.nid.key() == node.nid.key() {
                    mv.push(vers);
                } else if let Some(i) = v.members.iter().position(|o| o.nid.key() == n.nid.key()) {
                    mv.push(v.member_versions[i]);
                } else {
                    // Members this node learned about in its own join: what
                    // the master said they speak, else the window.
                    let k = n.nid.key();
                    mv.push(
                        known
                            .iter()
                            .find(|(key, _)| *key == k)
                            .map_or(base, |e| e.1),
                    );
                }
            }
            v.members.clone_from(members);
            v.member_versions = mv;
            v.epoch = *epoch;
        }
        ClusterEvent::Leave { members, epoch, .. } => {
            let mv = members
                .iter()
                .map(|n| {
                    v.members
                        .iter()
                        .position(|o| o.nid.key() == n.nid.key())
                        .map_or(base, |i| v.member_versions[i])
                })
                .collect();
            v.members.clone_from(members);
            v.member_versions = mv;
            v.epoch = *epoch;
        }
        ClusterEvent::Notify { .. } => return,
    }
    v.versions = v
        .member_versions
        .iter()
        .try_fold(base, |acc, m| acc.intersect(m).ok())
        .unwrap_or(base);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::join::VersionRange;

    fn node(port: u16) -> SdNode {
        SdNode::new(format!("127.0.0.1:{port}").parse().unwrap(), 128, 1 << 30)
    }

    fn msg(v: Versions) -> Bytes {
        Bytes::from(
            JoinMessage {
                ctime: 0,
                versions: v,
            }
            .encode(),
        )
    }

    #[test]
    fn view_tracks_members_epoch_and_window() {
        let ours = Versions::ours();
        let old = Versions::capped_peer(0x0a);
        let (a, b) = (node(1), node(2));
        let mut v = View {
            members: vec![],
            epoch: 0,
            versions: ours,
            member_versions: vec![],
        };
        fold(
            &mut v,
            &ClusterEvent::Join {
                node: a,
                msg: msg(ours),
                reply: Bytes::new(),
                members: vec![a],
                epoch: 1,
            },
            ours,
            &Vec::new(),
        );
        assert_eq!(v.versions.peer, VersionRange::new(0x0a, 0x0b));
        fold(
            &mut v,
            &ClusterEvent::Join {
                node: b,
                msg: msg(old),
                reply: Bytes::new(),
                members: vec![a, b],
                epoch: 2,
            },
            ours,
            &Vec::new(),
        );
        assert_eq!(v.epoch, 2);
        assert_eq!(v.versions.peer, VersionRange::new(0x0a, 0x0a));
        assert_eq!(v.peer_version_with(&ours, &a), Some(0x0b));
        assert_eq!(v.peer_version_with(&ours, &b), Some(0x0a));
        fold(
            &mut v,
            &ClusterEvent::Leave {
                node: b,
                members: vec![a],
                epoch: 3,
            },
            ours,
            &Vec::new(),
        );
        assert_eq!(v.epoch, 3);
        assert_eq!(
            v.versions.peer,
            VersionRange::new(0x0a, 0x0b),
            "the window widens again"
        );
        assert_eq!(v.peer_version_with(&ours, &b), None);
    }

    /// A node joining a cluster of an uncapped and a capped member learns
    /// each one's ranges from the master's reply, not just the (capped)
    /// window: its link to the uncapped member speaks 0x0b.
    #[test]
    fn joiner_learns_each_members_ranges() {
        let ours = Versions::ours();
        let old = Versions::capped_peer(0x0a);
        let (a, b, c) = (node(1), node(2), node(3));
        let window = ours.intersect(&old).unwrap();
        let known = vec![(a.nid.key(), ours), (b.nid.key(), old)];
        let mut v = View {
            members: vec![],
            epoch: 0,
            versions: ours,
            member_versions: vec![],
        };
        let join_c = ClusterEvent::Join {
            node: c,
            msg: msg(ours),
            reply: Bytes::new(),
            members: vec![a, b, c],
            epoch: 3,
        };
        fold(&mut v, &join_c, window, &known);
        assert_eq!(v.peer_version_with(&ours, &a), Some(0x0b));
        assert_eq!(v.peer_version_with(&ours, &b), Some(0x0a));
        assert_eq!(v.versions.peer, VersionRange::new(0x0a, 0x0a));
        // Without the table (an older master), the window is all it knows.
        let mut v2 = View {
            members: vec![],
            epoch: 0,
            versions: ours,
            member_versions: vec![],
        };
        fold(&mut v2, &join_c, window, &Vec::new());
        assert_eq!(v2.peer_version_with(&ours, &a), Some(0x0a));
    }
}
