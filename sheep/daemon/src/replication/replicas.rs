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
//! Without a membership (a daemon started by `server::run` without a
//! cluster) everything is local.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use bytes::Bytes;

use super::{Node, ReplicaError};
use crate::client::{Client, ClientError, Target};
use crate::objects::VdiTable;
use crate::proto::oid::{Oid, OidKind};
use crate::proto::{ObjReq, PeerOp, ReqFlags, Request, RspArm, SdNode, SdResult, PEER_COMPAT};
use crate::store::{FileRange, ObjectStore, StoreError};

pub use super::view::ClusterView;

/// The local-store face of [`Replicas`] (what the peer ops use).
mod local;

/// Object bytes read for an answer.
#[derive(Debug)]
pub enum ObjData {
    /// In memory (a peer's answer, or a local read).
    Mem(Bytes),
    /// A range of a local object file, sent with `sendfile(2)`.
    File(FileRange),
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
        *crate::sync::write(&self.fan.vdis) = Some(t);
    }

    /// The recovery guard of a local access to `oid` sent in `epoch`
    /// ([`super::recovery::guard`], taken on `owner`, the node this replica
    /// set belongs to).
    async fn local_guard(
        &self,
        owner: &Node,
        oid: u64,
        copies: u8,
        kind: crate::replication::recovery::IoKind,
        epoch: u32,
    ) -> Result<crate::replication::recovery::IoGuard, SdResult> {
        super::recovery::guard(owner, oid, copies, kind, Some(epoch)).await
    }

    /// Installs a new membership view.
    pub fn set_view(&self, v: ClusterView) {
        let v = self.with_link_versions(v);
        *crate::sync::write(&self.fan.view) = Some(v);
        self.fan.changed.notify_waiters();
    }

    /// The current view (`None` when not clustered).
    pub fn view(&self) -> Option<ClusterView> {
        crate::sync::read(&self.fan.view).clone()
    }

    /// Sets how the peer version of each link is found (the daemon uses
    /// the membership's
    /// [`View::peer_version_with`](crate::cluster::membership::View::peer_version_with));
    /// every view installed
    /// afterwards gets its [`ClusterView::links`] from it.
    pub fn set_link_versions(&self, f: LinkVersions) {
        *crate::sync::write(&self.fan.link_versions) = Some(f);
    }

    /// `v` with the link versions of [`Replicas::set_link_versions`], when set.
    fn with_link_versions(&self, mut v: ClusterView) -> ClusterView {
        if let Some(f) = crate::sync::read(&self.fan.link_versions).as_ref() {
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
        let vdi = crate::sync::read(&self.fan.vdis)
            .as_ref()
            .and_then(|t| crate::sync::read(t).vdis.get(&vid).map(|m| m.copies))
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
        // Keep in line with crate::replication::recovery::holders.
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
        if let Some(c) = crate::sync::lock(&self.fan.pool).get(&addr) {
            return Ok(c.clone());
        }
        let c = Arc::new(Client::connect(&Target::Tcp(addr)).await?);
        let mut p = crate::sync::lock(&self.fan.pool);
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
        crate::sync::lock(&self.fan.pool).remove(&addr);
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
        let new = crate::sync::lock(&self.fan.links_used).insert((addr, ver));
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
    /// with WAIT_FOR_JOIN, which the client gets as that result).
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
    async fn fan_write<'f>(
        &self,
        owner: &Node,
        oid: u64,
        copies: u8,
        local: impl Fn() -> futures::future::BoxFuture<'f, Result<(), ReplicaError>>,
        mk: impl Fn(ObjReq) -> PeerOp,
        base: ObjReq,
        flags: ReqFlags,
        payload: Bytes,
    ) -> Result<bool, ReplicaError> {
        use crate::replication::recovery::IoKind;
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
                return Err(ReplicaError::Remote(SdResult::WaitForJoin));
            }
            if targets.is_empty() {
                return Err(ReplicaError::Remote(SdResult::Halt));
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
                                    self.local_guard(owner, src, copies, IoKind::Read, v.epoch)
                                        .await
                                        .map_err(|c| (c, None))?,
                                ),
                            };
                            let _g = self
                                .local_guard(owner, oid, copies, kind, v.epoch)
                                .await
                                .map_err(|c| (c, None))?;
                            f.await.map_err(|e| (e.result(), Some(e)))
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
                    // cluster's format (crate::replication::recovery); retried like an
                    // epoch change.
                    Err((
                        SdResult::OldNodeVer | SdResult::NewNodeVer | SdResult::WaitForFormat,
                        _,
                    )) => stale = true,
                    Err((SdResult::NetworkError, _)) => unreachable = true,
                    Err((c, e)) => {
                        if first_err.is_none() {
                            first_err = Some(e.unwrap_or(ReplicaError::Remote(c)));
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
                return Err(ReplicaError::Remote(if unreachable {
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
        owner: &Node,
        oid: u64,
        full_size: usize,
        offset: u64,
        data: Bytes,
        cow_from: Option<u64>,
    ) -> Result<(), ReplicaError> {
        self.create_and_write_copies(owner, oid, 0, full_size, offset, data, cow_from)
            .await
    }

    /// [`create_and_write`](Self::create_and_write) with the request's copies.
    ///
    /// # Errors
    ///
    /// As [`create_and_write`](Self::create_and_write).
    #[allow(clippy::too_many_arguments)] // the node, then one create's whole description
    pub async fn create_and_write_copies<'o>(
        &self,
        owner: &'o Node,
        oid: u64,
        copies: u8,
        full_size: usize,
        offset: u64,
        data: Bytes,
        cow_from: Option<u64>,
    ) -> Result<(), ReplicaError> {
        let me = self.clone();
        let d = data.clone();
        let local = move || -> futures::future::BoxFuture<'o, Result<(), ReplicaError>> {
            let me = me.clone();
            let d = d.clone();
            Box::pin(async move {
                me.local_create_and_write(owner, oid, full_size, offset, d, cow_from)
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
                owner,
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
    pub async fn write(
        &self,
        owner: &Node,
        oid: u64,
        offset: u64,
        data: Bytes,
    ) -> Result<(), ReplicaError> {
        self.write_copies(owner, oid, 0, offset, data).await
    }

    /// [`write`](Self::write) with the request's copies.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write).
    pub async fn write_copies(
        &self,
        owner: &Node,
        oid: u64,
        copies: u8,
        offset: u64,
        data: Bytes,
    ) -> Result<(), ReplicaError> {
        let me = self.clone();
        let d = data.clone();
        let local = move || -> futures::future::BoxFuture<'static, Result<(), ReplicaError>> {
            let me = me.clone();
            let d = d.clone();
            Box::pin(async move { Ok(me.local_write(oid, offset, d).await?) })
        };
        let base = ObjReq {
            oid: Oid(oid),
            copies,
            offset: u32::try_from(offset).unwrap_or(u32::MAX),
            ..ObjReq::default()
        };
        if self
            .fan_write(
                owner,
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
    pub async fn remove(&self, owner: &Node, oid: u64) -> Result<(), ReplicaError> {
        let me = self.clone();
        let local = move || -> futures::future::BoxFuture<'static, Result<(), ReplicaError>> {
            let me = me.clone();
            Box::pin(async move { Ok(me.local_remove(oid).await?) })
        };
        let base = ObjReq {
            oid: Oid(oid),
            ..ObjReq::default()
        };
        if self
            .fan_write(
                owner,
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
    pub async fn read(
        &self,
        owner: &Node,
        oid: u64,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>, ReplicaError> {
        self.read_copies(owner, oid, 0, offset, len).await
    }

    /// [`read`](Self::read) with the request's copies.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read).
    pub async fn read_copies(
        &self,
        owner: &Node,
        oid: u64,
        copies: u8,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>, ReplicaError> {
        match self
            .read_data(owner, oid, copies, offset, len, false)
            .await?
        {
            ObjData::Mem(b) => Ok(b.into()),
            ObjData::File(r) => Ok(blocking(move || Ok(r.read()?)).await?),
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
        owner: &Node,
        oid: u64,
        copies: u8,
        offset: u64,
        len: usize,
        file_range: bool,
    ) -> Result<ObjData, ReplicaError> {
        let local = |oid, offset, len| self.local_read_data(oid, offset, len, file_range);
        let mut last = ReplicaError::Local(StoreError::NoObj(oid));
        let deadline = std::time::Instant::now() + NETWORK_PATIENCE;
        let mut tries = 0;
        loop {
            tries += 1;
            let Some((v, targets)) = self.targets(oid, copies) else {
                return Ok(local(oid, offset, len).await?);
            };
            if v.me.is_none() {
                if self.hold_until_member(&v, deadline).await {
                    continue;
                }
                return Err(ReplicaError::Remote(SdResult::WaitForJoin));
            }
            let mut stale = false;
            let mut unreachable = false;
            if v.me.is_some_and(|m| targets.contains(&m)) {
                match self
                    .local_guard(
                        owner,
                        oid,
                        copies,
                        crate::replication::recovery::IoKind::Read,
                        v.epoch,
                    )
                    .await
                {
                    // A file range is sent after the guard is gone: it holds
                    // the object recovered (a later recovery replaces the
                    // file, not the open one), and a write racing the send
                    // may show through, like any read racing a write.
                    Ok(_g) => match local(oid, offset, len).await {
                        Ok(d) => return Ok(d),
                        Err(e) => last = e.into(),
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
                        last = ReplicaError::Remote(SdResult::NetworkError);
                    }
                    c => last = ReplicaError::Remote(c),
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
}
