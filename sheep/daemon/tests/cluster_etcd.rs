//! Multi-node clusters of real sheep processes driven by a real etcd
//! (`-c etcd:127.0.0.1:PORT`): object I/O through every gateway lands where
//! placement says and reads back everywhere, and an etcd restart under a
//! running cluster with continuous I/O evicts nobody and loses no
//! acknowledged write.
//!
//! The tests start `/usr/bin/etcd` (or `etcd` on PATH) themselves on
//! 127.0.0.1 with free ports and a temporary data dir, and fail if it is
//! missing.
//!
//! Lease TTL: the sheep use the driver's default (10 s, keepalive every
//! ~3.3 s). etcd re-grants every lease a full TTL when it elects a leader
//! after a restart, so an outage only has to be shorter than the TTL; the
//! restart here is ~1 s plus etcd's start-up, well inside it even on a
//! loaded 2-core machine, and the test then waits past a whole TTL to prove
//! that no lease ran out.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sheep_client::Client;
use support::procs::{
    assert_placement, cluster_info, node_list, pattern, wait_members, write_from_every_gateway,
    Etcd, SheepProc,
};

/// Three sheep on `etcd` (cluster name `name`), zones 1..3, no fsync.
fn three_sheep(tmp: &std::path::Path, etcd: &Etcd, name: &str) -> Vec<SheepProc> {
    let spec = format!("etcd:{}/{name}", etcd.endpoint());
    (0..3)
        .map(|i| {
            let z = (i + 1).to_string();
            SheepProc::spawn(&tmp.join(format!("s{i}")), &spec, &["-z", &z, "-n"])
        })
        .collect()
}

async fn clients_of(nodes: &[SheepProc]) -> Vec<Client> {
    let mut clients = Vec::new();
    for n in nodes {
        clients.push(n.client().await);
    }
    clients
}

/// Fails with every node's log when `nodes` did not converge to `n` members.
async fn members_or_logs(
    clients: &[Client],
    nodes: &[SheepProc],
    n: usize,
) -> Vec<sheep_proto::SdNode> {
    let t = tokio::time::timeout(
        Duration::from_secs(40),
        wait_members(clients, n, Duration::from_secs(30)),
    )
    .await;
    match t {
        Ok(m) => m,
        Err(_) => panic!(
            "members did not converge; logs:\n{}",
            nodes
                .iter()
                .map(|n| n.log())
                .collect::<Vec<_>>()
                .join("\n---\n")
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn etcd_three_nodes_replicate_and_read_back_everywhere() {
    let etcd = Etcd::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let nodes = three_sheep(tmp.path(), &etcd, "io");
    let clients = clients_of(&nodes).await;
    let members = members_or_logs(&clients, &nodes, 3).await;

    // Format through C (travels through etcd), create the VDI through A.
    clients[2].make_fs(2, 22).await.unwrap();
    for c in &clients {
        let t = Instant::now();
        while cluster_info(c).await.header.nr_copies != 2 {
            assert!(t.elapsed() < Duration::from_secs(10), "format not applied");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let vid = clients[0].new_vdi("etcdvol", 64 << 20).await.unwrap();

    // Each gateway writes two whole objects and an overwrite straddling
    // objects another gateway wrote.
    let osz = 4usize << 20;
    let expect = write_from_every_gateway(&clients, vid, 2, 11, 7000).await;
    for (g, c) in clients.iter().enumerate() {
        let got = c.vdi_read(vid, 0, 6 * osz).await.unwrap();
        assert!(got == expect, "gateway {g} read differs");
    }

    // Every data object has exactly 2 replicas, on the nodes the ring picks.
    let addrs: Vec<_> = nodes.iter().map(|n| n.addr).collect();
    let epoch = assert_placement(&clients, &addrs, &members, vid, 6, 2, "etcd").await;
    // Same epoch and node list everywhere; the VDI is known everywhere.
    for c in &clients {
        let ci = cluster_info(c).await;
        assert_eq!(ci.header.epoch, epoch);
        assert_eq!(ci.nodes, members);
        assert_eq!(c.get_vdi_info("etcdvol", "", 0).await.unwrap(), vid);
    }
    drop(nodes);
    drop(etcd);
}

/// What the writer task has acknowledged: chunk index -> seed of the last
/// acknowledged write (`None` after a failed write: content unknown).
type Acked = Arc<Mutex<BTreeMap<u64, Option<u8>>>>;

const CHUNK: usize = 48 << 10;
const VDI_SIZE: u64 = 96 << 20;

/// Writes chunk after chunk (rotating gateways, 2 MiB stride so objects are
/// created and overwritten) until `stop`; counts acknowledged writes.
async fn writer(
    clients: Arc<Vec<Client>>,
    vid: u32,
    acked: Acked,
    count: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
) {
    let nchunks = VDI_SIZE / CHUNK as u64;
    let mut k: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        // Spread over the VDI: chunk (k * 43) mod n visits every chunk.
        let chunk = (k * 43) % nchunks;
        let seed = (k % 251) as u8;
        let c = &clients[(k % 3) as usize];
        let r = tokio::time::timeout(
            Duration::from_secs(20),
            c.vdi_write(vid, chunk * CHUNK as u64, &pattern(seed, CHUNK)),
        )
        .await;
        match r {
            Ok(Ok(())) => {
                acked.lock().unwrap().insert(chunk, Some(seed));
                count.fetch_add(1, Ordering::Relaxed);
            }
            _ => {
                acked.lock().unwrap().insert(chunk, None);
                failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        k += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn wait_count(count: &AtomicU64, at_least: u64, what: &str) {
    let t = Instant::now();
    while count.load(Ordering::Relaxed) < at_least {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{what}: only {} writes acknowledged",
            count.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn etcd_restart_under_io_evicts_nobody_and_loses_nothing() {
    let mut etcd = Etcd::start().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut nodes = three_sheep(tmp.path(), &etcd, "restart");
    let clients = clients_of(&nodes).await;
    let members = members_or_logs(&clients, &nodes, 3).await;
    clients[0].make_fs(2, 22).await.unwrap();
    let vid = clients[0].new_vdi("busy", VDI_SIZE).await.unwrap();
    let epoch = cluster_info(&clients[0]).await.header.epoch;

    // Continuous I/O from a client task through all three gateways.
    let clients = Arc::new(clients);
    let acked: Acked = Arc::default();
    let count = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let task = tokio::spawn(writer(
        clients.clone(),
        vid,
        acked.clone(),
        count.clone(),
        failed.clone(),
        stop.clone(),
    ));
    wait_count(&count, 20, "before the restart").await;

    // etcd goes away for a while and comes back on the same ports and data.
    etcd.kill();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let during = count.load(Ordering::Relaxed);
    etcd.spawn().await;
    let restarted = Instant::now();
    let after = count.load(Ordering::Relaxed);
    eprintln!("writes: {during} before the restart, {after} when etcd answered again");
    wait_count(&count, after + 20, "after the restart").await;

    // Keep the I/O going past a whole lease TTL (10 s) after the restart,
    // checking that nobody leaves meanwhile.
    while restarted.elapsed() < Duration::from_secs(13) {
        for (i, c) in clients.iter().enumerate() {
            let l = node_list(c).await;
            assert_eq!(l, members, "node {i} lost a member");
        }
        for (i, n) in nodes.iter_mut().enumerate() {
            assert!(n.alive(), "sheep {i} exited: {}", n.log());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    stop.store(true, Ordering::Relaxed);
    tokio::time::timeout(Duration::from_secs(30), task)
        .await
        .expect("writer stops")
        .unwrap();

    for (i, c) in clients.iter().enumerate() {
        let ci = cluster_info(c).await;
        assert_eq!(ci.header.epoch, epoch, "node {i} changed epoch");
        assert_eq!(ci.nodes, members, "node {i}");
    }
    let total = count.load(Ordering::Relaxed);
    eprintln!(
        "{total} writes acknowledged, {} failed",
        failed.load(Ordering::Relaxed)
    );
    // Data I/O does not go through etcd: nothing failed, even during the outage.
    assert_eq!(failed.load(Ordering::Relaxed), 0, "writes failed");

    // Every acknowledged write reads back identical through every gateway.
    let acked = acked.lock().unwrap().clone();
    let mut checked = 0;
    for (chunk, seed) in &acked {
        let Some(seed) = seed else { continue };
        let want = pattern(*seed, CHUNK);
        for (g, c) in clients.iter().enumerate() {
            let got = c.vdi_read(vid, chunk * CHUNK as u64, CHUNK).await.unwrap();
            assert!(got == want, "chunk {chunk} differs through gateway {g}");
        }
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} chunks checked");

    // The driver really resumed: a fourth node joins through the restarted
    // etcd and everybody sees it.
    let spec = format!("etcd:{}/restart", etcd.endpoint());
    let d = SheepProc::spawn(&tmp.path().join("s3"), &spec, &["-z", "4", "-n"]);
    let mut all: Vec<Client> = Vec::new();
    for n in nodes.iter().chain(std::iter::once(&d)) {
        all.push(n.client().await);
    }
    nodes.push(d);
    members_or_logs(&all, &nodes, 4).await;
    drop(nodes);
    drop(etcd);
}
