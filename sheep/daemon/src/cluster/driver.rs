//! The cluster driver layer (docs/sheepdog-facts.md §12): membership and one total order
//! of cluster events, delivered identically to every member.
//!
//! (About 850 lines: the record types, the fold that both drivers share and
//! the log driver running it are kept in one file so the ordering rules
//! below can be read next to the code that applies them.)
//!
//! # Model
//!
//! Both drivers ([`local`](super::local) and [`etcd`](super::etcd)) reduce to
//! an **ordered log of records** that every node reads from the beginning
//! and folds with the same deterministic state machine ([`Machine`]):
//!
//! | record | meaning |
//! |---|---|
//! | `JoinReq(node, inc, msg)` | a node asks to join (its join message) |
//! | `JoinRsp(node, inc, accepted, reply)` | the master's verdict; the first one for a request wins |
//! | `Leave(node, inc)` | graceful leave, or liveness failure declared by the driver |
//! | `Notify(node, inc, msg)` | a broadcast from a member |
//!
//! `inc` is a per-process incarnation number, so a restarted sheep on the
//! same address is a different member (its old incarnation is dropped first).
//!
//! Folding rules:
//! * a `JoinReq` while there are no members and nothing pending founds the
//!   cluster: it is accepted without a verdict (reply empty);
//! * otherwise it is pending until a `JoinRsp`; the **master** (the oldest
//!   member) runs the [`JoinJudge`] and appends the `JoinRsp`. If the master
//!   leaves, the next oldest member answers whatever is still pending;
//! * `Leave` removes a member (or a pending join); `Notify` from a non-member
//!   is dropped. If every member has left, the oldest pending join founds a
//!   new cluster.
//!
//! Since every node folds the same records in the same order, every member
//! sees the same sequence of [`ClusterEvent`]s, joins, leaves and notifies
//! interleaved, sender included.
//!
//! Limitations: the log is never trimmed (each node replays it from the start
//! when it joins), which is fine for the membership churn of a test cluster
//! or a small deployment.

use crate::sync::lock;
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::future::BoxFuture;
use thiserror::Error;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::proto::SdNode;

/// Maximum size of a join or notify message (`SD_MAX_EVENT_BUF_SIZE`).
pub const MAX_EVENT_BUF: usize = 128 * 1024;

/// Errors of the driver layer.
#[derive(Debug, Error)]
pub enum DriverError {
    /// The backing log or service failed.
    #[error("cluster driver I/O: {0}")]
    Io(#[from] std::io::Error),
    /// etcd failed.
    #[error("etcd: {0}")]
    Etcd(String),
    /// Bad `-c` specification.
    #[error("bad cluster driver spec {spec:?}: {why}")]
    Spec {
        /// The spec as given.
        spec: String,
        /// What is wrong with it.
        why: String,
    },
    /// A message exceeds [`MAX_EVENT_BUF`].
    #[error("cluster message of {0} bytes exceeds 128 KiB")]
    TooLarge(usize),
    /// join() before join or notify() after leave.
    #[error("not a member of the cluster")]
    NotMember,
    /// No verdict arrived in time.
    #[error("timed out waiting for the join verdict")]
    JoinTimeout,
}

/// A member's identity in the driver: address, port and incarnation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberId {
    /// `node_id.addr`.
    pub addr: [u8; 16],
    /// `node_id.port`.
    pub port: u16,
    /// Incarnation: distinguishes restarts of a sheep on the same address.
    pub inc: u64,
}

impl MemberId {
    /// The id of `node` in incarnation `inc`.
    pub fn of(node: &SdNode, inc: u64) -> MemberId {
        MemberId {
            addr: node.nid.addr,
            port: node.nid.port,
            inc,
        }
    }

    /// A printable, file-name and etcd-key safe form: `HEXADDR-PORT-INC`.
    pub fn key(&self) -> String {
        format!("{}-{}-{:016x}", hex::encode(self.addr), self.port, self.inc)
    }

    /// Parses [`key`](Self::key).
    pub fn parse_key(s: &str) -> Option<MemberId> {
        let mut it = s.splitn(3, '-');
        let addr: [u8; 16] = hex::decode(it.next()?).ok()?.try_into().ok()?;
        let port = it.next()?.parse().ok()?;
        let inc = u64::from_str_radix(it.next()?, 16).ok()?;
        Some(MemberId { addr, port, inc })
    }

    fn same_node(&self, o: &MemberId) -> bool {
        self.addr == o.addr && self.port == o.port
    }
}

/// A fresh incarnation number (time and pid mixed).
pub fn new_incarnation() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let s = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let x = t ^ (u64::from(std::process::id()) << 40) ^ s.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    // splitmix finalizer
    let x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// One entry of the ordered log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A node asks to join.
    JoinReq {
        /// The joiner.
        node: SdNode,
        /// Its incarnation.
        inc: u64,
        /// The join message.
        msg: Bytes,
    },
    /// The master's verdict on a join.
    JoinRsp {
        /// The joiner.
        id: MemberId,
        /// Accepted or refused.
        accepted: bool,
        /// The reply message.
        msg: Bytes,
    },
    /// A member (or pending joiner) leaves.
    Leave {
        /// Who.
        id: MemberId,
    },
    /// A broadcast.
    Notify {
        /// The sender.
        id: MemberId,
        /// The message.
        msg: Bytes,
    },
}

const T_JOIN_REQ: u8 = 1;
const T_JOIN_RSP: u8 = 2;
const T_LEAVE: u8 = 3;
const T_NOTIFY: u8 = 4;

impl Record {
    /// Encodes the record.
    ///
    /// # Format
    /// `type u8`, then `JoinReq`: sd_node (80 B), inc u64, msg_len u32, msg;
    /// others: addr (16 B), port u16, inc u64, then `JoinRsp`: accepted u8,
    /// msg_len u32, msg; `Notify`: msg_len u32, msg. Little-endian.
    pub fn encode(&self) -> Vec<u8> {
        let mut b = BytesMut::new();
        let id = |b: &mut BytesMut, id: &MemberId| {
            b.put_slice(&id.addr);
            b.put_u16_le(id.port);
            b.put_u64_le(id.inc);
        };
        match self {
            Record::JoinReq { node, inc, msg } => {
                b.put_u8(T_JOIN_REQ);
                b.put_slice(&sdwire::to_vec(node, 0).expect("sd_node encodes"));
                b.put_u64_le(*inc);
                b.put_u32_le(msg.len() as u32);
                b.put_slice(msg);
            }
            Record::JoinRsp {
                id: i,
                accepted,
                msg,
            } => {
                b.put_u8(T_JOIN_RSP);
                id(&mut b, i);
                b.put_u8(u8::from(*accepted));
                b.put_u32_le(msg.len() as u32);
                b.put_slice(msg);
            }
            Record::Leave { id: i } => {
                b.put_u8(T_LEAVE);
                id(&mut b, i);
            }
            Record::Notify { id: i, msg } => {
                b.put_u8(T_NOTIFY);
                id(&mut b, i);
                b.put_u32_le(msg.len() as u32);
                b.put_slice(msg);
            }
        }
        b.to_vec()
    }

    /// Decodes a record; `None` if malformed.
    pub fn decode(mut b: &[u8]) -> Option<Record> {
        fn need(b: &[u8], n: usize) -> Option<()> {
            (b.len() >= n).then_some(())
        }
        fn id(b: &mut &[u8]) -> Option<MemberId> {
            need(b, 26)?;
            let mut addr = [0u8; 16];
            b.copy_to_slice(&mut addr);
            Some(MemberId {
                addr,
                port: b.get_u16_le(),
                inc: b.get_u64_le(),
            })
        }
        fn msg(b: &mut &[u8]) -> Option<Bytes> {
            need(b, 4)?;
            let n = b.get_u32_le() as usize;
            need(b, n)?;
            let m = Bytes::copy_from_slice(&b[..n]);
            b.advance(n);
            Some(m)
        }
        need(b, 1)?;
        let r = match b.get_u8() {
            T_JOIN_REQ => {
                need(b, SdNode::SIZE + 8)?;
                let node = sdwire::from_slice::<SdNode>(&b[..SdNode::SIZE], 0).ok()?;
                b.advance(SdNode::SIZE);
                let inc = b.get_u64_le();
                Record::JoinReq {
                    node,
                    inc,
                    msg: msg(&mut b)?,
                }
            }
            T_JOIN_RSP => {
                let i = id(&mut b)?;
                need(b, 1)?;
                let accepted = b.get_u8() != 0;
                Record::JoinRsp {
                    id: i,
                    accepted,
                    msg: msg(&mut b)?,
                }
            }
            T_LEAVE => Record::Leave { id: id(&mut b)? },
            T_NOTIFY => {
                let i = id(&mut b)?;
                Record::Notify {
                    id: i,
                    msg: msg(&mut b)?,
                }
            }
            _ => return None,
        };
        b.is_empty().then_some(r)
    }
}

/// What a member sees, in the cluster's total order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterEvent {
    /// `node` joined; `members` is the membership after the join (oldest first).
    Join {
        /// The new member.
        node: SdNode,
        /// Its join message.
        msg: Bytes,
        /// The master's reply (empty for the founder).
        reply: Bytes,
        /// Members after the join.
        members: Vec<SdNode>,
        /// Membership epoch after the join: the number of membership changes
        /// since the cluster was founded, the same on every member.
        epoch: u32,
    },
    /// `node` left (gracefully or declared dead); if it is this node itself,
    /// this member has been evicted and receives nothing more.
    Leave {
        /// The member that left.
        node: SdNode,
        /// Members after the leave.
        members: Vec<SdNode>,
        /// Membership epoch after the leave.
        epoch: u32,
    },
    /// A broadcast from a member (the sender sees its own messages too).
    Notify {
        /// The sender.
        sender: SdNode,
        /// The message.
        msg: Bytes,
    },
}

/// Decides a join on the master: gets the joiner and its join message,
/// returns accept/refuse and the reply message.
pub type JoinJudge = Arc<dyn Fn(&SdNode, &[u8]) -> (bool, Bytes) + Send + Sync>;

/// A judge that accepts everybody with an empty reply.
pub fn accept_all() -> JoinJudge {
    Arc::new(|_, _| (true, Bytes::new()))
}

/// The result of [`ClusterDriver::join`].
#[derive(Debug)]
pub enum JoinOutcome {
    /// This node is a member.
    Accepted {
        /// The master's reply (empty: this node founded the cluster).
        reply: Bytes,
        /// Members including this node (oldest first).
        members: Vec<SdNode>,
        /// Every later event in the total order, starting with this node's
        /// own `Join`.
        events: mpsc::UnboundedReceiver<ClusterEvent>,
    },
    /// The master refused this node; nobody recorded it as a member.
    Refused {
        /// The master's reply, explaining why.
        reply: Bytes,
    },
}

/// A cluster driver: membership with liveness detection and a total order of
/// join, leave and notify events (docs/sheepdog-facts.md §12).
///
/// Dropping a driver without [`leave`](Self::leave) behaves like a crash:
/// its background tasks stop, and the other members see it leave when its
/// liveness runs out.
pub trait ClusterDriver: Send + Sync {
    /// Driver name (`local`, `etcd`).
    fn name(&self) -> &'static str;

    /// Joins as `me` with join message `msg`. `judge` decides later joins
    /// while this node is the master.
    ///
    /// # Errors
    ///
    /// Backend failures, [`DriverError::JoinTimeout`].
    fn join(
        &self,
        me: SdNode,
        msg: Bytes,
        judge: JoinJudge,
    ) -> BoxFuture<'_, Result<JoinOutcome, DriverError>>;

    /// Broadcasts `msg` to every member, in the total order.
    ///
    /// # Errors
    ///
    /// [`DriverError::NotMember`], backend failures.
    fn notify(&self, msg: Bytes) -> BoxFuture<'_, Result<(), DriverError>>;

    /// Leaves the cluster gracefully.
    ///
    /// # Errors
    ///
    /// Backend failures.
    fn leave(&self) -> BoxFuture<'_, Result<(), DriverError>>;

    /// The current members (oldest first), as folded so far.
    fn members(&self) -> Vec<SdNode>;
}

/// What a driver selects: see [`parse_driver_spec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverSpec {
    /// `local[:DIR]`: shared directory on one machine (`None` = default).
    Local(Option<std::path::PathBuf>),
    /// `etcd:HOST:PORT[,HOST:PORT...][/CLUSTER]`.
    Etcd {
        /// Endpoints, `host:port`.
        endpoints: Vec<String>,
        /// Cluster name (key prefix `/sheep/<cluster>/`), `default` if absent.
        cluster: String,
    },
}

/// Parses `-c local[:DIR]` or `-c etcd:HOST:PORT[,HOST:PORT...][/CLUSTER]`.
///
/// # Errors
///
/// [`DriverError::Spec`] for unknown drivers and malformed endpoint lists.
pub fn parse_driver_spec(s: &str) -> Result<DriverSpec, DriverError> {
    let bad = |why: &str| DriverError::Spec {
        spec: s.to_string(),
        why: why.to_string(),
    };
    let (name, rest) = match s.split_once(':') {
        Some((n, r)) => (n, Some(r)),
        None => (s, None),
    };
    match name {
        "local" => Ok(DriverSpec::Local(
            rest.filter(|r| !r.is_empty()).map(std::path::PathBuf::from),
        )),
        "etcd" => {
            let rest = rest.filter(|r| !r.is_empty()).ok_or_else(|| {
                bad("etcd needs endpoints: etcd:HOST:PORT[,HOST:PORT...][/CLUSTER]")
            })?;
            let (eps, cluster) = match rest.split_once('/') {
                Some((e, c)) if !c.is_empty() && !c.contains('/') => (e, c.to_string()),
                Some(_) => return Err(bad("bad cluster name after '/'")),
                None => (rest, "default".to_string()),
            };
            let mut endpoints = Vec::new();
            for ep in eps.split(',') {
                let (host, port) = ep
                    .rsplit_once(':')
                    .ok_or_else(|| bad("endpoint without :PORT"))?;
                if host.is_empty() || port.parse::<u16>().is_err() {
                    return Err(bad("endpoint must be HOST:PORT"));
                }
                endpoints.push(ep.to_string());
            }
            Ok(DriverSpec::Etcd { endpoints, cluster })
        }
        _ => Err(bad("unknown driver (expected local or etcd)")),
    }
}

/// Output of folding one record.
#[derive(Debug, Default)]
pub struct Fold {
    /// Events for this node's stream (only while it is a member).
    pub events: Vec<ClusterEvent>,
    /// This node's own join verdict, when folded: (accepted, reply).
    pub verdict: Option<(bool, Bytes)>,
}

/// The deterministic state machine every node runs over the log.
#[derive(Debug, Default)]
pub struct Machine {
    members: Vec<(MemberId, SdNode)>,
    pending: Vec<(MemberId, SdNode, Bytes)>,
    me: Option<MemberId>,
    /// This node is a member (its join was folded and it has not left).
    joined: bool,
    /// Membership changes folded since the log began.
    epoch: u32,
}

impl Machine {
    /// A machine for the node `me` (`None`: observer).
    pub fn new(me: Option<MemberId>) -> Machine {
        Machine {
            me,
            ..Machine::default()
        }
    }

    /// Current members, oldest first.
    pub fn members(&self) -> Vec<SdNode> {
        self.members.iter().map(|m| m.1).collect()
    }

    /// Current member ids, oldest first.
    pub fn member_ids(&self) -> Vec<MemberId> {
        self.members.iter().map(|m| m.0).collect()
    }

    /// Pending joins, oldest first.
    pub fn pending(&self) -> impl Iterator<Item = (&MemberId, &SdNode, &Bytes)> {
        self.pending.iter().map(|(i, n, m)| (i, n, m))
    }

    /// Whether this node is the master (oldest member).
    pub fn is_master(&self) -> bool {
        self.joined && self.members.first().map(|m| m.0) == self.me
    }

    /// The membership epoch: membership changes since the cluster was founded.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Whether this node is a member.
    pub fn joined(&self) -> bool {
        self.joined
    }

    fn accept(&mut self, id: MemberId, node: SdNode, msg: Bytes, reply: Bytes, out: &mut Fold) {
        self.members.push((id, node));
        self.epoch += 1;
        if Some(id) == self.me {
            self.joined = true;
            out.verdict = Some((true, reply.clone()));
        }
        if self.joined {
            out.events.push(ClusterEvent::Join {
                node,
                msg,
                reply,
                members: self.members(),
                epoch: self.epoch,
            });
        }
    }

    fn remove(&mut self, id: &MemberId, out: &mut Fold) {
        self.pending.retain(|p| p.0 != *id);
        if let Some(pos) = self.members.iter().position(|m| m.0 == *id) {
            let (_, node) = self.members.remove(pos);
            self.epoch += 1;
            if self.joined {
                out.events.push(ClusterEvent::Leave {
                    node,
                    members: self.members(),
                    epoch: self.epoch,
                });
            }
            if Some(*id) == self.me {
                self.joined = false;
            }
        }
    }

    /// Folds one record.
    pub fn apply(&mut self, rec: Record) -> Fold {
        let mut out = Fold::default();
        match rec {
            Record::JoinReq { node, inc, msg } => {
                let id = MemberId::of(&node, inc);
                if self.members.iter().any(|m| m.0 == id) || self.pending.iter().any(|p| p.0 == id)
                {
                    return out; // duplicate
                }
                // A restarted node replaces its old incarnation.
                let old: Vec<MemberId> = self
                    .members
                    .iter()
                    .map(|m| m.0)
                    .chain(self.pending.iter().map(|p| p.0))
                    .filter(|o| o.same_node(&id))
                    .collect();
                for o in old {
                    self.remove(&o, &mut out);
                }
                self.pending.push((id, node, msg));
            }
            Record::JoinRsp { id, accepted, msg } => {
                if let Some(pos) = self.pending.iter().position(|p| p.0 == id) {
                    let (id, node, jmsg) = self.pending.remove(pos);
                    if accepted {
                        self.accept(id, node, jmsg, msg, &mut out);
                    } else if Some(id) == self.me {
                        out.verdict = Some((false, msg));
                    }
                }
            }
            Record::Leave { id } => self.remove(&id, &mut out),
            Record::Notify { id, msg } => {
                if let Some(m) = self.members.iter().find(|m| m.0 == id) {
                    if self.joined {
                        out.events.push(ClusterEvent::Notify { sender: m.1, msg });
                    }
                }
            }
        }
        // Founder rule: with no member left, the oldest pending join founds
        // the cluster without a verdict.
        if self.members.is_empty() && !self.pending.is_empty() {
            let (id, node, msg) = self.pending.remove(0);
            self.accept(id, node, msg, Bytes::new(), &mut out);
        }
        out
    }
}

/// The storage a log-based driver runs on.
pub(crate) trait LogBackend: Send + Sync + 'static {
    /// Publishes the join request `rec` and starts liveness for `me`.
    fn register(&self, me: MemberId, rec: Record) -> BoxFuture<'_, Result<(), DriverError>>;
    /// Appends a record to the total order.
    fn append(&self, rec: Record) -> BoxFuture<'_, Result<(), DriverError>>;
    /// Stops liveness and makes a `Leave` for `me` appear in the log.
    fn unregister(&self, me: MemberId) -> BoxFuture<'_, Result<(), DriverError>>;
    /// Delivers every record from the start of the log, in order, forever
    /// (reconnecting as needed).
    fn tail(self: Arc<Self>, tx: mpsc::UnboundedSender<Record>) -> BoxFuture<'static, ()>;
    /// Among `ids`, the ones whose liveness ran out. Only drivers whose log
    /// does not record liveness itself return anything.
    fn dead(&self, ids: &[MemberId]) -> Vec<MemberId>;
    /// Stops background tasks without leaving (crash).
    fn stop(&self);
}

#[derive(Default)]
struct Shared {
    members: Vec<SdNode>,
    me: Option<MemberId>,
    tasks: Vec<JoinHandle<()>>,
}

/// A [`ClusterDriver`] over a [`LogBackend`].
pub(crate) struct LogDriver<B: LogBackend> {
    name: &'static str,
    backend: Arc<B>,
    shared: Arc<Mutex<Shared>>,
    /// How often the master checks liveness.
    check_every: Duration,
    /// How long join() waits for a verdict.
    join_timeout: Duration,
}

impl<B: LogBackend> LogDriver<B> {
    pub(crate) fn new(name: &'static str, backend: B, check_every: Duration) -> LogDriver<B> {
        LogDriver {
            name,
            backend: Arc::new(backend),
            shared: Arc::new(Mutex::new(Shared::default())),
            check_every,
            join_timeout: Duration::from_secs(60),
        }
    }

    async fn do_join(
        &self,
        me: SdNode,
        msg: Bytes,
        judge: JoinJudge,
    ) -> Result<JoinOutcome, DriverError> {
        if msg.len() > MAX_EVENT_BUF {
            return Err(DriverError::TooLarge(msg.len()));
        }
        let inc = new_incarnation();
        let id = MemberId::of(&me, inc);
        lock(&self.shared).me = Some(id);
        let (rec_tx, rec_rx) = mpsc::unbounded_channel();
        let (ev_tx, ev_rx) = mpsc::unbounded_channel();
        let (verdict_tx, verdict_rx) = oneshot::channel();
        let tail = tokio::spawn(self.backend.clone().tail(rec_tx));
        let fold = tokio::spawn(fold_loop(FoldLoop {
            backend: self.backend.clone(),
            shared: self.shared.clone(),
            machine: Machine::new(Some(id)),
            judge,
            records: rec_rx,
            events: ev_tx,
            verdict: Some(verdict_tx),
            check_every: self.check_every,
        }));
        lock(&self.shared).tasks.extend([tail, fold]);
        self.backend
            .register(id, Record::JoinReq { node: me, inc, msg })
            .await?;
        let verdict = tokio::time::timeout(self.join_timeout, verdict_rx)
            .await
            .map_err(|_| DriverError::JoinTimeout)?
            .map_err(|_| DriverError::JoinTimeout)?;
        match verdict {
            (true, reply) => Ok(JoinOutcome::Accepted {
                reply,
                members: lock(&self.shared).members.clone(),
                events: ev_rx,
            }),
            (false, reply) => {
                let _ = self.backend.unregister(id).await;
                self.stop_tasks();
                lock(&self.shared).me = None;
                Ok(JoinOutcome::Refused { reply })
            }
        }
    }

    fn stop_tasks(&self) {
        self.backend.stop();
        for t in lock(&self.shared).tasks.drain(..) {
            t.abort();
        }
    }
}

impl<B: LogBackend> Drop for LogDriver<B> {
    fn drop(&mut self) {
        self.stop_tasks();
    }
}

impl<B: LogBackend> ClusterDriver for LogDriver<B> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn join(
        &self,
        me: SdNode,
        msg: Bytes,
        judge: JoinJudge,
    ) -> BoxFuture<'_, Result<JoinOutcome, DriverError>> {
        Box::pin(self.do_join(me, msg, judge))
    }

    fn notify(&self, msg: Bytes) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(async move {
            if msg.len() > MAX_EVENT_BUF {
                return Err(DriverError::TooLarge(msg.len()));
            }
            let id = lock(&self.shared).me.ok_or(DriverError::NotMember)?;
            self.backend.append(Record::Notify { id, msg }).await
        })
    }

    fn leave(&self) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(async move {
            let id = lock(&self.shared).me.take();
            let r = match id {
                Some(id) => self.backend.unregister(id).await,
                None => Ok(()),
            };
            self.stop_tasks();
            r
        })
    }

    fn members(&self) -> Vec<SdNode> {
        lock(&self.shared).members.clone()
    }
}

struct FoldLoop<B: LogBackend> {
    backend: Arc<B>,
    shared: Arc<Mutex<Shared>>,
    machine: Machine,
    judge: JoinJudge,
    records: mpsc::UnboundedReceiver<Record>,
    events: mpsc::UnboundedSender<ClusterEvent>,
    verdict: Option<oneshot::Sender<(bool, Bytes)>>,
    check_every: Duration,
}

async fn fold_loop<B: LogBackend>(mut f: FoldLoop<B>) {
    // Joins this node answered, and members it declared dead (with when).
    let mut judged: HashSet<MemberId> = HashSet::new();
    let mut declared: Vec<(MemberId, tokio::time::Instant)> = Vec::new();
    let mut was_joined = false;
    let mut tick = tokio::time::interval(f.check_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            rec = f.records.recv() => {
                let Some(rec) = rec else { return };
                let out = f.machine.apply(rec);
                lock(&f.shared).members = f.machine.members();
                if let Some(v) = out.verdict {
                    if let Some(tx) = f.verdict.take() {
                        let _ = tx.send(v);
                    }
                }
                let evicted = was_joined && !f.machine.joined();
                was_joined = f.machine.joined();
                for ev in out.events {
                    let _ = f.events.send(ev);
                }
                if evicted {
                    // leave() clears `me` before it records the Leave: our
                    // own graceful leave is no eviction.
                    if lock(&f.shared).me.is_some() {
                        tracing::error!("this node was removed from the cluster");
                    } else {
                        tracing::info!("left the cluster");
                    }
                    return;
                }
            }
            _ = tick.tick() => {}
        }
        if !f.machine.joined() {
            continue;
        }
        // Only the master answers joins; a member that becomes master answers
        // whatever is still pending.
        if f.machine.is_master() {
            let todo: Vec<(MemberId, SdNode, Bytes)> = f
                .machine
                .pending()
                .filter(|(id, _, _)| !judged.contains(id))
                .map(|(i, n, m)| (*i, *n, m.clone()))
                .collect();
            for (id, node, msg) in todo {
                let (accepted, reply) = (f.judge)(&node, &msg);
                judged.insert(id);
                if !accepted {
                    tracing::warn!(node = %node.socket_addr(), "refusing join");
                }
                if let Err(e) = f
                    .backend
                    .append(Record::JoinRsp {
                        id,
                        accepted,
                        msg: reply,
                    })
                    .await
                {
                    tracing::error!(error = %e, "appending a join verdict failed");
                    judged.remove(&id);
                }
            }
        }
        // Liveness: the oldest member whose own liveness is fine declares
        // the dead ones. Several nodes may do it at once; extra Leaves are
        // no-ops when folded.
        let mut ids = f.machine.member_ids();
        ids.extend(f.machine.pending().map(|p| *p.0));
        let dead = f.backend.dead(&ids);
        if dead.is_empty() {
            continue;
        }
        let me = lock(&f.shared).me;
        let first_live = f
            .machine
            .member_ids()
            .into_iter()
            .find(|i| !dead.contains(i));
        if first_live.is_none() || first_live != me {
            continue;
        }
        let now = tokio::time::Instant::now();
        declared.retain(|(_, t)| now.duration_since(*t) < Duration::from_secs(5));
        for id in dead {
            if declared.iter().any(|d| d.0 == id) {
                continue;
            }
            tracing::warn!(member = %id.key(), "member silent too long, declaring it left");
            declared.push((id, now));
            if let Err(e) = f.backend.append(Record::Leave { id }).await {
                tracing::error!(error = %e, "appending a leave failed");
            }
        }
    }
}

#[cfg(test)]
mod tests;
