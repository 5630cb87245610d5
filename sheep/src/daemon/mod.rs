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
use tokio::sync::watch;

use crate::gateway::replicas::Replicas;
use crate::net::frame::{res, Req};
use crate::net::Listeners;
use crate::store::{ObjectStore, PlainStore, StoreOptions};
use crate::vdi::lock::LockTable;
use crate::vdi::VdiTable;

pub mod cluster;
pub mod dispatch;

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
        }
    }
}

/// A decoded request.
#[derive(Debug, Clone)]
pub struct Request {
    /// The header.
    pub hdr: Req,
    /// The payload (empty without WRITE).
    pub payload: Bytes,
}

/// An op's answer: result, the rest of the response union, payload.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    /// Bytes 16..48 of the response header; bytes 0..4 are `result`.
    pub body: [u8; 32],
    /// Payload (dropped on errors, truncated to the request's data_length).
    pub payload: Bytes,
}

impl Reply {
    /// An answer with `result` and nothing else.
    pub fn code(result: u32) -> Reply {
        let mut r = Reply::default();
        r.body[0..4].copy_from_slice(&result.to_le_bytes());
        r
    }

    /// SUCCESS.
    pub fn ok() -> Reply {
        Reply::code(res::SUCCESS)
    }

    /// SUCCESS with a payload.
    pub fn data(payload: impl Into<Bytes>) -> Reply {
        Reply {
            payload: payload.into(),
            ..Reply::ok()
        }
    }

    /// The result code.
    pub fn result(&self) -> u32 {
        u32::from_le_bytes(self.body[0..4].try_into().unwrap())
    }

    /// Sets a u8 at absolute response offset `off` (20..48).
    pub fn u8_at(mut self, off: usize, v: u8) -> Reply {
        self.body[off - 16] = v;
        self
    }

    /// Sets a little-endian u32 at absolute response offset `off`.
    pub fn u32_at(mut self, off: usize, v: u32) -> Reply {
        self.body[off - 16..off - 12].copy_from_slice(&v.to_le_bytes());
        self
    }

    /// Sets a little-endian u64 at absolute response offset `off`.
    pub fn u64_at(mut self, off: usize, v: u64) -> Reply {
        self.body[off - 16..off - 8].copy_from_slice(&v.to_le_bytes());
        self
    }

    /// Copies bytes at absolute response offset `off`.
    pub fn bytes_at(mut self, off: usize, v: &[u8]) -> Reply {
        self.body[off - 16..off - 16 + v.len()].copy_from_slice(v);
        self
    }
}

impl From<u32> for Reply {
    fn from(code: u32) -> Reply {
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
    /// Inode headers by vid.
    pub vdis: RwLock<VdiTable>,
    /// Serializes VDI creation, snapshot, deletion and attribute updates.
    pub vdi_ops: tokio::sync::Mutex<()>,
    /// VDI locks.
    pub locks: Mutex<LockTable>,
    /// Set to true to stop the daemon.
    pub shutdown_tx: watch::Sender<bool>,
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
        let cluster = ClusterState::load(&cfg.dir, node)?;
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
        Ok(Arc::new(State {
            replicas: Replicas::local(store.clone()),
            store,
            cluster: Mutex::new(cluster),
            epoch_tx,
            vdis: RwLock::new(vdis),
            vdi_ops: tokio::sync::Mutex::new(()),
            locks: Mutex::new(LockTable::default()),
            shutdown_tx,
            cfg,
        }))
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
    if let Err(e) = state.store.flush() {
        tracing::error!(error = %e, "flush at shutdown failed");
    }
    if let Err(e) = lock(&state.cluster).mark_shutdown() {
        tracing::error!(error = %e, "recording clean shutdown failed");
    }
    tracing::info!("sheep stopped");
    Ok(())
}
