//! The top layer: the daemon's [`State`] (assembled here and only here
//! from the [`Node`] of the replication layer and the handlers'
//! [`Services`]), the [`run`] / [`serve`] entry points, the listeners and
//! connections ([`net`]), request [`dispatch`] to the handlers, and the
//! wiring of a cluster membership into the node ([`members`]).
//!
//! Layout: frame ([`crate::proto::frame`]) <-> connection ([`net`]) <->
//! op ([`crate::handlers`]).

use std::future::Future;
use std::sync::Arc;

use crate::handlers::Services;
use crate::replication::Node;
use crate::sync::lock;

pub use crate::config::Config;
pub use net::Listeners;

pub mod dispatch;
pub mod members;
pub mod net;

/// The daemon: the handlers' services and the connections being served.
pub struct State {
    /// What the handlers share (and, through it, the node).
    pub services: Arc<Services>,
    /// The client and peer connections being served (drained at shutdown).
    pub connections: tokio_util::task::TaskTracker,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("services", &self.services)
            .finish_non_exhaustive()
    }
}

/// The server reaches the services (and the node) through
/// [`State::services`].
impl std::ops::Deref for State {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}

impl State {
    /// Opens the store and the persisted state in `cfg.dir`.
    ///
    /// # Errors
    ///
    /// I/O errors opening the store or reading the state files.
    pub fn open(cfg: Config) -> std::io::Result<Arc<State>> {
        let node = Node::open(cfg)?;
        Ok(Arc::new(State {
            services: Arc::new(Services::new(node)),
            connections: tokio_util::task::TaskTracker::new(),
        }))
    }
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
    let accept = crate::server::net::accept_loop(state.clone(), listeners);
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
