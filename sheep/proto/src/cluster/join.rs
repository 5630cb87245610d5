//! The join message and the master's reply (version negotiation,
//! `cluster::join`).

use bytes::Bytes;
use sdwire::Wire;

/// A `[compat, version]` pair of one protocol.
#[derive(Wire, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[wire(le, size = 2)]
pub struct RangePair {
    /// Oldest version spoken.
    pub compat: u8,
    /// Newest version spoken.
    pub version: u8,
}

/// The ranges of the client, peer and admin protocols, in that order.
#[derive(Wire, Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[wire(le, size = 6)]
pub struct VersionRanges {
    /// Client protocol.
    pub client: RangePair,
    /// Peer protocol.
    pub peer: RangePair,
    /// Admin protocol.
    pub admin: RangePair,
}

/// The join message a sheep sends with its driver join request.
///
/// # Format
/// | off | size | field |
/// |---:|---:|---|
/// | 0 | 2 | magic `"SJ"` |
/// | 2 | 1 | format (1) |
/// | 3 | 1 | reserved |
/// | 4 | 8 | ctime of the joiner's store (0: never formatted) |
/// | 12 | 6 | client, peer, admin ranges |
/// | 18 | 6 | reserved |
///
/// Bytes after the 24 are ignored. [`JoinRequestMsg::is_valid`] checks the
/// magic and format.
#[derive(Wire, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[wire(le, packed, size = 24, version = 1, compat = 1)]
pub struct JoinRequestMsg {
    /// [`JoinRequestMsg::MAGIC`].
    pub magic: [u8; 2],
    /// [`JoinRequestMsg::FORMAT`].
    pub format: u8,
    /// Reserved.
    #[wire(reserved)]
    pub _rsvd: u8,
    /// Cluster identity of the joiner's store (0 = never formatted).
    pub ctime: u64,
    /// What the joiner speaks.
    pub ranges: VersionRanges,
    /// Reserved.
    #[wire(reserved)]
    pub _rsvd2: [u8; 6],
}

impl JoinRequestMsg {
    /// The magic.
    pub const MAGIC: [u8; 2] = *b"SJ";
    /// The format byte.
    pub const FORMAT: u8 = 1;

    /// A join message with the magic and format set.
    pub fn new(ctime: u64, ranges: VersionRanges) -> JoinRequestMsg {
        JoinRequestMsg {
            magic: Self::MAGIC,
            format: Self::FORMAT,
            ctime,
            ranges,
            ..JoinRequestMsg::default()
        }
    }

    /// Whether magic and format are this format's.
    pub fn is_valid(&self) -> bool {
        self.magic == Self::MAGIC && self.format == Self::FORMAT
    }
}

/// Which protocol a version refusal is about.
#[derive(Wire, Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[wire(tag = u8, le, no_handler)]
pub enum ProtoKind {
    /// Client protocol.
    #[wire(opcode = 0)]
    Client,
    /// Peer protocol.
    #[wire(opcode = 1)]
    Peer,
    /// Admin protocol.
    #[wire(opcode = 2)]
    Admin,
}

/// Why the master refused a join.
#[derive(Wire, Debug, Clone, PartialEq, Eq)]
#[wire(tag = u8, le, no_handler)]
pub enum RefusalMsg {
    /// The joiner's store belongs to another cluster.
    #[wire(opcode = 1)]
    CtimeMismatch {
        /// The cluster's ctime.
        cluster: u64,
        /// The joiner's ctime.
        joiner: u64,
    },
    /// No common version for a protocol.
    #[wire(opcode = 2)]
    NoCommonVersion {
        /// Which protocol.
        proto: ProtoKind,
        /// The cluster's window for it.
        cluster: RangePair,
        /// What the joiner speaks.
        joiner: RangePair,
    },
    /// The join message was not understood.
    #[wire(opcode = 3)]
    BadMessage,
}

/// An accepted join: the cluster's window after the join.
///
/// `extensions` holds whatever follows the 14 bytes: a master appends a
/// [`MemberRangesTable`]; a decoder that knows no extension ignores it.
#[derive(Wire, Debug, Clone, PartialEq, Eq, Default)]
#[wire(le, packed)]
pub struct AcceptedReply {
    /// Cluster identity.
    pub ctime: u64,
    /// Intersection of every member's ranges.
    pub ranges: VersionRanges,
    /// Extensions (the member-ranges table), possibly empty.
    #[wire(rest)]
    pub extensions: Bytes,
}

/// The master's answer to a join message: a status byte (1 accepted, 0
/// refused), then the window or the refusal. Trailing bytes of a refusal
/// are ignored.
#[derive(Wire, Debug, Clone, PartialEq, Eq)]
#[wire(tag = u8, le, version = 1, compat = 1, no_handler)]
pub enum JoinReplyMsg {
    /// Refused, and why.
    #[wire(opcode = 0)]
    Refused(RefusalMsg),
    /// Accepted.
    #[wire(opcode = 1)]
    Accepted(AcceptedReply),
}

/// One member's ranges in a [`MemberRangesTable`].
#[derive(Wire, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[wire(le, packed, size = 24)]
pub struct MemberRangesEntry {
    /// `node_id.addr`.
    pub addr: [u8; 16],
    /// `node_id.port`.
    pub port: u16,
    /// What the member speaks.
    pub ranges: VersionRanges,
}

/// The ranges of every current member, appended by the master to an
/// accepted reply so the joiner knows what each member speaks.
///
/// # Format
/// Magic `"MV"`, count u16, then `count` [`MemberRangesEntry`]s; bytes
/// after them are ignored.
#[derive(Wire, Debug, Clone, PartialEq, Eq, Default)]
#[wire(le, packed, version = 1, compat = 1)]
pub struct MemberRangesTable {
    /// [`MemberRangesTable::MAGIC`].
    pub magic: [u8; 2],
    /// Number of entries (written from `entries`).
    pub count: u16,
    /// The members.
    #[wire(count = count)]
    pub entries: Vec<MemberRangesEntry>,
}

impl MemberRangesTable {
    /// The magic.
    pub const MAGIC: [u8; 2] = *b"MV";

    /// A table of `entries`, magic set.
    pub fn new(entries: Vec<MemberRangesEntry>) -> MemberRangesTable {
        MemberRangesTable {
            magic: Self::MAGIC,
            count: 0,
            entries,
        }
    }
}
