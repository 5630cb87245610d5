//! Where object I/O goes.
//!
//! [`Replicas`] has two faces:
//!
//! * the `local_*` methods act on this node's store only; the peer handlers
//!   (`*_PEER`) use them, so a forwarded request never fans out again;
//! * the plain methods ([`Replicas::create_and_write`], [`Replicas::write`],
//!   [`Replicas::read`], [`Replicas::remove`]) are the gateway path: they
//!   place the object on the vnode ring of the current membership and send
//!   CREATE_AND_WRITE_PEER / WRITE_PEER / REMOVE_PEER to every replica in
//!   parallel (`ec_index` = replica index), answering only when all of them
//!   answered SUCCESS; READ goes to the local replica if this node holds one,
//!   else READ_PEER to the replicas in order until one answers.
//!
//! The gateway short-circuits its own replica to the local store (no
//! loop-back connection). Other peers are reached over one pooled,
//! multiplexed [`Client`] connection per peer, reused by every request and
//! dropped on a transport error.
//!
//! Each peer link speaks the highest peer protocol version both ends know
//! ([`ClusterView::links`], recomputed with every membership change): at
//! 0x0b the gateway puts the CRC32C of a write's payload in the request and
//! checks the CRC a READ_PEER answer carries; a mismatch counts as a failed
//! replica (the next one is tried, else EIO). The first request a link
//! sends at a version is logged (`peer link A -> B speaks 0x0b`).
//!
//! Inode objects (and VDI attribute objects) are the cluster's VDI metadata:
//! they are written to every member, so that every node's VDI table (the
//! in-use vid bitmap) sees a NEW_VDI/DEL_VDI/snapshot done through any
//! gateway: each peer write of an inode header refreshes the receiver's
//! table. Data objects follow sheepdog's placement exactly.
//!
//! Without a membership (a daemon started by [`crate::daemon::run`] without a
//! cluster) everything is local.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;

use crate::client::{Client, ClientError, Target};
use crate::cluster::join::Versions;
use crate::cluster::membership::View;
use crate::cluster::placement::{auto_vnodes, PlacementNode, VnodeRing};
use crate::proto::oid::{Oid, OidKind};
use crate::proto::{ObjReq, PeerOp, ReqFlags, Request, RspArm, SdNode, SdResult, PEER_COMPAT};
use crate::store::{FileRange, ObjectStore, StoreError};
use crate::vdi::VdiTable;

/// Object bytes read for an answer.
#[derive(Debug)]
pub enum ObjData {
    /// In memory (a peer's answer, or a local read).
    Mem(Bytes),
    /// A range of a local object file, sent with `sendfile(2)`.
    File(FileRange),
}

/// One membership as the gateway sees it.
#[derive(Debug, Clone, Default)]
pub struct ClusterView {
    /// Members, oldest first (with the vnode counts placement uses).
    pub nodes: Vec<SdNode>,
    /// Their ring.
    pub ring: VnodeRing,
    /// Membership epoch.
    pub epoch: u32,
    /// Index of this node in `nodes`.
    pub me: Option<usize>,
    /// Per member (same order as `nodes`): the peer protocol version this
    /// node speaks with it; [`PEER_COMPAT`] until the daemon's link-version
    /// function ([`Replicas::set_link_versions`]) or
    /// [`ClusterView::with_links`] knows better.
    pub links: Vec<u8>,
}

impl ClusterView {
    /// Builds the view of `members` (auto vnodes from their space) for the
    /// node announced as `me`.
    pub fn new(members: &[SdNode], epoch: u32, me: SocketAddr) -> ClusterView {
        let spaces: Vec<u64> = members.iter().map(|n| n.space).collect();
        let vn = auto_vnodes(&spaces);
        let nodes: Vec<SdNode> = members
            .iter()
            .zip(vn)
            .map(|(n, v)| SdNode { nr_vnodes: v, ..*n })
            .collect();
        let pn: Vec<PlacementNode> = nodes
            .iter()
            .map(|n| PlacementNode {
                addr: n.nid.addr,
                port: n.nid.port,
                zone: n.zone,
                nr_vnodes: n.nr_vnodes,
            })
            .collect();
        let me = nodes.iter().position(|n| n.socket_addr() == me);
        ClusterView {
            ring: VnodeRing::new(&pn),
            links: vec![PEER_COMPAT as u8; nodes.len()],
            nodes,
            epoch,
            me,
        }
    }

    /// The view with every link's peer version: the highest both this
    /// node (`ours`) and the member know, from the membership `m`
    /// ([`View::peer_version_with`]); the oldest version for a member the
    /// membership has no ranges of.
    #[must_use]
    pub fn with_links(mut self, m: &View, ours: &Versions) -> ClusterView {
        self.links = self
            .nodes
            .iter()
            .map(|n| m.peer_version_with(ours, n).unwrap_or(ours.peer.compat))
            .collect();
        self
    }

    /// The peer version of the link to `addr` ([`PEER_COMPAT`] for a node
    /// that is not a member).
    pub fn link_version(&self, addr: SocketAddr) -> u8 {
        self.nodes
            .iter()
            .position(|n| n.socket_addr() == addr)
            .and_then(|i| self.links.get(i).copied())
            .unwrap_or(PEER_COMPAT as u8)
    }

    /// The replica holders of `oid` (indices into `nodes`), `copies` capped
    /// at the number of zones.
    pub fn replicas(&self, oid: u64, copies: usize) -> Vec<usize> {
        self.ring.replicas(oid, copies.max(1))
    }
}

/// The membership-dependent part of [`Replicas`].
#[derive(Default)]
pub struct Fanout {
    /// The current membership, `None` when not clustered.
    pub view: RwLock<Option<ClusterView>>,
    /// Cluster default copies (the format's).
    pub default_copies: std::sync::atomic::AtomicU8,
    /// The peer version of the link to a member (`None`: unknown), set by
    /// [`Replicas::set_link_versions`]; applied to every installed view.
    link_versions: RwLock<Option<LinkVersions>>,
    /// (peer, version) pairs a request was sent with, for the
    /// `peer link ... speaks` log line.
    links_used: Mutex<std::collections::HashSet<(SocketAddr, u8)>>,
    pool: Mutex<HashMap<SocketAddr, Arc<Client>>>,
    vdis: RwLock<Option<Arc<RwLock<VdiTable>>>>,
    /// Signalled when the view changes (for OLD_NODE_VER retries).
    changed: tokio::sync::Notify,
    /// The daemon, for the recovery guard of local accesses.
    state: std::sync::OnceLock<std::sync::Weak<crate::daemon::State>>,
}

/// Gives the peer protocol version to speak with a member.
pub type LinkVersions = Box<dyn Fn(&SdNode) -> Option<u8> + Send + Sync>;

/// The replica set of the objects this gateway serves.
#[derive(Clone)]
pub struct Replicas {
    store: Arc<dyn ObjectStore>,
    /// Membership, ring and peer connections.
    pub fan: Arc<Fanout>,
}

impl std::fmt::Debug for Replicas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Replicas")
    }
}

/// `op` with the CRC32C of `payload` in its obj arm (the ops that carry a
/// payload: CREATE_AND_WRITE_PEER, WRITE_PEER).
fn with_payload_crc(op: PeerOp, payload: &[u8]) -> PeerOp {
    let crc = |a: ObjReq| ObjReq {
        payload_crc32c: crc32c::crc32c(payload),
        ..a
    };
    match op {
        PeerOp::CreateAndWritePeer(a) => PeerOp::CreateAndWritePeer(crc(a)),
        PeerOp::WritePeer(a) => PeerOp::WritePeer(crc(a)),
        other => other,
    }
}

/// Checks the payload of a READ_PEER answer at peer version `ver` (>= 0x0b)
/// against the CRC32C in its obj arm.
fn reply_crc_ok(rh: &crate::proto::RspHeader, p: &[u8], ver: u8) -> Result<(), String> {
    match RspArm::decode_at(rh.opcode, &rh.body, sdwire::Version::from(ver)) {
        Ok(RspArm::Obj(a)) => {
            let got = crc32c::crc32c(p);
            if got == a.payload_crc32c {
                Ok(())
            } else {
                Err(format!(
                    "payload CRC32C mismatch: sent {:#010x}, computed {got:#010x} over {} bytes",
                    a.payload_crc32c,
                    p.len()
                ))
            }
        }
        Ok(other) => Err(format!("unexpected response arm {other:?}")),
        Err(e) => Err(format!("response arm: {e}")),
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(StoreError::Io(std::io::Error::other(e.to_string()))))
}

/// A replica's failure as a store error (for callers written against the
/// store API).
fn code_err(c: SdResult) -> StoreError {
    match c {
        SdResult::NoObj => StoreError::NoObj(0),
        SdResult::NoSpace => StoreError::NoSpace,
        SdResult::InvalidParms => StoreError::OutOfRange {
            oid: 0,
            offset: 0,
            len: 0,
            size: 0,
        },
        other => StoreError::Io(std::io::Error::other(format!("replica answered {other:?}"))),
    }
}

/// How many times an OLD_NODE_VER / NEW_NODE_VER answer is retried.
const EPOCH_RETRIES: usize = 20;

/// How long an op keeps retrying while a replica is unreachable (the local
/// driver declares a killed node left within about a second, a hung one
/// after 30 s of heartbeat silence; etcd after its lease TTL).
const NETWORK_PATIENCE: Duration = Duration::from_secs(30);

impl Replicas {
    /// All objects on the local store (until a membership is attached).
    pub fn local(store: Arc<dyn ObjectStore>) -> Replicas {
        Replicas {
            store,
            fan: Arc::default(),
        }
    }

    /// Lets placement find a VDI's copies.
    pub fn set_vdi_table(&self, t: Arc<RwLock<VdiTable>>) {
        *self.fan.vdis.write().unwrap_or_else(|e| e.into_inner()) = Some(t);
    }

    /// Lets local accesses take the daemon's recovery guard
    /// ([`crate::recovery::guard`]).
    pub fn set_state(&self, st: &Arc<crate::daemon::State>) {
        let _ = self.fan.state.set(Arc::downgrade(st));
    }

    /// The recovery guard of a local access to `oid` sent in `epoch` (no-op
    /// without a daemon).
    async fn local_guard(
        &self,
        oid: u64,
        copies: u8,
        kind: crate::recovery::IoKind,
        epoch: u32,
    ) -> Result<crate::recovery::IoGuard, SdResult> {
        match self.fan.state.get().and_then(std::sync::Weak::upgrade) {
            Some(st) => crate::recovery::guard(&st, oid, copies, kind, Some(epoch)).await,
            None => Ok(crate::recovery::IoGuard::None),
        }
    }

    /// Installs a new membership view.
    pub fn set_view(&self, v: ClusterView) {
        let v = self.with_link_versions(v);
        *self.fan.view.write().unwrap_or_else(|e| e.into_inner()) = Some(v);
        self.fan.changed.notify_waiters();
    }

    /// The current view (`None` when not clustered).
    pub fn view(&self) -> Option<ClusterView> {
        self.fan
            .view
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sets how the peer version of each link is found (the daemon uses
    /// the membership's [`View::peer_version_with`]); every view installed
    /// afterwards gets its [`ClusterView::links`] from it.
    pub fn set_link_versions(&self, f: LinkVersions) {
        *self
            .fan
            .link_versions
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(f);
    }

    /// `v` with the link versions of [`Replicas::set_link_versions`], when set.
    fn with_link_versions(&self, mut v: ClusterView) -> ClusterView {
        if let Some(f) = self
            .fan
            .link_versions
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            v.links = v
                .nodes
                .iter()
                .map(|n| f(n).unwrap_or(PEER_COMPAT as u8))
                .collect();
        }
        v
    }

    /// The replica count of `oid`: `req` if non-zero, else its VDI's, else
    /// the cluster default.
    pub fn copies_of(&self, oid: u64, req: u8) -> usize {
        if req != 0 {
            return usize::from(req);
        }
        let vid = Oid(oid).vid();
        let vdi = self
            .fan
            .vdis
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|t| {
                t.read()
                    .unwrap_or_else(|e| e.into_inner())
                    .vdis
                    .get(&vid)
                    .map(|m| m.copies)
            })
            .filter(|&c| c != 0);
        usize::from(vdi.unwrap_or_else(|| {
            self.fan
                .default_copies
                .load(std::sync::atomic::Ordering::Relaxed)
                .max(1)
        }))
    }

    /// The targets of `oid` in the current view: (epoch, [(ec_index, node)]),
    /// `None` when not clustered. Metadata objects go to every member.
    fn targets(&self, oid: u64, copies: u8) -> Option<(ClusterView, Vec<usize>)> {
        let v = self.view()?;
        if v.me.is_none() {
            // Not a member of this view (not joined yet): no placement.
            return Some((v, Vec::new()));
        }
        let all = matches!(Oid(oid).kind(), OidKind::Inode | OidKind::Attr);
        // Keep in line with crate::recovery::holders.
        let t = if all {
            (0..v.nodes.len()).collect()
        } else {
            v.replicas(oid, self.copies_of(oid, copies))
        };
        Some((v, t))
    }

    /// The pooled connection to the peer at `addr`.
    ///
    /// # Errors
    ///
    /// Connect errors.
    pub async fn client(&self, addr: SocketAddr) -> Result<Arc<Client>, ClientError> {
        if let Some(c) = self
            .fan
            .pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&addr)
        {
            return Ok(c.clone());
        }
        let c = Arc::new(Client::connect(&Target::Tcp(addr)).await?);
        let mut p = self.fan.pool.lock().unwrap_or_else(|e| e.into_inner());
        Ok(p.entry(addr).or_insert(c).clone())
    }

    /// Sends one peer op without payload to `addr` at `epoch`, at the
    /// link's peer version (reply CRCs checked where the link has them):
    /// the result code and payload (recovery fetches and object lists).
    pub async fn peer_call(
        &self,
        addr: SocketAddr,
        epoch: u32,
        op: PeerOp,
        flags: ReqFlags,
        data_length: u32,
    ) -> (SdResult, Bytes) {
        self.send(addr, epoch, op, flags, data_length, Bytes::new())
            .await
    }

    /// Drops the pooled connection to `addr` (after a transport error).
    pub fn forget_client(&self, addr: SocketAddr) {
        self.drop_client(addr);
    }

    fn drop_client(&self, addr: SocketAddr) {
        self.fan
            .pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&addr);
    }

    /// Sends one peer op to `addr` at `epoch`: the result code and payload.
    async fn send(
        &self,
        addr: SocketAddr,
        epoch: u32,
        op: PeerOp,
        flags: ReqFlags,
        data_length: u32,
        payload: Bytes,
    ) -> (SdResult, Bytes) {
        let c = match self.client(addr).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(%addr, error = %e, "cannot reach peer");
                return (SdResult::NetworkError, Bytes::new());
            }
        };
        let ver = self
            .view()
            .map_or(PEER_COMPAT as u8, |v| v.link_version(addr));
        let crc = ver >= crate::proto::PEER_CRC_VERSION;
        let op = if crc {
            with_payload_crc(op, &payload)
        } else {
            op
        };
        let mut h = match Request::Peer(op).to_header_at(flags, data_length, ver) {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(%addr, error = %e, "cannot encode a peer request");
                return (SdResult::SystemError, Bytes::new());
            }
        };
        h.epoch = epoch;
        self.note_link(addr, ver);
        match c.raw(h, payload).await {
            Ok((rh, p)) => {
                if crc && rh.result == SdResult::Success && matches!(op, PeerOp::ReadPeer(_)) {
                    if let Err(why) = reply_crc_ok(&rh, &p, ver) {
                        tracing::warn!(%addr, opcode = rh.opcode, "READ_PEER answer rejected: {why}");
                        return (SdResult::Eio, Bytes::new());
                    }
                }
                (rh.result, p)
            }
            Err(e) => {
                tracing::warn!(%addr, error = %e, "peer request failed");
                self.drop_client(addr);
                (SdResult::NetworkError, Bytes::new())
            }
        }
    }

    /// Logs the first request sent to `addr` at peer version `ver`.
    fn note_link(&self, addr: SocketAddr, ver: u8) {
        let new = self
            .fan
            .links_used
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((addr, ver));
        if new {
            let me = self
                .view()
                .and_then(|v| v.me.map(|i| v.nodes[i].socket_addr()));
            match me {
                Some(me) => tracing::info!("peer link {me} -> {addr} speaks {ver:#04x}"),
                None => tracing::info!("peer link -> {addr} speaks {ver:#04x}"),
            }
        }
    }

    /// Waits (briefly) for a membership change after an epoch mismatch.
    async fn await_view_change(&self, seen: u32) {
        self.await_view_change_for(seen, Duration::from_millis(200))
            .await;
    }

    /// Waits at most `limit` for the view to leave epoch `seen`.
    async fn await_view_change_for(&self, seen: u32, limit: Duration) {
        let _ = tokio::time::timeout(limit, async {
            loop {
                let n = self.fan.changed.notified();
                if self.view().is_some_and(|v| v.epoch != seen) {
                    return;
                }
                n.await;
            }
        })
        .await;
    }

    /// Holds an op while this node is not a member of view `v` (a daemon
    /// answers only after it joined, so this is a safety net): `true` once
    /// the view changed, `false` when `deadline` passed (the op then fails
    /// with WAIT_FOR_JOIN, an I/O error to the client).
    ///
    /// Never answered from the local store instead: a node that is not a
    /// member does not know the placement, and what it stores may be stale
    /// (a restarted node's copies) or missing. Holding rather than a
    /// "retry" result because real clients retry no result code of a
    /// data read: tgtd's sheepdog backend takes any failure as a medium
    /// error and only retries a broken connection, and the C dog reports
    /// the failure.
    async fn hold_until_member(&self, v: &ClusterView, deadline: std::time::Instant) -> bool {
        let now = std::time::Instant::now();
        if now >= deadline {
            tracing::error!(
                epoch = v.epoch,
                "not a member of the cluster view, I/O refused"
            );
            return false;
        }
        tracing::warn!(
            epoch = v.epoch,
            "not a member of the cluster view yet, I/O held"
        );
        self.await_view_change_for(v.epoch, (deadline - now).min(Duration::from_secs(2)))
            .await;
        true
    }

    /// Runs a mutating op on every target of `oid`, in parallel; succeeds
    /// only when every replica succeeded. `Ok(false)` = not clustered.
    #[allow(clippy::too_many_arguments)] // one op's whole description
    async fn fan_write(
        &self,
        oid: u64,
        copies: u8,
        local: impl Fn() -> futures::future::BoxFuture<'static, Result<(), StoreError>>,
        mk: impl Fn(ObjReq) -> PeerOp,
        base: ObjReq,
        flags: ReqFlags,
        payload: Bytes,
    ) -> Result<bool, StoreError> {
        use crate::recovery::IoKind;
        let kind = match mk(base) {
            PeerOp::CreateAndWritePeer(_) => IoKind::Create,
            PeerOp::RemovePeer(_) => IoKind::Remove,
            _ => IoKind::Write,
        };
        // A replica that cannot be reached is waited out: once the
        // membership drops it (or it comes back) the op is sent again to
        // the replicas of the new view, so an acknowledged write is durable
        // on every replica of the view it completed in.
        let deadline = std::time::Instant::now() + NETWORK_PATIENCE;
        let mut tries = 0;
        loop {
            tries += 1;
            let Some((v, targets)) = self.targets(oid, copies) else {
                return Ok(false);
            };
            if v.me.is_none() {
                if self.hold_until_member(&v, deadline).await {
                    continue;
                }
                return Err(code_err(SdResult::WaitForJoin));
            }
            if targets.is_empty() {
                return Err(code_err(SdResult::Halt));
            }
            let futs = targets.iter().enumerate().map(|(i, &n)| {
                let node = v.nodes[n];
                let is_me = v.me == Some(n);
                let op = mk(ObjReq {
                    ec_index: i as u8,
                    ..base
                });
                let payload = payload.clone();
                let local = if is_me { Some(local()) } else { None };
                async move {
                    match local {
                        Some(f) => {
                            // A copy-on-write create reads its source here.
                            let _src = match base.cow_oid.0 {
                                0 => None,
                                src => Some(
                                    self.local_guard(src, copies, IoKind::Read, v.epoch)
                                        .await
                                        .map_err(|c| (c, None))?,
                                ),
                            };
                            let _g = self
                                .local_guard(oid, copies, kind, v.epoch)
                                .await
                                .map_err(|c| (c, None))?;
                            f.await
                                .map_err(|e| (crate::gateway::store_err(&e), Some(e)))
                        }
                        None => {
                            let (r, _) = self
                                .send(node.socket_addr(), v.epoch, op, flags, 0, payload)
                                .await;
                            if r == SdResult::Success {
                                Ok(())
                            } else {
                                Err((r, None))
                            }
                        }
                    }
                }
            });
            let results = futures::future::join_all(futs).await;
            let mut stale = false;
            let mut unreachable = false;
            let mut first_err = None;
            // A removal racing a replica's recovery of the object finds it
            // already gone there: removed everywhere is what was asked.
            let removed_somewhere = kind == IoKind::Remove && results.iter().any(Result::is_ok);
            for r in results {
                match r {
                    Ok(()) => {}
                    Err((SdResult::NoObj, _)) if removed_somewhere => {}
                    // WAIT_FOR_FORMAT: a new member still taking the
                    // cluster's format (crate::recovery); retried like an
                    // epoch change.
                    Err((
                        SdResult::OldNodeVer | SdResult::NewNodeVer | SdResult::WaitForFormat,
                        _,
                    )) => stale = true,
                    Err((SdResult::NetworkError, _)) => unreachable = true,
                    Err((c, e)) => {
                        if first_err.is_none() {
                            first_err = Some(e.unwrap_or_else(|| code_err(c)));
                        }
                    }
                }
            }
            if let Some(e) = first_err {
                return Err(e);
            }
            if !stale && !unreachable {
                return Ok(true);
            }
            let now = std::time::Instant::now();
            if now >= deadline || (!unreachable && tries >= EPOCH_RETRIES) {
                return Err(code_err(if unreachable {
                    SdResult::NetworkError
                } else {
                    SdResult::OldNodeVer
                }));
            }
            if unreachable {
                self.await_view_change_for(v.epoch, (deadline - now).min(Duration::from_secs(2)))
                    .await;
            } else {
                self.await_view_change(v.epoch).await;
            }
        }
    }

    /// Creates `oid` (`full_size` bytes, zero-filled or copied from
    /// `cow_from`) with `data` at `offset` on every replica; an existing
    /// object is written.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::create_and_write`]; a replica's failure.
    pub async fn create_and_write(
        &self,
        oid: u64,
        full_size: usize,
        offset: u64,
        data: Bytes,
        cow_from: Option<u64>,
    ) -> Result<(), StoreError> {
        self.create_and_write_copies(oid, 0, full_size, offset, data, cow_from)
            .await
    }

    /// [`create_and_write`](Self::create_and_write) with the request's copies.
    ///
    /// # Errors
    ///
    /// As [`create_and_write`](Self::create_and_write).
    pub async fn create_and_write_copies(
        &self,
        oid: u64,
        copies: u8,
        full_size: usize,
        offset: u64,
        data: Bytes,
        cow_from: Option<u64>,
    ) -> Result<(), StoreError> {
        let me = self.clone();
        let d = data.clone();
        let local = move || -> futures::future::BoxFuture<'static, Result<(), StoreError>> {
            let me = me.clone();
            let d = d.clone();
            Box::pin(async move {
                me.local_create_and_write(oid, full_size, offset, d, cow_from)
                    .await
            })
        };
        let base = ObjReq {
            oid: Oid(oid),
            cow_oid: Oid(cow_from.unwrap_or(0)),
            copies,
            offset: u32::try_from(offset).unwrap_or(u32::MAX),
            ..ObjReq::default()
        };
        let flags = if cow_from.is_some() {
            ReqFlags::COW
        } else {
            ReqFlags::EMPTY
        };
        if self
            .fan_write(
                oid,
                copies,
                &local,
                PeerOp::CreateAndWritePeer,
                base,
                flags,
                data.clone(),
            )
            .await?
        {
            return Ok(());
        }
        local().await
    }

    /// Writes into an existing object on every replica.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::write`]; a replica's failure.
    pub async fn write(&self, oid: u64, offset: u64, data: Bytes) -> Result<(), StoreError> {
        self.write_copies(oid, 0, offset, data).await
    }

    /// [`write`](Self::write) with the request's copies.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write).
    pub async fn write_copies(
        &self,
        oid: u64,
        copies: u8,
        offset: u64,
        data: Bytes,
    ) -> Result<(), StoreError> {
        let me = self.clone();
        let d = data.clone();
        let local = move || -> futures::future::BoxFuture<'static, Result<(), StoreError>> {
            let me = me.clone();
            let d = d.clone();
            Box::pin(async move { me.local_write(oid, offset, d).await })
        };
        let base = ObjReq {
            oid: Oid(oid),
            copies,
            offset: u32::try_from(offset).unwrap_or(u32::MAX),
            ..ObjReq::default()
        };
        if self
            .fan_write(
                oid,
                copies,
                &local,
                PeerOp::WritePeer,
                base,
                ReqFlags::EMPTY,
                data,
            )
            .await?
        {
            return Ok(());
        }
        local().await
    }

    /// Removes an object from every replica.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::remove`]; a replica's failure.
    pub async fn remove(&self, oid: u64) -> Result<(), StoreError> {
        let me = self.clone();
        let local = move || -> futures::future::BoxFuture<'static, Result<(), StoreError>> {
            let me = me.clone();
            Box::pin(async move { me.local_remove(oid).await })
        };
        let base = ObjReq {
            oid: Oid(oid),
            ..ObjReq::default()
        };
        if self
            .fan_write(
                oid,
                0,
                &local,
                PeerOp::RemovePeer,
                base,
                ReqFlags::EMPTY,
                Bytes::new(),
            )
            .await?
        {
            return Ok(());
        }
        local().await
    }

    /// Reads `len` bytes at `offset`: from the local replica if this node
    /// holds one, else from the other replicas in order.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::read`]; every replica failed.
    pub async fn read(&self, oid: u64, offset: u64, len: usize) -> Result<Vec<u8>, StoreError> {
        self.read_copies(oid, 0, offset, len).await
    }

    /// [`read`](Self::read) with the request's copies.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read).
    pub async fn read_copies(
        &self,
        oid: u64,
        copies: u8,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>, StoreError> {
        match self.read_data(oid, copies, offset, len, false).await? {
            ObjData::Mem(b) => Ok(b.into()),
            ObjData::File(r) => blocking(move || Ok(r.read()?)).await,
        }
    }

    /// [`read_copies`](Self::read_copies) without copying: a peer's answer
    /// as it arrived, and with `file_range` a local replica's bytes as a
    /// range of its file (to be sent with `sendfile(2)`) where the store
    /// keeps one.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read).
    pub async fn read_data(
        &self,
        oid: u64,
        copies: u8,
        offset: u64,
        len: usize,
        file_range: bool,
    ) -> Result<ObjData, StoreError> {
        let local = |oid, offset, len| self.local_read_data(oid, offset, len, file_range);
        let mut last = StoreError::NoObj(oid);
        let deadline = std::time::Instant::now() + NETWORK_PATIENCE;
        let mut tries = 0;
        loop {
            tries += 1;
            let Some((v, targets)) = self.targets(oid, copies) else {
                return local(oid, offset, len).await;
            };
            if v.me.is_none() {
                if self.hold_until_member(&v, deadline).await {
                    continue;
                }
                return Err(code_err(SdResult::WaitForJoin));
            }
            let mut stale = false;
            let mut unreachable = false;
            if v.me.is_some_and(|m| targets.contains(&m)) {
                match self
                    .local_guard(oid, copies, crate::recovery::IoKind::Read, v.epoch)
                    .await
                {
                    // A file range is sent after the guard is gone: it holds
                    // the object recovered (a later recovery replaces the
                    // file, not the open one), and a write racing the send
                    // may show through, like any read racing a write.
                    Ok(_g) => match local(oid, offset, len).await {
                        Ok(d) => return Ok(d),
                        Err(e) => last = e,
                    },
                    Err(_) => stale = true,
                }
            }
            for &n in targets.iter().filter(|&&n| v.me != Some(n)) {
                let op = PeerOp::ReadPeer(ObjReq {
                    oid: Oid(oid),
                    copies,
                    offset: u32::try_from(offset).unwrap_or(u32::MAX),
                    ..ObjReq::default()
                });
                let (r, p) = self
                    .send(
                        v.nodes[n].socket_addr(),
                        v.epoch,
                        op,
                        ReqFlags::EMPTY,
                        u32::try_from(len).unwrap_or(u32::MAX),
                        Bytes::new(),
                    )
                    .await;
                match r {
                    SdResult::Success => return Ok(ObjData::Mem(p)),
                    SdResult::OldNodeVer | SdResult::NewNodeVer | SdResult::WaitForFormat => {
                        stale = true;
                    }
                    SdResult::NetworkError => {
                        unreachable = true;
                        last = code_err(SdResult::NetworkError);
                    }
                    c => last = code_err(c),
                }
            }
            // An unreachable replica is waited out like an epoch change:
            // the membership drops it soon.
            if !stale && !unreachable {
                return Err(last);
            }
            let now = std::time::Instant::now();
            if now >= deadline || (!unreachable && tries >= EPOCH_RETRIES) {
                return Err(last);
            }
            if unreachable && !stale {
                self.await_view_change_for(v.epoch, (deadline - now).min(Duration::from_secs(2)))
                    .await;
            } else {
                self.await_view_change(v.epoch).await;
            }
        }
    }

    /// Creates `oid` on the local store only.
    ///
    /// A COW source (`cow_from`) is placed independently of `oid`, so in a
    /// cluster this node often holds no copy of it: then, like sheepdog's
    /// `read_copy_from_replica`, the source is read from its replicas and
    /// the object is created from that copy with `data` laid over it.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::create_and_write`].
    pub async fn local_create_and_write(
        &self,
        oid: u64,
        full_size: usize,
        offset: u64,
        data: Bytes,
        cow_from: Option<u64>,
    ) -> Result<(), StoreError> {
        let s = self.store.clone();
        let d = data.clone();
        let r = blocking(move || s.create_and_write(oid, full_size, offset, &d, cow_from)).await;
        match (r, cow_from) {
            (Err(StoreError::NoObj(missing)), Some(src))
                if missing == src && self.view().is_some() =>
            {
                let mut full = self.read(src, 0, full_size).await?;
                full.resize(full_size, 0);
                let at = usize::try_from(offset).unwrap_or(usize::MAX);
                let end = at.saturating_add(data.len());
                if end > full_size {
                    return Err(StoreError::OutOfRange {
                        oid,
                        offset,
                        len: data.len() as u64,
                        size: full_size as u64,
                    });
                }
                full[at..end].copy_from_slice(&data);
                let s = self.store.clone();
                blocking(move || s.create_and_write(oid, full_size, 0, &full, None)).await
            }
            (r, _) => r,
        }
    }

    /// Writes into an existing object of the local store.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::write`].
    pub async fn local_write(&self, oid: u64, offset: u64, data: Bytes) -> Result<(), StoreError> {
        let s = self.store.clone();
        blocking(move || s.write(oid, offset, &data)).await
    }

    /// Reads from the local store.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::read`].
    pub async fn local_read(
        &self,
        oid: u64,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>, StoreError> {
        let s = self.store.clone();
        blocking(move || s.read(oid, offset, len)).await
    }

    /// Reads from the local store: with `file_range`, as a range of the
    /// object file where the store keeps one, else into memory.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::read`].
    pub async fn local_read_data(
        &self,
        oid: u64,
        offset: u64,
        len: usize,
        file_range: bool,
    ) -> Result<ObjData, StoreError> {
        if file_range {
            if let Some(r) = self.local_read_range(oid, offset, len).await? {
                return Ok(ObjData::File(r));
            }
        }
        Ok(ObjData::Mem(
            self.local_read(oid, offset, len).await?.into(),
        ))
    }

    /// A range of the local object file (see [`ObjectStore::read_range`]).
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::read_range`].
    pub async fn local_read_range(
        &self,
        oid: u64,
        offset: u64,
        len: usize,
    ) -> Result<Option<FileRange>, StoreError> {
        let s = self.store.clone();
        blocking(move || s.read_range(oid, offset, len)).await
    }

    /// Removes an object from the local store.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::remove`].
    pub async fn local_remove(&self, oid: u64) -> Result<(), StoreError> {
        let s = self.store.clone();
        blocking(move || s.remove(oid)).await
    }

    /// Whether the object exists.
    pub async fn exists(&self, oid: u64) -> bool {
        let s = self.store.clone();
        blocking(move || Ok(s.exists(oid))).await.unwrap_or(false)
    }

    /// SHA-1 of an object.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::sha1`].
    pub async fn sha1(&self, oid: u64) -> Result<[u8; 20], StoreError> {
        let s = self.store.clone();
        blocking(move || s.sha1(oid)).await
    }

    /// Makes everything durable.
    ///
    /// # Errors
    ///
    /// As [`ObjectStore::flush`].
    pub async fn flush(&self) -> Result<(), StoreError> {
        let s = self.store.clone();
        blocking(move || s.flush()).await
    }
}
