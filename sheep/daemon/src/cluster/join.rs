//! Join with version negotiation (design §3, docs/sheepdog-facts.md §8).
//!
//! A joining sheep sends a [`JoinMessage`]: per protocol (client, peer,
//! admin) the `[compat, version]` range it speaks, and the cluster identity
//! (`ctime`) of its store (0 for a never formatted store). The master
//! compares it with the cluster's [`ClusterWindow`], the intersection of the
//! ranges of every member, with [`judge`]:
//! * a range that does not overlap the cluster's window, or
//! * a non-zero ctime different from the cluster's non-zero ctime
//!
//! refuses the node ([`Refusal`], carried back in the [`JoinReply`]); the
//! joiner logs it and exits non-zero, and no member records it. Otherwise the
//! node is accepted and the window narrows to the intersection. Each peer
//! link then speaks [`VersionRange::highest_common`] of its two ends.
//!
//! Unlike sheepdog, which compares one compiled-in constant, a node inside
//! the window interoperates with older and newer members.

use std::fmt;

use bytes::Bytes;

use crate::proto::cluster::{
    AcceptedReply, JoinReplyMsg, JoinRequestMsg, MemberRangesEntry, MemberRangesTable, ProtoKind,
    RangePair, RefusalMsg, VersionRanges,
};
use crate::proto::{CLUSTER_VERSION, SD_PROTO_VER, SD_SHEEP_PROTO_VER};

/// A supported version range `[compat, version]` (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VersionRange {
    /// Oldest version spoken.
    pub compat: u8,
    /// Newest version spoken (what is written by default).
    pub version: u8,
}

impl VersionRange {
    /// `[compat, version]`.
    pub const fn new(compat: u8, version: u8) -> VersionRange {
        VersionRange { compat, version }
    }

    /// The intersection, if not empty.
    pub fn intersect(self, o: VersionRange) -> Option<VersionRange> {
        let r = VersionRange::new(self.compat.max(o.compat), self.version.min(o.version));
        (r.compat <= r.version).then_some(r)
    }

    /// The highest version both ends speak.
    pub fn highest_common(self, o: VersionRange) -> Option<u8> {
        self.intersect(o).map(|r| r.version)
    }

    /// Whether `v` is inside the range.
    pub fn contains(self, v: u8) -> bool {
        (self.compat..=self.version).contains(&v)
    }
}

impl From<RangePair> for VersionRange {
    fn from(p: RangePair) -> VersionRange {
        VersionRange::new(p.compat, p.version)
    }
}

impl From<VersionRange> for RangePair {
    fn from(r: VersionRange) -> RangePair {
        RangePair {
            compat: r.compat,
            version: r.version,
        }
    }
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{:#04x}, {:#04x}]", self.compat, self.version)
    }
}

/// The three protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Proto {
    /// Client protocol (opcodes < 0x80).
    Client,
    /// Peer protocol (sheep to sheep object I/O).
    Peer,
    /// Admin protocol (node and cluster ops).
    Admin,
}

impl From<ProtoKind> for Proto {
    fn from(k: ProtoKind) -> Proto {
        match k {
            ProtoKind::Client => Proto::Client,
            ProtoKind::Peer => Proto::Peer,
            ProtoKind::Admin => Proto::Admin,
        }
    }
}

impl From<Proto> for ProtoKind {
    fn from(p: Proto) -> ProtoKind {
        match p {
            Proto::Client => ProtoKind::Client,
            Proto::Peer => ProtoKind::Peer,
            Proto::Admin => ProtoKind::Admin,
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Client => "client",
            Proto::Peer => "peer",
            Proto::Admin => "admin",
        })
    }
}

/// Version ranges for every protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Versions {
    /// Client protocol.
    pub client: VersionRange,
    /// Peer protocol.
    pub peer: VersionRange,
    /// Admin protocol.
    pub admin: VersionRange,
}

impl From<VersionRanges> for Versions {
    fn from(r: VersionRanges) -> Versions {
        Versions {
            client: r.client.into(),
            peer: r.peer.into(),
            admin: r.admin.into(),
        }
    }
}

impl From<Versions> for VersionRanges {
    fn from(v: Versions) -> VersionRanges {
        VersionRanges {
            client: v.client.into(),
            peer: v.peer.into(),
            admin: v.admin.into(),
        }
    }
}

/// Newest peer protocol version this build speaks (0x0b adds payload CRCs).
pub const PEER_PROTO_VER_MAX: u8 = crate::proto::PEER_VERSION as u8;

impl Versions {
    /// What this build speaks: client `[0x00, 0x02]`, peer
    /// `[0x0a, PEER_PROTO_VER_MAX]`, admin `[0x0a, 0x0a]`.
    pub const fn ours() -> Versions {
        Versions {
            client: VersionRange::new(0, SD_PROTO_VER),
            peer: VersionRange::new(SD_SHEEP_PROTO_VER, PEER_PROTO_VER_MAX),
            admin: VersionRange::new(SD_SHEEP_PROTO_VER, SD_SHEEP_PROTO_VER),
        }
    }

    /// Ours with the peer protocol capped at `max` (`--peer-version`).
    pub fn capped_peer(max: u8) -> Versions {
        let mut v = Versions::ours();
        v.peer.version = v.peer.version.min(max);
        v
    }

    /// The range of `p`.
    pub fn get(&self, p: Proto) -> VersionRange {
        match p {
            Proto::Client => self.client,
            Proto::Peer => self.peer,
            Proto::Admin => self.admin,
        }
    }

    /// Per-protocol intersection, or the first protocol without overlap.
    ///
    /// # Errors
    ///
    /// The protocol with no common version and both ranges.
    pub fn intersect(&self, o: &Versions) -> Result<Versions, (Proto, VersionRange, VersionRange)> {
        let one = |p: Proto| {
            self.get(p)
                .intersect(o.get(p))
                .ok_or((p, self.get(p), o.get(p)))
        };
        Ok(Versions {
            client: one(Proto::Client)?,
            peer: one(Proto::Peer)?,
            admin: one(Proto::Admin)?,
        })
    }
}

/// The join message (the opaque carried by the cluster driver's join).
///
/// On the wire it is a [`JoinRequestMsg`] (24 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinMessage {
    /// Cluster identity of the joiner's store (0 = never formatted).
    pub ctime: u64,
    /// What the joiner speaks.
    pub versions: Versions,
}

/// Encoded size of a [`JoinMessage`].
pub const JOIN_MESSAGE_SIZE: usize = 24;

impl JoinMessage {
    /// Encodes the message: a [`JoinRequestMsg`] at [`CLUSTER_VERSION`].
    pub fn encode(&self) -> Vec<u8> {
        let m = JoinRequestMsg::new(self.ctime, self.versions.into());
        sdwire::to_vec(&m, CLUSTER_VERSION).expect("fixed-size join message")
    }

    /// Decodes; `None` if it is not a join message of this format (bytes
    /// after the 24 are ignored).
    pub fn decode(b: &[u8]) -> Option<JoinMessage> {
        let m = sdwire::from_slice::<JoinRequestMsg>(b, CLUSTER_VERSION).ok()?;
        m.is_valid().then(|| JoinMessage {
            ctime: m.ctime,
            versions: m.ranges.into(),
        })
    }
}

/// What the cluster (as seen by the master) accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClusterWindow {
    /// Cluster identity (0 = not formatted yet).
    pub ctime: u64,
    /// Intersection of every member's ranges.
    pub versions: Versions,
}

/// Why a join was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The joiner's store belongs to another cluster.
    CtimeMismatch {
        /// The cluster's ctime.
        cluster: u64,
        /// The joiner's ctime.
        joiner: u64,
    },
    /// No common version for a protocol.
    NoCommonVersion {
        /// Which protocol.
        proto: Proto,
        /// The cluster's window for it.
        cluster: VersionRange,
        /// What the joiner speaks.
        joiner: VersionRange,
    },
    /// The join message was not understood.
    BadMessage,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::CtimeMismatch { cluster, joiner } => write!(
                f,
                "cluster identity mismatch: the cluster's ctime is {cluster:#x}, this store's is {joiner:#x} (formatted by another cluster)"
            ),
            Refusal::NoCommonVersion {
                proto,
                cluster,
                joiner,
            } => write!(
                f,
                "invalid protocol version: {proto} protocol window of the cluster is {cluster}, this node speaks {joiner}"
            ),
            Refusal::BadMessage => f.write_str("unrecognized join message"),
        }
    }
}

/// The master's answer (the driver's join reply).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinReply {
    /// Accepted: the cluster's window after the join.
    Accepted(ClusterWindow),
    /// Refused, and why.
    Refused(Refusal),
}

impl JoinReply {
    /// The reply as the cluster protocol's [`JoinReplyMsg`] (no extensions).
    pub fn to_wire(&self) -> JoinReplyMsg {
        match self {
            JoinReply::Accepted(w) => JoinReplyMsg::Accepted(AcceptedReply {
                ctime: w.ctime,
                ranges: w.versions.into(),
                extensions: Bytes::new(),
            }),
            JoinReply::Refused(r) => JoinReplyMsg::Refused(match r {
                Refusal::CtimeMismatch { cluster, joiner } => RefusalMsg::CtimeMismatch {
                    cluster: *cluster,
                    joiner: *joiner,
                },
                Refusal::NoCommonVersion {
                    proto,
                    cluster,
                    joiner,
                } => RefusalMsg::NoCommonVersion {
                    proto: (*proto).into(),
                    cluster: (*cluster).into(),
                    joiner: (*joiner).into(),
                },
                Refusal::BadMessage => RefusalMsg::BadMessage,
            }),
        }
    }

    /// The reply a [`JoinReplyMsg`] carries (its extensions aside).
    pub fn from_wire(m: JoinReplyMsg) -> JoinReply {
        match m {
            JoinReplyMsg::Accepted(a) => JoinReply::Accepted(ClusterWindow {
                ctime: a.ctime,
                versions: a.ranges.into(),
            }),
            JoinReplyMsg::Refused(r) => JoinReply::Refused(match r {
                RefusalMsg::CtimeMismatch { cluster, joiner } => {
                    Refusal::CtimeMismatch { cluster, joiner }
                }
                RefusalMsg::NoCommonVersion {
                    proto,
                    cluster,
                    joiner,
                } => Refusal::NoCommonVersion {
                    proto: proto.into(),
                    cluster: cluster.into(),
                    joiner: joiner.into(),
                },
                RefusalMsg::BadMessage => Refusal::BadMessage,
            }),
        }
    }

    /// Encodes the reply: a [`JoinReplyMsg`] at [`CLUSTER_VERSION`].
    pub fn encode(&self) -> Vec<u8> {
        sdwire::to_vec(&self.to_wire(), CLUSTER_VERSION).expect("a join reply has no long field")
    }

    /// Decodes a reply (bytes after it, such as the member-ranges table,
    /// are ignored).
    pub fn decode(b: &[u8]) -> Option<JoinReply> {
        sdwire::from_slice::<JoinReplyMsg>(b, CLUSTER_VERSION)
            .ok()
            .map(JoinReply::from_wire)
    }
}

/// The master's decision on a join: the new window, or why not.
///
/// # Errors
///
/// The [`Refusal`].
pub fn judge(cluster: &ClusterWindow, joiner: &JoinMessage) -> Result<ClusterWindow, Refusal> {
    if cluster.ctime != 0 && joiner.ctime != 0 && cluster.ctime != joiner.ctime {
        return Err(Refusal::CtimeMismatch {
            cluster: cluster.ctime,
            joiner: joiner.ctime,
        });
    }
    let versions = cluster
        .versions
        .intersect(&joiner.versions)
        .map_err(|(proto, c, j)| Refusal::NoCommonVersion {
            proto,
            cluster: c,
            joiner: j,
        })?;
    Ok(ClusterWindow {
        ctime: if cluster.ctime != 0 {
            cluster.ctime
        } else {
            joiner.ctime
        },
        versions,
    })
}

/// [`judge`] on an encoded join message, giving the encoded reply: the
/// function a daemon wraps into its [`JoinJudge`](super::JoinJudge).
pub fn judge_encoded(cluster: &ClusterWindow, msg: &[u8]) -> (bool, Vec<u8>) {
    let reply = match JoinMessage::decode(msg) {
        None => JoinReply::Refused(Refusal::BadMessage),
        Some(m) => match judge(cluster, &m) {
            Ok(w) => JoinReply::Accepted(w),
            Err(r) => JoinReply::Refused(r),
        },
    };
    (matches!(reply, JoinReply::Accepted(_)), reply.encode())
}

/// The ranges of every current member, keyed by node identity
/// ([`NodeId::key`](crate::proto::NodeId::key)).
pub type MemberRanges = Vec<(([u8; 16], u16), Versions)>;

/// Appends the master's per-member ranges to an encoded accept reply, so
/// the joiner knows what each existing member speaks (not only the
/// cluster's window) and its links to them speak their highest common
/// version.
///
/// The table is a [`MemberRangesTable`] (at most `u16::MAX` members) in the
/// extensions of the accepted [`JoinReplyMsg`]; older decoders ignore it.
pub fn append_member_ranges(reply: &mut Vec<u8>, members: &MemberRanges) {
    let entries = members
        .iter()
        .take(usize::from(u16::MAX))
        .map(|((addr, port), v)| MemberRangesEntry {
            addr: *addr,
            port: *port,
            ranges: (*v).into(),
        })
        .collect();
    let table = MemberRangesTable::new(entries);
    // At most u16::MAX entries: the count fits.
    let b = sdwire::to_vec(&table, CLUSTER_VERSION).expect("member table within u16 entries");
    reply.extend_from_slice(&b);
}

/// The per-member ranges of an accept reply ([`append_member_ranges`]);
/// empty when the reply has none (the founder, an older master) or they
/// do not parse.
pub fn member_ranges(reply: &[u8]) -> MemberRanges {
    let Ok(JoinReplyMsg::Accepted(a)) = sdwire::from_slice::<JoinReplyMsg>(reply, CLUSTER_VERSION)
    else {
        return Vec::new();
    };
    match sdwire::from_slice::<MemberRangesTable>(&a.extensions, CLUSTER_VERSION) {
        Ok(t) if t.magic == MemberRangesTable::MAGIC => t
            .entries
            .into_iter()
            .map(|e| ((e.addr, e.port), e.ranges.into()))
            .collect(),
        _ => Vec::new(),
    }
}

/// The version a peer link between two nodes speaks: the highest common peer
/// version of both ends.
pub fn link_version(a: &Versions, b: &Versions) -> Option<u8> {
    a.peer.highest_common(b.peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_ranges_ride_on_the_accept_reply() {
        let mut b = JoinReply::Accepted(window(7)).encode();
        assert_eq!(member_ranges(&b), Vec::new());
        let list = vec![
            (([1; 16], 7001), Versions::ours()),
            (([2; 16], 7002), Versions::capped_peer(0x0a)),
        ];
        append_member_ranges(&mut b, &list);
        assert_eq!(member_ranges(&b), list);
        // Older decoders still read the reply.
        assert_eq!(JoinReply::decode(&b), Some(JoinReply::Accepted(window(7))));
        assert_eq!(member_ranges(&b[..b.len() - 1]), Vec::new());
        let refused = JoinReply::Refused(Refusal::BadMessage).encode();
        assert_eq!(member_ranges(&refused), Vec::new());
    }

    fn window(ctime: u64) -> ClusterWindow {
        ClusterWindow {
            ctime,
            versions: Versions::ours(),
        }
    }

    #[test]
    fn ranges() {
        let a = VersionRange::new(0x0a, 0x0b);
        let b = VersionRange::new(0x0a, 0x0a);
        assert_eq!(a.highest_common(b), Some(0x0a));
        assert_eq!(a.highest_common(a), Some(0x0b));
        assert_eq!(a.intersect(VersionRange::new(0x0c, 0x0d)), None);
        assert!(a.contains(0x0b) && !a.contains(0x09));
        assert_eq!(a.to_string(), "[0x0a, 0x0b]");
    }

    #[test]
    fn messages_roundtrip() {
        let m = JoinMessage {
            ctime: 0x1234_5678_9abc,
            versions: Versions::capped_peer(0x0a),
        };
        assert_eq!(JoinMessage::decode(&m.encode()), Some(m));
        assert_eq!(JoinMessage::decode(b"junk"), None);
        for r in [
            JoinReply::Accepted(window(7)),
            JoinReply::Refused(Refusal::CtimeMismatch {
                cluster: 1,
                joiner: 2,
            }),
            JoinReply::Refused(Refusal::NoCommonVersion {
                proto: Proto::Peer,
                cluster: VersionRange::new(0x0a, 0x0b),
                joiner: VersionRange::new(0x0c, 0x0c),
            }),
            JoinReply::Refused(Refusal::BadMessage),
        ] {
            assert_eq!(JoinReply::decode(&r.encode()), Some(r));
        }
    }

    #[test]
    fn accepts_overlap_and_narrows() {
        let old = JoinMessage {
            ctime: 5,
            versions: Versions::capped_peer(0x0a),
        };
        let w = judge(&window(5), &old).unwrap();
        assert_eq!(w.versions.peer, VersionRange::new(0x0a, 0x0a));
        assert_eq!(w.ctime, 5);
        // A fresh store adopts the cluster.
        let fresh = JoinMessage {
            ctime: 0,
            versions: Versions::ours(),
        };
        assert_eq!(judge(&window(5), &fresh).unwrap().ctime, 5);
        // Link versions: a capped node speaks 0x0a with everybody, two new
        // nodes speak 0x0b.
        assert_eq!(link_version(&Versions::ours(), &old.versions), Some(0x0a));
        assert_eq!(
            link_version(&Versions::ours(), &Versions::ours()),
            Some(PEER_PROTO_VER_MAX)
        );
    }

    #[test]
    fn refuses_disjoint_window_and_ctime() {
        let future = JoinMessage {
            ctime: 5,
            versions: Versions {
                peer: VersionRange::new(0x0c, 0x0d),
                ..Versions::ours()
            },
        };
        let r = judge(&window(5), &future).unwrap_err();
        assert_eq!(
            r,
            Refusal::NoCommonVersion {
                proto: Proto::Peer,
                cluster: VersionRange::new(0x0a, 0x0b),
                joiner: VersionRange::new(0x0c, 0x0d),
            }
        );
        assert!(r.to_string().contains("invalid protocol version: peer"));
        let other = JoinMessage {
            ctime: 6,
            versions: Versions::ours(),
        };
        assert!(matches!(
            judge(&window(5), &other),
            Err(Refusal::CtimeMismatch {
                cluster: 5,
                joiner: 6
            })
        ));
        let (ok, reply) = judge_encoded(&window(5), &other.encode());
        assert!(!ok);
        assert!(matches!(
            JoinReply::decode(&reply),
            Some(JoinReply::Refused(Refusal::CtimeMismatch { .. }))
        ));
        let (ok, _) = judge_encoded(&window(5), b"garbage");
        assert!(!ok);
    }
}
