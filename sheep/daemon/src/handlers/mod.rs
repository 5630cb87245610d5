//! Request handlers, one file per op family: [`gateway`] (client object
//! I/O), [`peer`] (the internal ops between sheep), [`admin`] (cluster
//! administration) and [`vdi`] (allocation, inode, lock, snapshot, clone,
//! delete, attributes); [`nbd`] is the NBD front end, whose commands
//! become the gateway's object I/O.
//!
//! A handler sees one request ([`Ctx`]) and answers a [`Reply`]; what it may
//! touch is [`Services`]: the replication layer's [`Node`] plus the few
//! things only handlers share (VDI op serialization, VDI locks, the format
//! and shutdown signals). The server assembles it and owns the connections.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use sdwire::Wire;
use tokio::sync::watch;

use crate::proto::{ReqHeader, RspArm, SdResult, VdiRsp};
use crate::replication::Node;
use vdi::lock::LockTable;

pub mod admin;
pub mod gateway;
pub mod nbd;
pub mod peer;
pub mod stats;
pub mod vdi;

/// What the op handlers share.
pub struct Services {
    /// The node: store, replica set, cluster state, recovery.
    pub node: Arc<Node>,
    /// Serializes VDI creation, snapshot, deletion and attribute updates.
    pub vdi_ops: tokio::sync::Mutex<()>,
    /// VDI locks.
    pub locks: Mutex<LockTable>,
    /// Set to true to stop the daemon.
    pub shutdown_tx: watch::Sender<bool>,
    /// Woken after MAKE_FS applied a format on this node.
    pub format_applied: tokio::sync::Notify,
    /// Request counters (STAT).
    pub stats: stats::RequestStats,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

/// The handlers reach the node's parts (`st.store`, `st.replicas`, ...)
/// through [`Services::node`].
impl std::ops::Deref for Services {
    type Target = Node;
    fn deref(&self) -> &Node {
        &self.node
    }
}

impl Services {
    /// The services of `node`, not shutting down.
    pub fn new(node: Arc<Node>) -> Services {
        let (shutdown_tx, _) = watch::channel(false);
        Services {
            node,
            vdi_ops: tokio::sync::Mutex::new(()),
            locks: Mutex::new(LockTable::default()),
            shutdown_tx,
            format_applied: tokio::sync::Notify::new(),
            stats: stats::RequestStats::default(),
        }
    }

    /// Asks the daemon to stop.
    pub fn request_shutdown(&self) {
        self.shutdown_tx.send_replace(true);
    }
}

/// One request as the op handlers see it: the services, the header and
/// its payload. The server implements the generated
/// [`ClientHandler`](crate::proto::ClientHandler),
/// [`PeerHandler`](crate::proto::PeerHandler) and
/// [`AdminHandler`](crate::proto::AdminHandler) traits on it (see
/// `server::dispatch`), one method per opcode.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// What the handlers share.
    pub st: Arc<Services>,
    /// The request header.
    pub hdr: ReqHeader,
    /// The payload (empty without WRITE).
    pub payload: Bytes,
}

/// An op's answer: result, response union arm, payload.
#[derive(Debug, Clone)]
pub struct Reply {
    /// `rsp.result`.
    pub result: SdResult,
    /// The response union after `result` (all zero when `None`).
    pub arm: Option<RspArm>,
    /// Payload (dropped on errors, truncated to the request's data_length).
    pub payload: Bytes,
    /// A payload sent from a file instead of `payload` (same rules).
    pub file: Option<crate::store::FileRange>,
}

impl Reply {
    /// An answer with `result` and nothing else.
    pub fn code(result: SdResult) -> Reply {
        Reply {
            result,
            arm: None,
            payload: Bytes::new(),
            file: None,
        }
    }

    /// SUCCESS.
    pub fn ok() -> Reply {
        Reply::code(SdResult::Success)
    }

    /// SUCCESS with a payload.
    pub fn data(payload: impl Into<Bytes>) -> Reply {
        Reply {
            payload: payload.into(),
            ..Reply::ok()
        }
    }

    /// SUCCESS with a payload sent from a range of an object file.
    pub fn file(range: crate::store::FileRange) -> Reply {
        Reply {
            file: Some(range),
            ..Reply::ok()
        }
    }

    /// SUCCESS with a payload encoded from a wire type.
    pub fn encoded<T: Wire>(v: &T) -> Reply {
        match sdwire::to_vec(v, 0) {
            Ok(b) => Reply::data(b),
            Err(e) => {
                tracing::error!(error = %e, "encoding a reply payload failed");
                Reply::code(SdResult::SystemError)
            }
        }
    }

    /// The same answer with the response union set to `arm`.
    pub fn arm(mut self, arm: RspArm) -> Reply {
        self.arm = Some(arm);
        self
    }

    /// The same answer with a `vdi` response arm.
    pub fn vdi(self, rsp: VdiRsp) -> Reply {
        self.arm(RspArm::Vdi(rsp))
    }
}

impl From<SdResult> for Reply {
    fn from(code: SdResult) -> Reply {
        Reply::code(code)
    }
}
