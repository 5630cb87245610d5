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

use crate::proto::{SD_PROTO_VER, SD_SHEEP_PROTO_VER};

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
/// # Format
/// 24 bytes, little-endian: magic `"SJ"` (2), format version u8 (=1),
/// reserved u8, ctime u64 at 4, then the client/peer/admin ranges as
/// `compat u8, version u8` pairs at 12..18, then 6 reserved bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JoinMessage {
    /// Cluster identity of the joiner's store (0 = never formatted).
    pub ctime: u64,
    /// What the joiner speaks.
    pub versions: Versions,
}

const MAGIC: [u8; 2] = *b"SJ";
/// Encoded size of a [`JoinMessage`].
pub const JOIN_MESSAGE_SIZE: usize = 24;

fn put_ranges(b: &mut [u8], v: &Versions) {
    for (i, r) in [v.client, v.peer, v.admin].iter().enumerate() {
        b[2 * i] = r.compat;
        b[2 * i + 1] = r.version;
    }
}

fn get_ranges(b: &[u8]) -> Versions {
    let r = |i: usize| VersionRange::new(b[2 * i], b[2 * i + 1]);
    Versions {
        client: r(0),
        peer: r(1),
        admin: r(2),
    }
}

impl JoinMessage {
    /// Encodes the message.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = vec![0u8; JOIN_MESSAGE_SIZE];
        b[0..2].copy_from_slice(&MAGIC);
        b[2] = 1;
        b[4..12].copy_from_slice(&self.ctime.to_le_bytes());
        put_ranges(&mut b[12..18], &self.versions);
        b
    }

    /// Decodes; `None` if it is not a join message of this format.
    pub fn decode(b: &[u8]) -> Option<JoinMessage> {
        if b.len() < JOIN_MESSAGE_SIZE || b[0..2] != MAGIC || b[2] != 1 {
            return None;
        }
        Some(JoinMessage {
            ctime: u64::from_le_bytes(b[4..12].try_into().ok()?),
            versions: get_ranges(&b[12..18]),
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
    /// Encodes the reply.
    ///
    /// # Format
    /// `u8 status` (1 accepted, 0 refused); accepted: ctime u64, 6 range
    /// bytes; refused: `u8 reason` (1 ctime, 2 version, 3 bad message),
    /// then ctime cluster u64, ctime joiner u64 (1) or `u8 proto`, 4 range
    /// bytes (2).
    pub fn encode(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(32);
        match self {
            JoinReply::Accepted(w) => {
                b.push(1);
                b.extend_from_slice(&w.ctime.to_le_bytes());
                let mut r = [0u8; 6];
                put_ranges(&mut r, &w.versions);
                b.extend_from_slice(&r);
            }
            JoinReply::Refused(r) => {
                b.push(0);
                match r {
                    Refusal::CtimeMismatch { cluster, joiner } => {
                        b.push(1);
                        b.extend_from_slice(&cluster.to_le_bytes());
                        b.extend_from_slice(&joiner.to_le_bytes());
                    }
                    Refusal::NoCommonVersion {
                        proto,
                        cluster,
                        joiner,
                    } => {
                        b.push(2);
                        b.push(match proto {
                            Proto::Client => 0,
                            Proto::Peer => 1,
                            Proto::Admin => 2,
                        });
                        b.extend_from_slice(&[
                            cluster.compat,
                            cluster.version,
                            joiner.compat,
                            joiner.version,
                        ]);
                    }
                    Refusal::BadMessage => b.push(3),
                }
            }
        }
        b
    }

    /// Decodes a reply.
    pub fn decode(b: &[u8]) -> Option<JoinReply> {
        match (b.first()?, b.get(1)) {
            (1, _) if b.len() >= 15 => Some(JoinReply::Accepted(ClusterWindow {
                ctime: u64::from_le_bytes(b[1..9].try_into().ok()?),
                versions: get_ranges(&b[9..15]),
            })),
            (0, Some(1)) if b.len() >= 18 => Some(JoinReply::Refused(Refusal::CtimeMismatch {
                cluster: u64::from_le_bytes(b[2..10].try_into().ok()?),
                joiner: u64::from_le_bytes(b[10..18].try_into().ok()?),
            })),
            (0, Some(2)) if b.len() >= 7 => Some(JoinReply::Refused(Refusal::NoCommonVersion {
                proto: match b[2] {
                    0 => Proto::Client,
                    1 => Proto::Peer,
                    2 => Proto::Admin,
                    _ => return None,
                },
                cluster: VersionRange::new(b[3], b[4]),
                joiner: VersionRange::new(b[5], b[6]),
            })),
            (0, Some(3)) => Some(JoinReply::Refused(Refusal::BadMessage)),
            _ => None,
        }
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

/// Magic of the member-ranges table a master appends to its accept reply.
const MEMBERS_MAGIC: [u8; 2] = *b"MV";
/// Size of one entry of that table: node address (16), port (2), ranges (6).
const MEMBER_ENTRY_SIZE: usize = 24;

/// The ranges of every current member, keyed by node identity
/// ([`NodeId::key`](crate::proto::NodeId::key)).
pub type MemberRanges = Vec<(([u8; 16], u16), Versions)>;

/// Appends the master's per-member ranges to an encoded accept reply, so
/// the joiner knows what each existing member speaks (not only the
/// cluster's window) and its links to them speak their highest common
/// version.
///
/// # Format
/// After the 15 bytes of an accepted [`JoinReply`]: magic `"MV"`, u16 LE
/// count, then per member: address (16), port u16 LE, 6 range bytes.
/// Older decoders ignore the trailing bytes.
pub fn append_member_ranges(reply: &mut Vec<u8>, members: &MemberRanges) {
    let n = u16::try_from(members.len()).unwrap_or(u16::MAX);
    reply.extend_from_slice(&MEMBERS_MAGIC);
    reply.extend_from_slice(&n.to_le_bytes());
    for ((addr, port), v) in members.iter().take(usize::from(n)) {
        reply.extend_from_slice(addr);
        reply.extend_from_slice(&port.to_le_bytes());
        let mut r = [0u8; 6];
        put_ranges(&mut r, v);
        reply.extend_from_slice(&r);
    }
}

/// The per-member ranges of an accept reply ([`append_member_ranges`]);
/// empty when the reply has none (the founder, an older master) or they
/// do not parse.
pub fn member_ranges(reply: &[u8]) -> MemberRanges {
    let Some(t) = reply.get(15..) else {
        return Vec::new();
    };
    if reply.first() != Some(&1) || t.len() < 4 || t[0..2] != MEMBERS_MAGIC {
        return Vec::new();
    }
    let n = usize::from(u16::from_le_bytes([t[2], t[3]]));
    let body = &t[4..];
    if body.len() < n * MEMBER_ENTRY_SIZE {
        return Vec::new();
    }
    body.chunks_exact(MEMBER_ENTRY_SIZE)
        .take(n)
        .map(|e| {
            let mut addr = [0u8; 16];
            addr.copy_from_slice(&e[..16]);
            let port = u16::from_le_bytes([e[16], e[17]]);
            ((addr, port), get_ranges(&e[18..24]))
        })
        .collect()
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
