//! The `etcd` cluster driver.
//!
//! # Format
//!
//! Everything lives under `/sheep/<cluster>/`:
//! * `nodes/<member key>`: created by a joining sheep with its `JoinReq`
//!   [`Record`] as value, attached to the node's **lease** (TTL
//!   [`EtcdOptions::ttl`], 10 s by default, kept alive every TTL/3). When the
//!   lease expires (crash) or is revoked (graceful leave), etcd deletes the
//!   key, and the delete is the node's `Leave`;
//! * `events/<incarnation>-<n>`: every other record (join verdicts,
//!   notifies), one key each, never rewritten.
//!
//! Every node runs one watch on the whole prefix from revision 1. etcd
//! delivers the changes in **revision order**, which is the cluster's total
//! order: the creation of a node key is a `JoinReq`, its deletion a
//! `Leave`, an event key a record. When the watch or the keepalive stream
//! breaks (etcd restarted), both are reopened, the watch from the revision
//! after the last one seen, so nothing is missed or seen twice. etcd keeps
//! leases across its own restart (and extends them on leader election), so
//! a restart shorter than the TTL evicts nobody.
//!
//! Requirement: etcd's history must not be compacted below the start of the
//! cluster (etcd does not auto-compact unless told to).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use etcd_client::{Client, ConnectOptions, EventType, PutOptions, WatchOptions};
use futures::future::BoxFuture;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::driver::{ClusterDriver, DriverError, LogBackend, LogDriver, MemberId, Record};

/// Timings of the etcd driver.
#[derive(Debug, Clone, Copy)]
pub struct EtcdOptions {
    /// Lease TTL: a crashed node is seen leaving this long after its last
    /// keepalive.
    pub ttl: Duration,
    /// Connect and request timeout.
    pub timeout: Duration,
}

impl Default for EtcdOptions {
    fn default() -> EtcdOptions {
        EtcdOptions {
            ttl: Duration::from_secs(10),
            timeout: Duration::from_secs(3),
        }
    }
}

fn err(e: etcd_client::Error) -> DriverError {
    DriverError::Etcd(e.to_string())
}

/// Creates an etcd driver for `endpoints` (`host:port`) and cluster name
/// `cluster`. Connecting is lazy: an unreachable etcd makes `join` fail.
///
/// # Errors
///
/// None today; reserved for option validation.
pub fn etcd_driver(
    endpoints: &[String],
    cluster: &str,
    opts: EtcdOptions,
) -> Result<Box<dyn ClusterDriver>, DriverError> {
    let backend = EtcdBackend {
        endpoints: endpoints
            .iter()
            .map(|e| {
                if e.contains("://") {
                    e.clone()
                } else {
                    format!("http://{e}")
                }
            })
            .collect(),
        prefix: format!("/sheep/{cluster}/"),
        opts,
        client: tokio::sync::Mutex::new(None),
        lease: AtomicI64::new(0),
        seq: AtomicU64::new(0),
        inc: AtomicU64::new(0),
        keepalive: Mutex::new(None),
    };
    Ok(Box::new(LogDriver::new(
        "etcd",
        backend,
        Duration::from_secs(1),
    )))
}

struct EtcdBackend {
    endpoints: Vec<String>,
    prefix: String,
    opts: EtcdOptions,
    client: tokio::sync::Mutex<Option<Client>>,
    lease: AtomicI64,
    seq: AtomicU64,
    inc: AtomicU64,
    keepalive: Mutex<Option<JoinHandle<()>>>,
}

impl EtcdBackend {
    async fn client(&self) -> Result<Client, DriverError> {
        let mut g = self.client.lock().await;
        if let Some(c) = g.as_ref() {
            return Ok(c.clone());
        }
        let c = Client::connect(
            &self.endpoints,
            Some(
                ConnectOptions::new()
                    .with_connect_timeout(self.opts.timeout)
                    .with_timeout(self.opts.timeout),
            ),
        )
        .await
        .map_err(err)?;
        *g = Some(c.clone());
        Ok(c)
    }

    /// Forgets the client so the next call reconnects.
    async fn reset(&self) {
        *self.client.lock().await = None;
    }

    fn node_key(&self, id: &MemberId) -> String {
        format!("{}nodes/{}", self.prefix, id.key())
    }

    async fn put_event(&self, rec: Record) -> Result<(), DriverError> {
        let n = self.seq.fetch_add(1, Ordering::Relaxed);
        let key = format!(
            "{}events/{:016x}-{:08}",
            self.prefix,
            self.inc.load(Ordering::Relaxed),
            n
        );
        let value = rec.encode();
        // Retry across a short etcd outage.
        let mut last = None;
        for _ in 0..20 {
            match self.client().await {
                Ok(mut c) => match c.put(key.clone(), value.clone(), None).await {
                    Ok(_) => return Ok(()),
                    Err(e) => last = Some(err(e)),
                },
                Err(e) => last = Some(e),
            }
            self.reset().await;
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Err(last.unwrap_or_else(|| DriverError::Etcd("put failed".into())))
    }

    /// Watches the prefix from `from`; returns the next revision to watch
    /// from when the stream ends or fails.
    async fn watch_once(
        &self,
        from: i64,
        tx: &mpsc::UnboundedSender<Record>,
    ) -> Result<i64, (i64, DriverError)> {
        let mut next = from;
        let mut c = self.client().await.map_err(|e| (next, e))?;
        let mut stream = c
            .watch(
                self.prefix.clone(),
                Some(WatchOptions::new().with_prefix().with_start_revision(from)),
            )
            .await
            .map_err(|e| (next, err(e)))?;
        let nodes = format!("{}nodes/", self.prefix);
        let events = format!("{}events/", self.prefix);
        loop {
            let Some(resp) = stream.message().await.map_err(|e| (next, err(e)))? else {
                return Ok(next);
            };
            if resp.canceled() {
                return Err((
                    next,
                    DriverError::Etcd(format!(
                        "watch canceled (compacted at {}): {}",
                        resp.compact_revision(),
                        resp.cancel_reason()
                    )),
                ));
            }
            for ev in resp.events() {
                let Some(kv) = ev.kv() else { continue };
                next = next.max(kv.mod_revision() + 1);
                let key = String::from_utf8_lossy(kv.key());
                let decode = |v: &[u8]| match Record::try_decode(v) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        tracing::error!(key = %key, error = %e, "undecodable record in etcd, skipped");
                        None
                    }
                };
                let rec = if let Some(k) = key.strip_prefix(&nodes) {
                    match ev.event_type() {
                        EventType::Put if kv.create_revision() == kv.mod_revision() => {
                            decode(kv.value())
                        }
                        EventType::Put => None,
                        EventType::Delete => MemberId::parse_key(k).map(|id| Record::Leave { id }),
                    }
                } else if key.starts_with(&events) && ev.event_type() == EventType::Put {
                    decode(kv.value())
                } else {
                    None
                };
                if let Some(r) = rec {
                    if tx.send(r).is_err() {
                        return Ok(next);
                    }
                }
            }
        }
    }
}

async fn keepalive_loop(backend: Arc<EtcdBackendRef>, lease: i64, ttl: Duration) {
    let every = ttl / 3;
    loop {
        let r: Result<(), DriverError> = async {
            let mut c = backend.0.client().await?;
            let (mut keeper, mut stream) = c.lease_keep_alive(lease).await.map_err(err)?;
            loop {
                keeper.keep_alive().await.map_err(err)?;
                match stream.message().await.map_err(err)? {
                    Some(rsp) if rsp.ttl() <= 0 => {
                        tracing::error!(lease, "etcd lease expired: this node has been evicted");
                        return Ok(());
                    }
                    Some(_) => {}
                    None => return Err(DriverError::Etcd("keepalive stream closed".into())),
                }
                tokio::time::sleep(every).await;
            }
        }
        .await;
        match r {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, "etcd keepalive interrupted, reconnecting");
                backend.0.reset().await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
}

/// A shareable handle for background tasks (the backend itself lives in the driver's Arc).
struct EtcdBackendRef(Arc<EtcdBackend>);

impl LogBackend for EtcdBackend {
    fn register(&self, me: MemberId, rec: Record) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(async move {
            self.inc.store(me.inc, Ordering::Relaxed);
            let mut c = self.client().await?;
            let ttl = self.opts.ttl.as_secs().max(1) as i64;
            let lease = c.lease_grant(ttl, None).await.map_err(err)?.id();
            self.lease.store(lease, Ordering::Relaxed);
            c.put(
                self.node_key(&me),
                rec.encode(),
                Some(PutOptions::new().with_lease(lease)),
            )
            .await
            .map_err(err)?;
            // The keepalive task needs its own handle on the backend's
            // connection state; it shares the client through a fresh backend
            // view that reconnects on its own.
            let shadow = Arc::new(EtcdBackendRef(Arc::new(EtcdBackend {
                endpoints: self.endpoints.clone(),
                prefix: self.prefix.clone(),
                opts: self.opts,
                client: tokio::sync::Mutex::new(Some(c)),
                lease: AtomicI64::new(lease),
                seq: AtomicU64::new(0),
                inc: AtomicU64::new(me.inc),
                keepalive: Mutex::new(None),
            })));
            let task = tokio::spawn(keepalive_loop(shadow, lease, self.opts.ttl));
            if let Some(old) = crate::sync::lock(&self.keepalive).replace(task) {
                old.abort();
            }
            Ok(())
        })
    }

    fn append(&self, rec: Record) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(self.put_event(rec))
    }

    fn unregister(&self, _me: MemberId) -> BoxFuture<'_, Result<(), DriverError>> {
        Box::pin(async move {
            self.stop();
            let lease = self.lease.swap(0, Ordering::Relaxed);
            if lease != 0 {
                let mut c = self.client().await?;
                c.lease_revoke(lease).await.map_err(err)?;
            }
            Ok(())
        })
    }

    fn tail(self: Arc<Self>, tx: mpsc::UnboundedSender<Record>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let mut from = 1;
            loop {
                match self.watch_once(from, &tx).await {
                    Ok(next) => {
                        from = next;
                        if tx.is_closed() {
                            return;
                        }
                        tracing::warn!(from, "etcd watch ended, reopening");
                    }
                    Err((next, e)) => {
                        from = next;
                        tracing::warn!(error = %e, from, "etcd watch failed, reopening");
                        self.reset().await;
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        })
    }

    fn dead(&self, _ids: &[MemberId]) -> Vec<MemberId> {
        // Liveness is etcd's: lease expiry deletes the node key.
        Vec::new()
    }

    fn stop(&self) {
        if let Some(t) = crate::sync::lock(&self.keepalive).take() {
            t.abort();
        }
    }
}
