//! Object recovery after a membership change (sheepdog's `recovery.c`,
//! re-designed).
//!
//! (Longer than 800 lines on purpose: the authority rules described here
//! and the code that keeps them, the view change, the on-demand guard, the
//! per-epoch task and the answer to a recovering peer, are one algorithm
//! whose invariants a reader has to check together.)
//!
//! Every membership change installs a new view (epoch + vnode ring, see
//! `server::members`) and starts a recovery task for that epoch on
//! every member; a newer change supersedes a running task (each step checks
//! the epoch and stops when it moved on).
//!
//! # Which copies are up to date
//!
//! Every node keeps, in memory, the *authority* of the objects it has decided
//! on (`settled`): `oid -> epoch`. An entry `CURRENT` (`u32::MAX`) means "I
//! am a replica of this object in the current view and my copy (or its
//! absence) is up to date": the node was a replica when the object was last
//! written, or it fetched the object from an up-to-date node under the
//! object's lock. An entry `e` means "my copy was up to date when epoch `e`
//! began; I am no longer a replica, so it is valid only as a recovery source
//! for epoch `e`". On every view change ([`Recovery::on_view`]):
//!
//! * `CURRENT` stays `CURRENT` where the node is still a replica (every
//!   write of the new epoch reaches it), becomes `e` where it is not;
//! * any older authority of an object the node is (again) a replica of is
//!   dropped: the node may have missed writes, the object must be recovered.
//!
//! Besides the entries, a node that completed the work list of an epoch and
//! stayed a member since (`Inner::chain`) is authoritative about every
//! object it stayed a replica of through those views, also about objects it
//! has never seen: their absence is real (this is what keeps an object
//! removed while a node was down from coming back from that node's stale
//! copy).
//!
//! A started (or restarted) daemon has no entries at all: every copy on its
//! disk is *suspect*. That is how a rejoining node's stale replicas are
//! handled: a node killed and restarted on the same store refetches every
//! object it must hold from a node whose copy is authoritative (one that
//! stayed a replica, or handed it over). Its own copy is kept only when no
//! live member has an authoritative copy or an authoritative absence, e.g.
//! the first node of a full cluster restart (all copies are suspect then, and
//! the first node's copies are as good as any: nothing was written while the
//! cluster was down). Known limit: if the cluster is stopped entirely while a
//! node was down, and that node is started first, its older copies win.
//!
//! A completed epoch restarts the chain only when no node that may hold
//! objects this one never saw is missing (`Inner::missing`: members of the
//! last logged epochs at start-up, members that left since). Without that,
//! a graceful stop of the whole cluster (members leave one by one, the last
//! one completes an epoch alone) or the first node up after a full restart
//! "authoritatively" lacked the objects only the others held, and the
//! others deleted their copies when they came back.
//!
//! # The task of epoch `e`
//!
//! 1. If this store was never formatted but the cluster is, adopt the
//!    cluster's format (a new node joining a formatted cluster). Once per
//!    process, copy the node lists of recent epochs this node did not log
//!    (it was down or not yet a member) from a peer (GET_EPOCH).
//! 2. Gather GET_OBJ_LIST from every member; the objects this node must hold
//!    under the view of `e` (data objects by the ring, VDI metadata on every
//!    member) and has not settled are the work list; VDI metadata first.
//! 3. Recover each (`recover_one`): under the object's exclusive lock, ask
//!    the members (replicas of `e` first) with READ_PEER + RECOVERY +
//!    `tgt_epoch = e`. A member answers SUCCESS with the whole object when
//!    its copy is authoritative for `e`, NO_OBJ when it authoritatively has
//!    none (the object was removed, or never existed), STALE_OBJ when it has
//!    a copy it has not settled yet, NOT_FOUND when it knows nothing. The
//!    first SUCCESS is stored durably; authoritative absences remove the
//!    local copy; when only unsettled copies exist the object is retried and,
//!    after a while, any copy is accepted (WILDCARD), preferring the local one.
//! 4. Report completion (STAT_RECOVERY state `RW_NOTIFY_COMPLETION`), wait
//!    until every member reports completion of `e`, then remove the local
//!    objects this node no longer has to hold: only then do their new holders
//!    have them. They are removed, not kept aside.
//!
//! VDI operations (lookup, lock, create, delete, attributes) wait until the
//! VDI metadata of the current epoch is settled here ([`wait_metadata`]):
//! a rejoined node's VDI table, loaded from its suspect inodes, must not
//! answer a lookup or allocate a vid before its inodes are up to date.
//!
//! # Concurrent client I/O
//!
//! Every local object access of the gateway and of the peer ops goes through
//! [`guard`]: an object this node must hold but has not settled is recovered
//! on demand first (so a read never returns a stale copy, and a write never
//! lands on a copy that an older recovered copy would later overwrite), then
//! the access holds the object's shared lock while it runs, and checks that
//! the epoch it was sent in is still current (else OLD_NODE_VER and the
//! gateway retries in the new view). A recovery source takes the object's
//! exclusive lock before reading, so writes of the previous epoch still in
//! flight finish first; writes that arrive later carry an old epoch and are
//! refused. A recovery source never waits for its own recovery, so two nodes
//! recovering each other's objects cannot deadlock.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::{OwnedRwLockReadGuard, OwnedRwLockWriteGuard, RwLock};

use super::replicas::ClusterView;
use super::Node;
use crate::cluster::state::Format;
use crate::proto::oid::{Oid, OidKind};
use crate::proto::payload::OidList;
use crate::proto::{
    AdminOp, ClusterInfo, NoArgs, ObjReq, PeerOp, RecoveryState, ReqFlags, Request, SdResult,
    SdStatus,
};
use crate::sync::lock;

/// Authority of a copy held as a replica of the current view.
const CURRENT: u32 = u32::MAX;
/// Largest payload a peer answers (an object read in one piece).
const MAX_OBJECT: u32 = crate::proto::frame::MAX_PAYLOAD as u32;
/// How long a recovery request to a peer may take (a hung peer must not
/// stall recovery forever).
const PEER_TIMEOUT: Duration = Duration::from_secs(30);
/// Views kept in the authority chain before it is given up (a node that
/// cannot complete an epoch for that long recovers like a restarted one).
const MAX_CHAIN: usize = 64;
/// Work-list rounds with unsettled sources before any copy is accepted.
const PATIENT_ROUNDS: u32 = 10;
/// How long an on-demand recovery waits for an authoritative source before
/// it accepts any copy.
const ON_DEMAND_PATIENCE: Duration = Duration::from_secs(3);

/// `recovery_state.state` values (sheepdog's `enum rw_state`).
const RW_PREPARE_LIST: u32 = 0;
const RW_RECOVER_OBJ: u32 = 1;
const RW_NOTIFY_COMPLETION: u32 = 2;

/// What a local object access does (decides the lock and the on-demand
/// recovery).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IoKind {
    /// A read.
    Read,
    /// A write into an existing object.
    Write,
    /// A create (or write if it exists).
    Create,
    /// A removal (exclusive; settles the object).
    Remove,
}

/// Recovery state of one daemon.
#[derive(Debug, Default)]
pub struct Recovery {
    inner: Mutex<Inner>,
    locks: Mutex<HashMap<u64, Arc<RwLock<()>>>>,
    /// Woken whenever the VDI metadata of an epoch may have become settled
    /// (`meta_epoch` raised), for [`wait_metadata`].
    meta_settled: tokio::sync::Notify,
    /// The epochs before this process joined were copied from a peer.
    backfilled: std::sync::atomic::AtomicBool,
}

#[derive(Debug, Default)]
struct Inner {
    /// The epoch the state below refers to.
    epoch: u32,
    /// Authority of decided objects (see the module doc).
    settled: HashMap<u64, u32>,
    /// The work list of `epoch` is done.
    complete: bool,
    /// A task of `epoch` is running (STAT_RECOVERY's in_recovery).
    running: bool,
    /// STAT_RECOVERY's state.
    state: u32,
    /// Bumped by MAKE_FS: work started before the wipe must not store
    /// anything after it.
    format_gen: u64,
    /// The current view.
    view: Option<ClusterView>,
    /// The views this node lived through as a member since the last epoch
    /// it completed (that one first, the current one last); empty when it
    /// has completed none since it started. While a node stayed a replica
    /// of an object through all of them, every create, write and removal of
    /// the object reached it: its copy, or its lack of one, is
    /// authoritative even when it has no entry in `settled`.
    chain: Vec<ClusterView>,
    /// Nodes that may hold objects this node has never seen: members of
    /// recent epochs logged before the process started, and members that
    /// left since. A node leaves the set when a completed epoch has it as a
    /// member (its object list was gathered). While the set is not empty, a
    /// completed epoch does not *restart* `chain` (an existing chain goes
    /// on: everything written since it began still reached this node):
    /// after a full cluster stop, or when every holder of an object left,
    /// this node's lack of an object proves nothing.
    missing: HashSet<SocketAddr>,
    /// The last completed epoch restarted the chain (nothing was missing).
    complete_trusted: bool,
    /// The epoch whose VDI metadata (inodes, attributes) is settled here.
    meta_epoch: u32,
    finished: u64,
    total: u64,
}

/// Holds an object's lock for the duration of one local access.
#[derive(Debug)]
pub enum IoGuard {
    /// Not clustered: nothing to hold.
    None,
    /// Shared (reads, writes).
    Shared(OwnedRwLockReadGuard<()>),
    /// Exclusive (removals).
    Exclusive(OwnedRwLockWriteGuard<()>),
}

/// The replica holders (indices into `v.nodes`) of `oid` in `v`: VDI
/// metadata on every member, everything else on the ring.
pub fn holders(st: &Node, v: &ClusterView, oid: u64, copies: u8) -> Vec<usize> {
    if matches!(Oid(oid).kind(), OidKind::Inode | OidKind::Attr) {
        (0..v.nodes.len()).collect()
    } else {
        v.replicas(oid, st.replicas.copies_of(oid, copies))
    }
}

/// Whether this node holds a replica of `oid` in `v`.
fn is_holder(st: &Node, v: &ClusterView, oid: u64, copies: u8) -> bool {
    v.me.is_some_and(|m| holders(st, v, oid, copies).contains(&m))
}

impl Recovery {
    /// The recovery state of a daemon whose store lived through recent
    /// epochs with `prior_members` (empty: a new or never clustered store).
    pub fn after_restart(prior_members: Vec<SocketAddr>) -> Recovery {
        let r = Recovery::default();
        r.inner().missing = prior_members.into_iter().collect();
        r
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        lock(&self.inner)
    }

    fn lock_of(&self, oid: u64) -> Arc<RwLock<()>> {
        let mut m = lock(&self.locks);
        if m.len() > 4096 {
            m.retain(|_, l| Arc::strong_count(l) > 1);
        }
        m.entry(oid).or_default().clone()
    }

    /// Applies a new view (called before the epoch becomes visible): updates
    /// the authorities and marks the recovery of `v.epoch` as started.
    /// `false` (nothing done) for a view that is not newer than the last.
    pub fn on_view(&self, st: &Node, v: &ClusterView) -> bool {
        let mut g = self.inner();
        if v.epoch <= g.epoch {
            return false;
        }
        let old = std::mem::take(&mut g.settled);
        g.settled = old
            .into_iter()
            .filter_map(|(oid, auth)| {
                let holder = is_holder(st, v, oid, 0);
                match (auth == CURRENT, holder) {
                    (true, true) => Some((oid, CURRENT)),
                    (true, false) => Some((oid, v.epoch)),
                    (false, true) => None,
                    (false, false) => Some((oid, auth)),
                }
            })
            .collect();
        if let Some(old) = &g.view {
            let left: Vec<SocketAddr> = old
                .nodes
                .iter()
                .map(|n| n.socket_addr())
                .filter(|a| !v.nodes.iter().any(|n| n.socket_addr() == *a))
                .collect();
            g.missing.extend(left);
        }
        if g.complete && g.complete_trusted {
            g.chain = g.view.take().into_iter().collect();
        }
        if v.me.is_none() || g.chain.len() >= MAX_CHAIN {
            g.chain.clear();
        }
        if !g.chain.is_empty() {
            g.chain.push(v.clone());
            // Every member holds the VDI metadata: a node that stayed a
            // member since it completed an epoch has all of it.
            g.meta_epoch = v.epoch;
        }
        g.view = Some(v.clone());
        g.epoch = v.epoch;
        g.complete = false;
        g.running = true;
        g.state = RW_PREPARE_LIST;
        g.finished = 0;
        g.total = 0;
        drop(g);
        self.meta_settled.notify_waiters();
        true
    }

    /// Marks the work list of the current epoch done (`g.epoch` checked by
    /// the caller).
    fn mark_complete(g: &mut Inner) {
        g.complete = true;
        g.meta_epoch = g.epoch;
        if let Some(v) = &g.view {
            let present: HashSet<SocketAddr> = v.nodes.iter().map(|n| n.socket_addr()).collect();
            g.missing.retain(|a| !present.contains(a));
        }
        g.complete_trusted = g.missing.is_empty();
        if g.complete_trusted {
            g.chain = g.view.iter().cloned().collect();
        }
    }

    /// After MAKE_FS: every store is empty, nothing to recover.
    pub fn formatted(&self) {
        let mut g = self.inner();
        g.format_gen += 1;
        g.settled.clear();
        g.missing.clear();
        Self::mark_complete(&mut g);
        g.running = false;
        g.state = RW_PREPARE_LIST;
        g.finished = 0;
        g.total = 0;
        drop(g);
        self.meta_settled.notify_waiters();
    }

    /// The STAT_RECOVERY reply.
    pub fn state(&self) -> RecoveryState {
        let g = self.inner();
        RecoveryState {
            in_recovery: u8::from(g.running),
            state: g.state,
            nr_finished: g.finished,
            nr_total: g.total,
            ..RecoveryState::default()
        }
    }

    fn current(&self, e: u32) -> bool {
        self.inner().epoch == e
    }

    fn format_gen(&self) -> u64 {
        self.inner().format_gen
    }

    /// Whether this node's state of `oid` (copy or absence) is
    /// authoritative without an entry (see `Inner::chain`).
    fn chain_authority(st: &Node, g: &Inner, oid: u64, copies: u8) -> bool {
        !g.chain.is_empty() && g.chain.iter().all(|v| is_holder(st, v, oid, copies))
    }

    fn is_settled(&self, oid: u64) -> bool {
        self.inner().settled.get(&oid) == Some(&CURRENT)
    }

    fn settle(&self, e: u32, oid: u64) {
        let mut g = self.inner();
        if g.epoch == e {
            g.settled.insert(oid, CURRENT);
        }
    }
}

/// Starts the recovery task of epoch `e` (after [`Recovery::on_view`]).
pub fn start(st: &Arc<Node>, e: u32) {
    let st = st.clone();
    tokio::spawn(async move {
        run(&st, e).await;
    });
}

/// Takes the lock of `oid` for one local access, recovering the object
/// first if this node must hold it and has not settled it; `epoch` is the
/// epoch the access was sent in (OLD_NODE_VER if the view moved on).
///
/// # Errors
///
/// OLD_NODE_VER when `epoch` is no longer current.
pub async fn guard(
    st: &Node,
    oid: u64,
    copies: u8,
    kind: IoKind,
    epoch: Option<u32>,
) -> Result<IoGuard, SdResult> {
    if !st.clustered() || oid == 0 {
        return Ok(IoGuard::None);
    }
    let rec = &st.recovery;
    let stale = |st: &Node| epoch.is_some_and(|e| st.epoch() != e);
    let t0 = Instant::now();
    loop {
        // Cheap checks first: after the work list of the epoch is done (the
        // common case), nothing is recovered on demand.
        let (e, pending) = {
            let g = rec.inner();
            (
                g.epoch,
                !g.complete
                    && g.settled.get(&oid) != Some(&CURRENT)
                    && !Recovery::chain_authority(st, &g, oid, copies),
            )
        };
        if !pending || t0.elapsed() > Duration::from_secs(30) {
            break;
        }
        if holder_in(st, oid, copies) != Some((e, true)) {
            break;
        }
        let wildcard = t0.elapsed() > ON_DEMAND_PATIENCE;
        match recover_one(st, oid, e, copies, wildcard).await {
            Outcome::Done | Outcome::Superseded => {}
            Outcome::NotReady => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    if kind == IoKind::Remove {
        // Recovered first (above), so that removing an object this replica
        // has not fetched yet answers like removing it from an up-to-date
        // replica; then nothing can bring it back.
        let w = rec.lock_of(oid).write_owned().await;
        if stale(st) {
            return Err(SdResult::OldNodeVer);
        }
        if let Some((e, true)) = holder_in(st, oid, copies) {
            rec.settle(e, oid);
        }
        return Ok(IoGuard::Exclusive(w));
    }
    let r = rec.lock_of(oid).read_owned().await;
    if stale(st) {
        return Err(SdResult::OldNodeVer);
    }
    if kind != IoKind::Read {
        // Written as a replica of a view whose recovery is complete: this
        // copy is up to date (objects created after the recovery have no
        // entry yet).
        let (e, unsettled_complete) = {
            let g = rec.inner();
            (g.epoch, g.complete && g.settled.get(&oid) != Some(&CURRENT))
        };
        if unsettled_complete && holder_in(st, oid, copies) == Some((e, true)) {
            rec.settle(e, oid);
        }
    }
    Ok(IoGuard::Shared(r))
}

/// The current view's epoch and whether this node holds `oid` in it
/// (without copying the view).
fn holder_in(st: &Node, oid: u64, copies: u8) -> Option<(u32, bool)> {
    let g = crate::sync::read(&st.replicas.fan.view);
    g.as_ref().map(|v| (v.epoch, is_holder(st, v, oid, copies)))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Done,
    NotReady,
    Superseded,
}

/// One request to a peer: result and payload (NETWORK_ERROR on transport
/// failures).
async fn ask(
    st: &Node,
    addr: SocketAddr,
    req: Request,
    flags: ReqFlags,
    epoch: u32,
    data_length: u32,
) -> (SdResult, Bytes) {
    if let Request::Peer(op) = req {
        // The gateway's peer path: the link's version, CRC-checked reads.
        let call = st.replicas.peer_call(addr, epoch, op, flags, data_length);
        return match tokio::time::timeout(PEER_TIMEOUT, call).await {
            Ok(r) => r,
            Err(_) => {
                st.replicas.forget_client(addr);
                (SdResult::NetworkError, Bytes::new())
            }
        };
    }
    let c = match st.replicas.client(addr).await {
        Ok(c) => c,
        Err(_) => return (SdResult::NetworkError, Bytes::new()),
    };
    let mut h = req.to_header(flags, data_length);
    h.epoch = epoch;
    match tokio::time::timeout(PEER_TIMEOUT, c.raw(h, Bytes::new())).await {
        Ok(Ok((rh, p))) => (rh.result, p),
        _ => {
            st.replicas.forget_client(addr);
            (SdResult::NetworkError, Bytes::new())
        }
    }
}

/// Stores a recovered object durably (replacing any local copy).
async fn store_object(st: &Node, oid: u64, data: Bytes) -> Result<(), SdResult> {
    let s = st.store.clone();
    let r = tokio::task::spawn_blocking(move || {
        if s.exists(oid) && s.size(oid).ok() != Some(data.len() as u64) {
            s.remove(oid)?;
        }
        s.create_and_write(oid, data.len(), 0, &data, None)
    })
    .await;
    match r {
        Ok(Ok(())) => {
            if Oid(oid).is_inode() {
                st.after_inode_write(Oid(oid), 0);
            }
            Ok(())
        }
        Ok(Err(e)) => Err(e.result()),
        Err(_) => Err(SdResult::SystemError),
    }
}

async fn local_exists(st: &Node, oid: u64) -> bool {
    let s = st.store.clone();
    tokio::task::spawn_blocking(move || s.exists(oid))
        .await
        .unwrap_or(false)
}

/// Recovers `oid` for epoch `e` under its exclusive lock (see the module
/// doc for the answers and the decision).
async fn recover_one(st: &Node, oid: u64, e: u32, copies: u8, wildcard: bool) -> Outcome {
    let rec = &st.recovery;
    let gen = rec.format_gen();
    let _w = rec.lock_of(oid).write_owned().await;
    if !rec.current(e) {
        return Outcome::Superseded;
    }
    if rec.is_settled(oid) || Recovery::chain_authority(st, &rec.inner(), oid, copies) {
        return Outcome::Done;
    }
    let Some(v) = st.replicas.view().filter(|v| v.epoch == e) else {
        return Outcome::Superseded;
    };
    let Some(me) = v.me else {
        return Outcome::Done;
    };
    let hs = holders(st, &v, oid, copies);
    if !hs.contains(&me) {
        return Outcome::Done;
    }
    // Replicas of the new view first, then every other member.
    let order: Vec<usize> = hs
        .iter()
        .copied()
        .chain((0..v.nodes.len()).filter(|n| !hs.contains(n)))
        .filter(|&n| n != me)
        .collect();
    let have = local_exists(st, oid).await;
    let mut absent = false;
    let mut failed = false;
    let mut unsettled = Vec::new();
    for &n in &order {
        let addr = v.nodes[n].socket_addr();
        let req = Request::Peer(PeerOp::ReadPeer(ObjReq {
            oid: Oid(oid),
            tgt_epoch: e,
            ..ObjReq::default()
        }));
        let (r, data) = ask(st, addr, req, ReqFlags::RECOVERY, e, MAX_OBJECT).await;
        match r {
            SdResult::Success => {
                if rec.format_gen() != gen {
                    return Outcome::Superseded;
                }
                if let Err(c) = store_object(st, oid, data).await {
                    tracing::warn!(oid = format_args!("{oid:016x}"), result = ?c, "storing a recovered object failed");
                    return Outcome::NotReady;
                }
                tracing::debug!(oid = format_args!("{oid:016x}"), from = %addr, epoch = e, "object recovered");
                rec.settle(e, oid);
                return Outcome::Done;
            }
            SdResult::NoObj => absent = true,
            SdResult::StaleObj => unsettled.push(addr),
            SdResult::OldNodeVer => return Outcome::Superseded,
            SdResult::NotFound => {}
            // Unreachable, or failed: it may hold the only good copy, so do
            // not conclude without it (until patience runs out).
            _ => failed = true,
        }
    }
    if failed && !absent && !wildcard {
        return Outcome::NotReady;
    }
    if absent {
        // Removed (or never created) while this copy was away.
        if have {
            let s = st.store.clone();
            let _ = tokio::task::spawn_blocking(move || s.remove(oid)).await;
            if Oid(oid).is_inode() {
                st.after_inode_write(Oid(oid), 0);
            }
        }
        rec.settle(e, oid);
        return Outcome::Done;
    }
    if !unsettled.is_empty() && !have {
        if !wildcard {
            return Outcome::NotReady;
        }
        for addr in unsettled {
            let req = Request::Peer(PeerOp::ReadPeer(ObjReq {
                oid: Oid(oid),
                tgt_epoch: e,
                ..ObjReq::default()
            }));
            let flags = ReqFlags::RECOVERY | ReqFlags::WILDCARD;
            let (r, data) = ask(st, addr, req, flags, e, MAX_OBJECT).await;
            if rec.format_gen() != gen {
                return Outcome::Superseded;
            }
            if r == SdResult::Success && store_object(st, oid, data).await.is_ok() {
                rec.settle(e, oid);
                return Outcome::Done;
            }
        }
        return Outcome::NotReady;
    }
    if !unsettled.is_empty() && !wildcard {
        return Outcome::NotReady;
    }
    // No member has an authoritative copy: the local one (if any) is the
    // best there is.
    rec.settle(e, oid);
    Outcome::Done
}

/// What a READ_PEER with the RECOVERY flag answers a recovering member:
/// the whole object (at most `max` bytes) if this node's copy is
/// authoritative for epoch `t`, else the result code saying why not
/// (`wildcard`: any local copy will do).
///
/// # Errors
///
/// The sheepdog result to answer: OLD_NODE_VER / NEW_NODE_VER (epoch),
/// NO_OBJ (authoritatively absent), STALE_OBJ (a copy not settled yet),
/// NOT_FOUND (nothing known), or the store's failure.
pub async fn serve_read(
    st: &Node,
    a: ObjReq,
    t: u32,
    max: u64,
    wildcard: bool,
) -> Result<Vec<u8>, SdResult> {
    st.check_epoch(t).await?;
    let oid = a.oid.0;
    let holder = st
        .replicas
        .view()
        .is_some_and(|v| is_holder(st, &v, oid, a.copies));
    let (auth, complete) = {
        let g = st.recovery.inner();
        let auth = g.epoch == t
            && match g.settled.get(&oid) {
                Some(&v) => v >= t,
                None => holder && Recovery::chain_authority(st, &g, oid, a.copies),
            };
        (auth, g.complete)
    };
    let read_all = || {
        let s = st.store.clone();
        tokio::task::spawn_blocking(move || -> Result<Vec<u8>, crate::store::StoreError> {
            let n = s.size(oid)?;
            if n > max {
                // Never hand out a truncated object.
                return Err(crate::store::StoreError::OutOfRange {
                    oid,
                    offset: 0,
                    len: n,
                    size: max,
                });
            }
            s.read(oid, 0, n as usize)
        })
    };
    if auth {
        // Let accesses of the previous epoch still in flight finish.
        let _w = st.recovery.lock_of(oid).write_owned().await;
        if st.epoch() != t {
            return Err(SdResult::OldNodeVer);
        }
        return match read_all().await {
            Ok(Ok(d)) => Ok(d),
            Ok(Err(crate::store::StoreError::NoObj(_))) => Err(SdResult::NoObj),
            Ok(Err(e)) => Err(e.result()),
            Err(_) => Err(SdResult::SystemError),
        };
    }
    let have = local_exists(st, oid).await;
    if have && wildcard {
        return match read_all().await {
            Ok(Ok(d)) => Ok(d),
            _ => Err(SdResult::StaleObj),
        };
    }
    if have || (holder && !complete) {
        Err(SdResult::StaleObj)
    } else {
        Err(SdResult::NotFound)
    }
}

/// GET_OBJ_LIST of `addr` at epoch `e` (`None` on failure).
async fn obj_list(st: &Node, addr: SocketAddr, e: u32) -> Option<Vec<u64>> {
    let req = Request::Peer(PeerOp::GetObjList(ObjReq::default()));
    let (r, p) = ask(st, addr, req, ReqFlags::EMPTY, e, MAX_OBJECT).await;
    match r {
        SdResult::Success => sdwire::from_slice::<OidList>(&p, 0)
            .ok()
            .map(|l| l.oids.iter().map(|o| o.0).collect()),
        SdResult::WaitForFormat => Some(Vec::new()),
        _ => None,
    }
}

/// A member's STAT_RECOVERY: whether it finished the work list of `e`.
async fn member_done(st: &Node, addr: SocketAddr, e: u32) -> bool {
    let c = match st.replicas.client(addr).await {
        Ok(c) => c,
        Err(_) => return false,
    };
    let h = Request::Admin(AdminOp::StatRecovery(NoArgs::default())).to_header(ReqFlags::EMPTY, 24);
    match tokio::time::timeout(PEER_TIMEOUT, c.raw(h, Bytes::new())).await {
        Ok(Ok((rh, p))) if rh.result == SdResult::Success && rh.epoch == e => {
            sdwire::from_slice::<RecoveryState>(&p, 0)
                .is_ok_and(|r| r.in_recovery == 0 || r.state == RW_NOTIFY_COMPLETION)
        }
        Ok(Ok(_)) => false,
        _ => {
            st.replicas.forget_client(addr);
            false
        }
    }
}

/// How many epochs before the current one a (re)joining node copies from
/// its peers when it did not log them itself.
const EPOCH_BACKFILL: u32 = 256;

/// Logs the node lists of the recent epochs this node did not live through
/// (it was down, or not a member yet), as a member logged them: GET_EPOCH
/// and STAT_CLUSTER then answer for them too.
async fn backfill_epochs(st: &Node, v: &ClusterView) {
    let missing: Vec<u32> = {
        let c = lock(&st.cluster);
        (v.epoch.saturating_sub(EPOCH_BACKFILL).max(1)..v.epoch)
            .filter(|&x| c.nodes_of_epoch(x).is_none())
            .collect()
    };
    for x in missing {
        for (i, n) in v.nodes.iter().enumerate() {
            if v.me == Some(i) {
                continue;
            }
            let req = Request::Peer(PeerOp::GetEpoch(ObjReq {
                tgt_epoch: x,
                ..ObjReq::default()
            }));
            let len =
                (crate::proto::SdNode::SIZE * crate::proto::cluster_info::SD_MAX_NODES) as u32;
            let (r, p) = ask(st, n.socket_addr(), req, ReqFlags::EMPTY, v.epoch, len).await;
            if r != SdResult::Success {
                continue;
            }
            let Ok(l) = sdwire::from_slice::<crate::proto::payload::NodeList>(&p, 0) else {
                continue;
            };
            if l.nodes.is_empty() {
                continue;
            }
            if let Err(e) = lock(&st.cluster).record_epoch(x, &l.nodes) {
                tracing::warn!(error = %e, epoch = x, "logging a peer's epoch failed");
            }
            break;
        }
    }
}

/// A never formatted store joining a formatted cluster takes the cluster's
/// format from a member.
async fn adopt_format(st: &Node, v: &ClusterView) {
    for (i, n) in v.nodes.iter().enumerate() {
        if v.me == Some(i) {
            continue;
        }
        let req = Request::Admin(AdminOp::ClusterInfo(NoArgs::default()));
        let (r, p) = ask(
            st,
            n.socket_addr(),
            req,
            ReqFlags::EMPTY,
            v.epoch,
            ClusterInfo::SIZE as u32,
        )
        .await;
        if r != SdResult::Success {
            continue;
        }
        let Ok(ci) = sdwire::from_slice::<ClusterInfo>(&p, 0) else {
            continue;
        };
        let h = ci.header;
        if h.status != SdStatus::Ok || h.ctime == 0 {
            continue;
        }
        let f = Format {
            ctime: h.ctime,
            flags: h.flags.bits(),
            copies: h.nr_copies,
            copy_policy: h.copy_policy,
            block_size_shift: h.block_size_shift,
            store: String::from_utf8_lossy(crate::proto::cluster_info::c_str(&h.default_store))
                .into_owned(),
        };
        let mut c = lock(&st.cluster);
        if c.format.is_some() {
            return;
        }
        let copies = f.copies;
        match c
            .make_fs(f)
            .and_then(|()| c.record_epoch(v.epoch, &v.nodes))
        {
            Ok(()) => {
                st.replicas
                    .fan
                    .default_copies
                    .store(copies, std::sync::atomic::Ordering::Relaxed);
                tracing::info!(from = %n.socket_addr(), "adopted the cluster's format");
            }
            Err(e) => tracing::error!(error = %e, "adopting the cluster's format failed"),
        }
        return;
    }
}

/// Recovers `list` for epoch `e`, retrying objects whose sources are not
/// ready; `false` when superseded.
async fn recover_list(st: &Node, e: u32, mut todo: Vec<u64>) -> bool {
    let rec = &st.recovery;
    let mut round = 0;
    while !todo.is_empty() {
        let mut again = Vec::new();
        for oid in todo {
            match recover_one(st, oid, e, 0, round >= PATIENT_ROUNDS).await {
                Outcome::Superseded => return false,
                Outcome::NotReady => again.push(oid),
                Outcome::Done => {
                    let mut g = rec.inner();
                    if g.epoch != e {
                        return false;
                    }
                    g.finished += 1;
                }
            }
        }
        todo = again;
        round += 1;
        if !todo.is_empty() {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    true
}

/// Waits (at most 30 s) until the VDI metadata of the current epoch is
/// settled on this node, so that VDI lookups and vid allocation never act
/// on a rejoined node's stale VDI table.
pub async fn wait_metadata(st: &Node) {
    if !st.clustered() {
        return;
    }
    let settled = async {
        loop {
            // Registered before the check, so a change right after it
            // still wakes this waiter.
            let woken = st.recovery.meta_settled.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            {
                let g = st.recovery.inner();
                if g.meta_epoch >= g.epoch {
                    return;
                }
            }
            woken.await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(30), settled)
        .await
        .is_err()
    {
        tracing::warn!("VDI metadata not recovered after 30 s, going on");
    }
}

/// The recovery task of epoch `e`.
async fn run(st: &Arc<Node>, e: u32) {
    let rec = &st.recovery;
    let Some(v) = st.replicas.view().filter(|v| v.epoch == e) else {
        return;
    };
    let t0 = Instant::now();
    let gen = rec.format_gen();
    let current = || rec.current(e) && rec.format_gen() == gen;
    if st.format().is_none() {
        adopt_format(st, &v).await;
    }
    if st.format().is_some()
        && !rec
            .backfilled
            .swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        backfill_epochs(st, &v).await;
    }
    if st.format().is_none() {
        // Nothing stored anywhere yet; MAKE_FS settles everything.
        let mut g = rec.inner();
        if g.epoch == e {
            Recovery::mark_complete(&mut g);
            g.running = false;
        }
        drop(g);
        rec.meta_settled.notify_waiters();
        return;
    }
    // 1. Everything the members store.
    let mut all: HashSet<u64> = HashSet::new();
    for (i, n) in v.nodes.iter().enumerate() {
        if v.me == Some(i) {
            let s = st.store.clone();
            if let Ok(Ok(l)) = tokio::task::spawn_blocking(move || s.list()).await {
                all.extend(l);
            }
            continue;
        }
        // Without every member's list this node cannot claim to have
        // everything it must hold (which makes it an authoritative source,
        // even of absences): keep asking until the member answers or the
        // membership drops it (a new epoch supersedes this task).
        let mut tries = 0u32;
        loop {
            if !current() {
                return;
            }
            if let Some(l) = obj_list(st, n.socket_addr(), e).await {
                all.extend(l);
                break;
            }
            tries += 1;
            if tries.is_multiple_of(20) {
                tracing::warn!(node = %n.socket_addr(), epoch = e, tries, "no object list from member yet");
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    // 2. The work list: what this node must hold and has not settled,
    // VDI metadata first (data object sizes depend on it).
    let mut todo: Vec<u64> = all
        .into_iter()
        .filter(|&oid| {
            is_holder(st, &v, oid, 0)
                && !rec.is_settled(oid)
                && !Recovery::chain_authority(st, &rec.inner(), oid, 0)
        })
        .collect();
    todo.sort_unstable_by_key(|&oid| (Oid(oid).is_data(), oid));
    {
        let mut g = rec.inner();
        if g.epoch != e {
            return;
        }
        g.total = todo.len() as u64;
        g.finished = 0;
        g.state = RW_RECOVER_OBJ;
    }
    tracing::info!(epoch = e, objects = todo.len(), "recovery started");
    // VDI metadata first: VDI ops wait for it (see [`wait_metadata`]).
    let data = todo.split_off(todo.partition_point(|&oid| !Oid(oid).is_data()));
    for (phase, list) in [todo, data].into_iter().enumerate() {
        if !recover_list(st, e, list).await {
            return;
        }
        if phase == 0 {
            let mut g = rec.inner();
            if g.epoch != e {
                return;
            }
            g.meta_epoch = e;
            drop(g);
            rec.meta_settled.notify_waiters();
        }
    }
    {
        let mut g = rec.inner();
        if g.epoch != e {
            return;
        }
        Recovery::mark_complete(&mut g);
        g.state = RW_NOTIFY_COMPLETION;
    }
    rec.meta_settled.notify_waiters();
    tracing::info!(
        epoch = e,
        ms = t0.elapsed().as_millis() as u64,
        "objects recovered, waiting for the other members"
    );
    // 3. Drop what this node no longer holds, once every member has what it
    // must hold.
    for (i, n) in v.nodes.iter().enumerate() {
        if v.me == Some(i) {
            continue;
        }
        while !member_done(st, n.socket_addr(), e).await {
            if !current() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    let s = st.store.clone();
    let local = tokio::task::spawn_blocking(move || s.list())
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or_default();
    let mut removed = 0usize;
    for oid in local {
        if is_holder(st, &v, oid, 0) {
            continue;
        }
        let _w = rec.lock_of(oid).write_owned().await;
        if !current() {
            return;
        }
        let s = st.store.clone();
        if let Ok(Ok(())) = tokio::task::spawn_blocking(move || s.remove(oid)).await {
            removed += 1;
        }
        rec.inner().settled.remove(&oid);
        if Oid(oid).is_inode() {
            st.after_inode_write(Oid(oid), 0);
        }
    }
    let mut g = rec.inner();
    if g.epoch == e {
        g.running = false;
    }
    drop(g);
    tracing::info!(
        epoch = e,
        removed,
        ms = t0.elapsed().as_millis() as u64,
        "recovery done"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::proto::SdNode;

    fn node(port: u16) -> SdNode {
        SdNode::new(format!("127.0.0.1:{port}").parse().unwrap(), 128, 1 << 30)
    }

    #[test]
    fn authority_follows_placement_across_views() {
        let dir = tempfile::tempdir().unwrap();
        let me = node(7000);
        let st = Node::open(Config::new(dir.path(), me.socket_addr())).unwrap();
        st.replicas
            .fan
            .default_copies
            .store(2, std::sync::atomic::Ordering::Relaxed);
        let three = [me, node(7001), node(7002)];
        let four = [me, node(7001), node(7002), node(7003)];
        let v1 = ClusterView::new(&three, 1, me.socket_addr());
        let v2 = ClusterView::new(&four, 2, me.socket_addr());
        let v3 = ClusterView::new(&three, 3, me.socket_addr());
        let rec = &st.recovery;
        assert!(rec.on_view(&st, &v1));
        assert!(
            !rec.on_view(&st, &v1),
            "the same epoch twice starts nothing"
        );
        assert_eq!(rec.state().in_recovery, 1);
        // An object this node holds in both views, and one it gives away.
        let oids: Vec<u64> = (0..4096).map(|i| Oid::data(7, i).0).collect();
        let kept = *oids
            .iter()
            .find(|&&o| is_holder(&st, &v1, o, 0) && is_holder(&st, &v2, o, 0))
            .unwrap();
        let moved = *oids
            .iter()
            .find(|&&o| is_holder(&st, &v1, o, 0) && !is_holder(&st, &v2, o, 0))
            .unwrap();
        rec.settle(1, kept);
        rec.settle(1, moved);
        rec.settle(0, Oid::data(7, 5000).0); // an old epoch settles nothing
        assert!(!rec.is_settled(Oid::data(7, 5000).0));
        assert!(rec.on_view(&st, &v2));
        assert_eq!(rec.inner().settled.get(&kept), Some(&CURRENT));
        // Given away: a recovery source for epoch 2 only.
        assert_eq!(rec.inner().settled.get(&moved), Some(&2));
        // Held again after missing the writes of epoch 2: must be recovered.
        assert!(rec.on_view(&st, &v3));
        assert_eq!(rec.inner().settled.get(&moved), None);
        assert_eq!(rec.inner().settled.get(&kept), Some(&CURRENT));
        // No epoch completed since the start: no authority without entries.
        let never = *oids
            .iter()
            .find(|&&o| is_holder(&st, &v3, o, 0) && !rec.inner().settled.contains_key(&o))
            .unwrap();
        assert!(!Recovery::chain_authority(&st, &rec.inner(), never, 0));
        rec.formatted();
        assert_eq!(rec.state().in_recovery, 0);
        assert!(rec.inner().settled.is_empty());
        // Completed in v3 and stayed a replica: its absence is authoritative
        // in the next view too; an object it did not hold in v3 is not.
        let other = [me, node(7001), node(7004)];
        let v4 = ClusterView::new(&other, 4, me.socket_addr());
        assert!(rec.on_view(&st, &v4));
        let stayed = *oids
            .iter()
            .find(|&&o| is_holder(&st, &v3, o, 0) && is_holder(&st, &v4, o, 0))
            .unwrap();
        let new = *oids
            .iter()
            .find(|&&o| !is_holder(&st, &v3, o, 0) && is_holder(&st, &v4, o, 0))
            .unwrap();
        assert!(Recovery::chain_authority(&st, &rec.inner(), stayed, 0));
        assert!(!Recovery::chain_authority(&st, &rec.inner(), new, 0));
        // VDI metadata is complete at once for such a node.
        assert_eq!(rec.inner().meta_epoch, 4);
    }
}
