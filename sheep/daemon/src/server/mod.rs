//! The single-node daemon: shared [`State`], the [`run`] entry point, and
//! request [`dispatch`].
//!
//! Layout: frame ([`crate::net::frame`]) <-> connection ([`crate::net`]) <->
//! op ([`crate::gateway`], [`crate::peer`], [`crate::admin`], [`crate::vdi`]).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;
use sdwire::Wire;
use tokio::sync::watch;

use crate::gateway::replicas::Replicas;
use crate::net::Listeners;
use crate::proto::{ReqHeader, RspArm, SdResult, VdiRsp};
use crate::store::{ObjectStore, PlainStore, StoreOptions};
use crate::vdi::lock::LockTable;
use crate::vdi::VdiTable;

pub mod cluster;
pub mod dispatch;
pub mod members;

use cluster::{ClusterState, NodeInfo};

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
    /// lists come from the membership, see [`members`]).
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

/// One request as the op handlers see it: the daemon state, the header and
/// its payload. The daemon implements the generated
/// [`ClientHandler`](crate::proto::ClientHandler),
/// [`PeerHandler`](crate::proto::PeerHandler) and
/// [`AdminHandler`](crate::proto::AdminHandler) traits on it (see
/// [`dispatch`]), one method per opcode.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The daemon.
    pub st: Arc<State>,
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

/// Everything the op handlers share.
pub struct State {
    /// Configuration.
    pub cfg: Config,
    /// The local object store.
    pub store: Arc<dyn ObjectStore>,
    /// Where gateway object I/O goes (the local store, on one node).
    pub replicas: Replicas,
    /// Format, epoch, node.
    pub cluster: Mutex<ClusterState>,
    /// Epoch changes, for parked peer requests.
    pub epoch_tx: watch::Sender<u32>,
    /// Inode headers by vid (shared with [`Replicas`] for placement).
    pub vdis: Arc<RwLock<VdiTable>>,
    /// Serializes VDI creation, snapshot, deletion and attribute updates.
    pub vdi_ops: tokio::sync::Mutex<()>,
    /// VDI locks.
    pub locks: Mutex<LockTable>,
    /// Set to true to stop the daemon.
    pub shutdown_tx: watch::Sender<bool>,
    /// The cluster membership, once attached ([`members::attach`]).
    pub membership: std::sync::OnceLock<Arc<crate::cluster::membership::Membership>>,
    /// Object recovery after membership changes.
    pub recovery: crate::recovery::Recovery,
    /// Woken after MAKE_FS applied a format on this node.
    pub format_applied: tokio::sync::Notify,
    /// The client and peer connections being served (drained at shutdown).
    pub connections: tokio_util::task::TaskTracker,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("cfg", &self.cfg)
            .finish_non_exhaustive()
    }
}

impl State {
    /// Opens the store and the persisted state in `cfg.dir`.
    ///
    /// # Errors
    ///
    /// I/O errors opening the store or reading the state files.
    pub fn open(cfg: Config) -> std::io::Result<Arc<State>> {
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
        let (shutdown_tx, _) = watch::channel(false);
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
        // (see crate::recovery).
        let prior_members: Vec<std::net::SocketAddr> = cluster
            .logged_epochs()
            .iter()
            .take(16)
            .filter_map(|&e| cluster.nodes_of_epoch(e))
            .flatten()
            .map(|n| n.socket_addr())
            .filter(|a| *a != cfg.addr)
            .collect();
        let st = Arc::new(State {
            replicas,
            store,
            cluster: Mutex::new(cluster),
            epoch_tx,
            vdis,
            vdi_ops: tokio::sync::Mutex::new(()),
            locks: Mutex::new(LockTable::default()),
            shutdown_tx,
            membership: std::sync::OnceLock::new(),
            recovery: crate::recovery::Recovery::after_restart(prior_members),
            format_applied: tokio::sync::Notify::new(),
            connections: tokio_util::task::TaskTracker::new(),
            cfg,
        });
        st.replicas.set_state(&st);
        Ok(st)
    }

    /// The current epoch.
    pub fn epoch(&self) -> u32 {
        *self.epoch_tx.borrow()
    }

    /// The format, if formatted.
    pub fn format(&self) -> Option<cluster::Format> {
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

    /// Asks the daemon to stop.
    pub fn request_shutdown(&self) {
        self.shutdown_tx.send_replace(true);
    }
}

/// Locks a std mutex, recovering from poisoning (a panicking handler must not
/// take the daemon down).
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs the daemon on `listeners` until `shutdown` resolves, SHUTDOWN is
/// received, or a listener fails.
///
/// # Errors
///
/// I/O errors opening the state.
pub async fn run(
    cfg: Config,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let state = State::open(cfg)?;
    serve(state, listeners, shutdown).await
}

/// How long a stopping daemon waits for its connections to write out the
/// answers in flight (a client that does not read holds it this long).
const SHUTDOWN_DRAIN: std::time::Duration = std::time::Duration::from_secs(2);

/// Like [`run`] with an already opened [`State`].
///
/// # Errors
///
/// Never fails today; reserved for listener errors.
pub async fn serve(
    state: Arc<State>,
    listeners: Listeners,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let mut stop = state.shutdown_tx.subscribe();
    let accept = crate::net::accept_loop(state.clone(), listeners);
    tokio::select! {
        () = shutdown => tracing::info!("shutdown requested"),
        _ = stop.wait_for(|&s| s) => tracing::info!("SD_OP_SHUTDOWN received"),
        r = accept => {
            if let Err(e) = &r {
                tracing::error!(error = %e, "listener failed");
            }
        }
    }
    state.request_shutdown();
    // Connections stop reading at the signal and write out the answers in
    // flight (the SHUTDOWN reply among them) before they end.
    state.connections.close();
    if tokio::time::timeout(SHUTDOWN_DRAIN, state.connections.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            open = state.connections.len(),
            "connections still writing answers at shutdown, closing them"
        );
    }
    if let Err(e) = state.store.flush() {
        tracing::error!(error = %e, "flush at shutdown failed");
    }
    if let Err(e) = lock(&state.cluster).mark_shutdown() {
        tracing::error!(error = %e, "recording clean shutdown failed");
    }
    tracing::info!("sheep stopped");
    Ok(())
}
