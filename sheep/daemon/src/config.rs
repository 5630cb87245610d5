//! The daemon's configuration (what `sheep`'s command line sets), read by
//! every layer that needs a setting.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Daemon configuration (what `sheep`'s command line sets).
#[derive(Debug, Clone)]
pub struct Config {
    /// Store directory.
    pub dir: PathBuf,
    /// Address announced as this node (the TCP listen address).
    pub addr: SocketAddr,
    /// Zone of this node.
    pub zone: Option<u32>,
    /// Make writes durable before acknowledging them (false = `-n`).
    pub sync: bool,
    /// How long a peer request with a future epoch is parked before it is
    /// answered NEW_NODE_VER.
    pub park_timeout: Duration,
    /// A cluster membership drives this daemon (the epochs and their node
    /// lists come from the membership, see `server::members`).
    pub clustered: bool,
    /// How long one request frame may take to arrive once its first byte
    /// is in: a connection that stalls mid-frame longer (slow-loris, a
    /// header promising a payload that never comes) is closed with a log
    /// line. Idle connections between frames are never timed out (tgtd
    /// keeps its connections open for the life of a LUN).
    pub frame_timeout: Duration,
    /// The protocol versions this node speaks (`--peer-version` caps the
    /// peer protocol): a peer request outside `versions.peer` is answered
    /// VER_MISMATCH, and each peer link speaks the highest version both
    /// ends know.
    pub versions: crate::cluster::join::Versions,
}

impl Config {
    /// Defaults for `dir`, announcing `addr`.
    pub fn new(dir: impl Into<PathBuf>, addr: SocketAddr) -> Config {
        Config {
            dir: dir.into(),
            addr,
            zone: None,
            sync: true,
            park_timeout: Duration::from_secs(10),
            clustered: false,
            frame_timeout: Duration::from_secs(60),
            versions: crate::cluster::join::Versions::ours(),
        }
    }
}
