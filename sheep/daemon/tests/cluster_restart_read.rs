//! Reads racing a graceful restart (issue #16, "wrong read on restart"):
//! three sheep, copies = 2, data written through A (and overwritten while B
//! is down, so B's own copies are stale), then B is stopped with SIGTERM and
//! started again while readers hammer READ_OBJ through B from the moment
//! its port accepts until well after it joined and recovered.
//!
//! Every answer must be the acknowledged data. tgtd's sheepdog backend
//! retries nothing but a broken connection (it reconnects after 1 s and
//! resends, forever); any other result of a data read is a SCSI medium
//! error, and the C dog reports a failed read. So a node that has not
//! joined yet may hold a request or drop the connection, never answer it
//! from its old view or its stale store. A broken connection is counted as
//! retried here (the reader reconnects and reads on).
//!
//! Runs with the local driver and with etcd.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sheep_client::{Client, Target};
use sheep_proto::oid::Oid;
use sheep_proto::{ClientOp, ObjReq, ReqFlags, Request, SdResult};
use support::procs::{cluster_info, pattern, wait_members, wait_recovered, Etcd, SheepProc};

/// Data objects written (B holds about two thirds of them with copies = 2).
const OBJECTS: u32 = 24;
/// Bytes written at the start of each object (and read back).
const LEN: usize = 8 << 10;
/// Concurrent readers through B (each on its own connection), so that
/// requests queued while B starts are answered at once when it serves.
const READERS: usize = 6;

/// What went wrong in one read.
#[derive(Debug)]
#[allow(dead_code)] // printed through Debug when the test fails
struct Bad {
    reader: usize,
    object: u32,
    what: String,
    at: Duration,
}

/// One READ_OBJ of `LEN` bytes at offset 0 of data object `idx` of `vid`.
async fn read_obj(c: &Client, vid: u32, idx: u32) -> Result<(SdResult, Bytes), ()> {
    let op = Request::Client(ClientOp::ReadObj(ObjReq {
        oid: Oid::data(vid, idx),
        ..ObjReq::default()
    }));
    let h = op.to_header(ReqFlags::EMPTY, LEN as u32);
    match tokio::time::timeout(Duration::from_secs(40), c.raw(h, Bytes::new())).await {
        Ok(Ok((rh, p))) => Ok((rh.result, p)),
        // A broken connection: the client reconnects and resends.
        Ok(Err(_)) => Err(()),
        Err(_) => panic!("a READ_OBJ through the restarted node hung for 40 s"),
    }
}

/// What the readers share.
struct Readers {
    /// B's address.
    addr: std::net::SocketAddr,
    vid: u32,
    /// The acknowledged content of each object.
    want: Vec<Vec<u8>>,
    stop: AtomicBool,
    t0: Instant,
    bad: Mutex<Vec<Bad>>,
    good: AtomicU64,
}

/// Reader `r`: connects to B over and over (it is down at first) and reads
/// the objects round robin until `stop`, checking every answer.
async fn reader(r: usize, s: Arc<Readers>) {
    let mut k = r as u32;
    while !s.stop.load(Ordering::Relaxed) {
        let Ok(c) = Client::connect(&Target::Tcp(s.addr)).await else {
            tokio::task::yield_now().await;
            continue;
        };
        while !s.stop.load(Ordering::Relaxed) {
            let idx = k % OBJECTS;
            k += 1;
            let want = &s.want[idx as usize];
            match read_obj(&c, s.vid, idx).await {
                Err(()) => break,
                Ok((SdResult::Success, p)) if p[..] == want[..] => {
                    s.good.fetch_add(1, Ordering::Relaxed);
                }
                Ok((res, _)) => {
                    let what = if res == SdResult::Success {
                        "SUCCESS with other data (a stale copy)".to_string()
                    } else {
                        format!("{res:?}")
                    };
                    s.bad.lock().unwrap().push(Bad {
                        reader: r,
                        object: idx,
                        what,
                        at: s.t0.elapsed(),
                    });
                }
            }
        }
    }
}

/// The scenario, on three sheep started by `spawn(i)` (zone i + 1).
async fn reads_racing_a_graceful_restart(mut nodes: Vec<SheepProc>, what: &str) {
    let mut clients = Vec::new();
    for n in &nodes {
        clients.push(n.client().await);
    }
    wait_members(&clients, 3, Duration::from_secs(30)).await;
    clients[0].make_fs(2, 22).await.unwrap();
    for c in &clients {
        let t = Instant::now();
        while cluster_info(c).await.header.nr_copies != 2 {
            assert!(t.elapsed() < Duration::from_secs(10), "format not applied");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let vid = clients[0].new_vdi("restart", 128 << 20).await.unwrap();
    let osz = 4u64 << 20;
    for idx in 0..OBJECTS {
        let d = pattern(idx as u8, LEN);
        clients[0]
            .vdi_write(vid, u64::from(idx) * osz, &d)
            .await
            .unwrap();
    }
    wait_recovered(&clients, Duration::from_secs(30)).await;

    // B leaves gracefully; every object gets new content while it is away,
    // so each copy B kept is stale.
    let status = nodes[1].term().await;
    assert!(status.success(), "{what}: SIGTERM exit {status:?}");
    let rest = [nodes[0].client().await, nodes[2].client().await];
    wait_members(&rest, 2, Duration::from_secs(30)).await;
    let mut want = Vec::new();
    for idx in 0..OBJECTS {
        let d = pattern(idx as u8 + 100, LEN);
        clients[0]
            .vdi_write(vid, u64::from(idx) * osz, &d)
            .await
            .unwrap();
        want.push(d);
    }
    let s = Arc::new(Readers {
        addr: nodes[1].addr,
        vid,
        want,
        stop: AtomicBool::new(false),
        t0: Instant::now(),
        bad: Mutex::default(),
        good: AtomicU64::new(0),
    });
    // Readers first, then B: they connect the moment its port accepts.
    let tasks: Vec<_> = (0..READERS)
        .map(|r| tokio::spawn(reader(r, s.clone())))
        .collect();
    nodes[1].restart();
    clients[1] = nodes[1].client().await;
    wait_members(&clients, 3, Duration::from_secs(30)).await;
    let joined = s.t0.elapsed();
    wait_recovered(&clients, Duration::from_secs(40)).await;
    let recovered = s.t0.elapsed();
    // Keep reading a while after the recovery, for a bounded count.
    let after = s.good.load(Ordering::Relaxed) + 200;
    let t = Instant::now();
    while s.good.load(Ordering::Relaxed) < after && t.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    s.stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let bad = s.bad.lock().unwrap();
    let good = s.good.load(Ordering::Relaxed);
    assert!(
        bad.is_empty(),
        "{what}: {} bad answers of {} (joined at {joined:?}, recovered at {recovered:?}), first: {:?}\nB's log:\n{}",
        bad.len(),
        bad.len() as u64 + good,
        &bad[..bad.len().min(8)],
        nodes[1].log()
    );
    assert!(good >= 200, "{what}: only {good} reads checked");
    // An ordinary leave and rejoin reads as one: no eviction error, no
    // "not in the member list" warning.
    let log = nodes[1].log();
    for line in [
        "this node was removed from the cluster",
        "this node is not in the member list",
    ] {
        assert!(!log.contains(line), "{what}: B logged {line:?}:\n{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn local_reads_racing_a_graceful_restart_see_acknowledged_data() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = format!("local:{}", tmp.path().join("cluster").display());
    let nodes = (0..3)
        .map(|i| {
            let z = (i + 1).to_string();
            SheepProc::spawn(&tmp.path().join(format!("s{i}")), &spec, &["-z", &z, "-n"])
        })
        .collect();
    reads_racing_a_graceful_restart(nodes, "local").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn etcd_reads_racing_a_graceful_restart_see_acknowledged_data() {
    let etcd = Etcd::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let spec = format!("etcd:{}/restartread", etcd.endpoint());
    let nodes = (0..3)
        .map(|i| {
            let z = (i + 1).to_string();
            SheepProc::spawn(&tmp.path().join(format!("s{i}")), &spec, &["-z", &z, "-n"])
        })
        .collect();
    reads_racing_a_graceful_restart(nodes, "etcd").await;
    drop(etcd);
}

/// The gateway's safety net, without processes: a view this node is not a
/// member of (what a sheep saw between listening and joining) never sends
/// a read to the local store. The read is held until a view with this node
/// in it is installed, then served.
#[tokio::test]
async fn gateway_holds_reads_until_this_node_is_a_member() {
    use sheep::config::Config;
    use sheep::replication::replicas::ClusterView;
    use sheep::replication::Node;
    use sheep_proto::SdNode;

    let dir = tempfile::tempdir().unwrap();
    let me: std::net::SocketAddr = "127.0.0.1:1".parse().unwrap();
    let mut cfg = Config::new(dir.path(), me);
    cfg.sync = false;
    let node = Node::open(cfg).unwrap();
    let oid = Oid::data(0x42, 0).0;
    node.store
        .create_and_write(oid, 4096, 0, &[7u8; 4096], None)
        .unwrap();

    let r = &node.replicas;
    r.set_view(ClusterView::new(&[], 0, me));
    let n2 = node.clone();
    let mut read = tokio::spawn(async move { n2.replicas.read_copies(&n2, oid, 1, 0, 4096).await });
    // Nothing answers it while this node is not a member (the answer
    // would have been the local copy, in microseconds).
    let early = tokio::time::timeout(Duration::from_millis(300), &mut read).await;
    assert!(early.is_err(), "answered before joining: {early:?}");
    r.set_view(ClusterView::new(&[SdNode::new(me, 128, 1 << 30)], 3, me));
    let got = tokio::time::timeout(Duration::from_secs(10), read).await;
    assert_eq!(got.unwrap().unwrap().unwrap(), vec![7u8; 4096]);
}
