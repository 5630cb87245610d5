//! Recovery with real sheep processes (local driver, copies = 2): a node
//! killed with SIGKILL under a continuous write load and restarted, a fourth
//! node joining a cluster with data, and a rejoining node's stale replica.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sheep::replication::replicas::ClusterView;
use sheep_client::Client;
use sheep_proto::oid::Oid;
use sheep_proto::{ObjReq, ReqFlags, Request};
use support::procs::{
    epoch_nodes, holds, node_list, pattern, read_peer, recovery_state, wait_members,
    wait_recovered, SheepProc,
};

/// Object size of the tests (block_size_shift 22).
const OSZ: usize = 4 << 20;

struct Cluster {
    _tmp: tempfile::TempDir,
    spec: String,
    root: std::path::PathBuf,
    nodes: Vec<SheepProc>,
    clients: Vec<Client>,
}

impl Cluster {
    async fn start(n: usize) -> Cluster {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().to_path_buf();
        let spec = format!("local:{}", root.join("cluster").display());
        let mut c = Cluster {
            _tmp: tmp,
            spec,
            root,
            nodes: Vec::new(),
            clients: Vec::new(),
        };
        for _ in 0..n {
            c.add().await;
        }
        wait_members(&c.clients, n, Duration::from_secs(20)).await;
        c
    }

    /// Spawns one more node (zone = its index + 1).
    async fn add(&mut self) {
        let i = self.nodes.len();
        let z = (i + 1).to_string();
        let p = SheepProc::spawn(
            &self.root.join(format!("s{i}")),
            &self.spec,
            &["-z", &z, "-n"],
        );
        self.clients.push(p.client().await);
        self.nodes.push(p);
    }

    /// The view of the current membership and its epoch.
    async fn view(&self) -> (ClusterView, Vec<sheep_proto::SdNode>, u32) {
        let members = node_list(&self.clients[0]).await;
        let epoch = recovery_state(&self.clients[0]).await.0;
        (
            ClusterView::new(&members, epoch, self.nodes[0].addr),
            members,
            epoch,
        )
    }

    /// Index into `nodes` of a member.
    fn index_of(&self, m: &sheep_proto::SdNode) -> usize {
        self.nodes
            .iter()
            .position(|n| n.addr == m.socket_addr())
            .unwrap()
    }

    /// Every data object `0..objects` of `vid` has exactly `copies`
    /// replicas, on the nodes the current ring picks; the inode is on every
    /// member.
    async fn check_placement(&self, vid: u32, objects: u32) {
        let (view, members, epoch) = self.view().await;
        for idx in 0..objects {
            let oid = Oid::data(vid, idx).0;
            let want = view.replicas(oid, 2);
            assert_eq!(want.len(), 2);
            for (i, m) in members.iter().enumerate() {
                let c = &self.clients[self.index_of(m)];
                assert_eq!(
                    holds(c, epoch, oid).await,
                    want.contains(&i),
                    "object {idx} on member {i} ({}) at epoch {epoch}: placement {want:?}",
                    m.socket_addr()
                );
            }
        }
        for m in &members {
            assert!(holds(&self.clients[self.index_of(m)], epoch, Oid::inode(vid).0).await);
        }
    }

    /// Waits until recovery finished on every node (the logs on failure).
    async fn recovered(&self, limit: Duration) -> u32 {
        let t0 = Instant::now();
        loop {
            let mut states = Vec::new();
            for c in &self.clients {
                states.push(recovery_state(c).await);
            }
            if states
                .iter()
                .all(|(e, s)| *e == states[0].0 && s.in_recovery == 0)
            {
                return states[0].0;
            }
            if t0.elapsed() > limit {
                panic!("recovery did not finish: {states:?}\n{}", self.logs());
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| format!("--- {} ---\n{}", n.addr, n.log()))
            .collect()
    }
}

/// A task writing 64 KiB patterns over the first `objects` objects of a VDI
/// through one gateway until stopped, recording every acknowledged write in
/// order; any failed write fails the test.
struct Writer {
    acked: Arc<Mutex<Vec<Write>>>,
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<usize>,
}

impl Writer {
    fn spawn(c: Client, vid: u32, objects: usize) -> Writer {
        let acked: Arc<Mutex<Vec<Write>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let task = {
            let acked = acked.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                let mut k = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let off = (k % objects) * OSZ + ((k / objects) % 16) * (64 << 10);
                    let d = pattern((k % 250) as u8 + 1, 64 << 10);
                    let t = Instant::now();
                    if let Err(e) = c.vdi_write(vid, off as u64, &d).await {
                        panic!("write {k} at {off} failed after {:?}: {e}", t.elapsed());
                    }
                    acked.lock().unwrap().push((off, d));
                    k += 1;
                }
                k
            })
        };
        Writer { acked, stop, task }
    }

    /// Stops it; the number of writes done.
    async fn stop(self) -> usize {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap()
    }
}

/// One acknowledged write: offset and data.
type Write = (usize, Vec<u8>);

/// Applies `(offset, data)` writes in order to an image of `len` bytes.
fn image(len: usize, writes: &[Write]) -> Vec<u8> {
    let mut img = vec![0u8; len];
    for (off, d) in writes {
        img[*off..*off + d.len()].copy_from_slice(d);
    }
    img
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn kill9_under_write_load_then_rejoin_recovers_two_replicas() {
    let t0 = Instant::now();
    let mut cl = Cluster::start(3).await;
    cl.clients[1].make_fs(2, 22).await.unwrap();
    let vid = cl.clients[0].new_vdi("load", 64 << 20).await.unwrap();

    // Static objects 8..12, written before the fault.
    let objects = 12u32;
    let mut writes: Vec<Write> = Vec::new();
    for idx in 8..objects as usize {
        let d = pattern(idx as u8, OSZ);
        cl.clients[0]
            .vdi_write(vid, (idx * OSZ) as u64, &d)
            .await
            .unwrap();
        writes.push((idx * OSZ, d));
    }

    // A writer through gateway A over objects 0..8, recording what was acked.
    let w = Writer::spawn(cl.nodes[0].client().await, vid, 8);
    let acked = w.acked.clone();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cl.nodes[2].kill9();

    // Reads keep working while C is down (and before its leave is seen).
    let static_img = image(objects as usize * OSZ, &writes);
    for g in 0..2 {
        let got = cl.clients[g]
            .vdi_read(vid, (8 * OSZ) as u64, 4 * OSZ)
            .await
            .unwrap();
        assert!(
            got == static_img[8 * OSZ..],
            "gateway {g} read differs while C is down"
        );
    }
    wait_members(&cl.clients[..2], 2, Duration::from_secs(30)).await;
    // Let the writer go on in the two-node view for a bit.
    let n0 = acked.lock().unwrap().len();
    let t1 = Instant::now();
    while acked.lock().unwrap().len() < n0 + 16 && t1.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let nwrites = w.stop().await;
    assert!(
        acked.lock().unwrap().len() > n0,
        "no write completed after the leave"
    );
    writes.extend(acked.lock().unwrap().drain(..));
    let expect = image(objects as usize * OSZ, &writes);
    for g in 0..2 {
        let got = cl.clients[g]
            .vdi_read(vid, 0, objects as usize * OSZ)
            .await
            .unwrap();
        assert!(got == expect, "gateway {g}: acked writes do not read back");
    }

    // C comes back on the same store; after recovery every object has two
    // replicas where the ring says, and reads back identical everywhere.
    let t_restart = Instant::now();
    cl.nodes[2].restart();
    cl.clients[2] = cl.nodes[2].client().await;
    wait_members(&cl.clients, 3, Duration::from_secs(30)).await;
    let epoch = cl.recovered(Duration::from_secs(40)).await;
    assert!(epoch > 0);
    let rejoin = t_restart.elapsed();
    cl.check_placement(vid, objects).await;
    for (g, c) in cl.clients.iter().enumerate() {
        let got = c.vdi_read(vid, 0, objects as usize * OSZ).await.unwrap();
        assert!(got == expect, "gateway {g} read differs after recovery");
    }
    let st = recovery_state(&cl.clients[2]).await.1;
    assert_eq!(st.in_recovery, 0);
    assert!(st.nr_finished <= st.nr_total);
    eprintln!(
        "kill9 test: {nwrites} writes, restart to recovered everywhere {:.1} s, {:.1} s total",
        rejoin.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    if t0.elapsed() > Duration::from_secs(60) {
        eprintln!("slow run:\n{}", cl.logs());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fourth_node_gets_its_objects_and_old_holders_drop_theirs() {
    let mut cl = Cluster::start(3).await;
    cl.clients[0].make_fs(2, 22).await.unwrap();
    let vid = cl.clients[1].new_vdi("grow", 64 << 20).await.unwrap();
    let objects = 12u32;
    let mut writes = Vec::new();
    for idx in 0..objects as usize {
        let d = pattern(idx as u8 + 7, OSZ);
        cl.clients[idx % 3]
            .vdi_write(vid, (idx * OSZ) as u64, &d)
            .await
            .unwrap();
        writes.push((idx * OSZ, d));
    }
    let before = cl.recovered(Duration::from_secs(30)).await;
    cl.check_placement(vid, objects).await;

    // Writes keep going through gateway B while D joins and recovers.
    let w = Writer::spawn(cl.nodes[1].client().await, vid, objects as usize);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let t_join = Instant::now();
    cl.add().await;
    wait_members(&cl.clients, 4, Duration::from_secs(30)).await;
    let n0 = w.acked.lock().unwrap().len();
    let t1 = Instant::now();
    while w.acked.lock().unwrap().len() < n0 + 16 && t1.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let acked = w.acked.clone();
    w.stop().await;
    assert!(
        acked.lock().unwrap().len() > n0,
        "no write completed after the join"
    );
    writes.extend(acked.lock().unwrap().drain(..));
    let expect = image(objects as usize * OSZ, &writes);
    let after = cl.recovered(Duration::from_secs(40)).await;
    assert!(after > before);
    let st = recovery_state(&cl.clients[3]).await.1;
    eprintln!(
        "join test: the new node recovered {} of {} objects, join to recovered everywhere {:.1} s",
        st.nr_finished,
        st.nr_total,
        t_join.elapsed().as_secs_f64()
    );
    assert_eq!(st.nr_finished, st.nr_total);
    assert!(st.nr_total > 0);
    // Every member logged the node list of the new epoch and of the epoch
    // before the join.
    for c in &cl.clients {
        assert_eq!(epoch_nodes(c, after, after).await.unwrap().len(), 4);
    }
    for c in &cl.clients {
        // The new node copied the older epochs from a peer.
        assert_eq!(epoch_nodes(c, after, before).await.unwrap().len(), 3);
    }
    // Exactly on the new ring: the new node got its share, the nodes that
    // no longer hold an object removed it (not kept aside).
    cl.check_placement(vid, objects).await;
    let (view, members, _) = cl.view().await;
    let d = members
        .iter()
        .position(|m| m.socket_addr() == cl.nodes[3].addr)
        .unwrap();
    assert!(
        (0..objects).any(|i| view.replicas(Oid::data(vid, i).0, 2).contains(&d)),
        "the new node holds nothing: test data too small"
    );
    for (g, c) in cl.clients.iter().enumerate() {
        let got = c.vdi_read(vid, 0, objects as usize * OSZ).await.unwrap();
        assert!(got == expect, "gateway {g} read differs after the join");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rejoining_node_refreshes_objects_written_while_down() {
    let mut cl = Cluster::start(3).await;
    cl.clients[0].make_fs(2, 22).await.unwrap();
    let vid = cl.clients[0].new_vdi("stale", 64 << 20).await.unwrap();
    let objects = 8u32;
    for idx in 0..objects as usize {
        let d = pattern(idx as u8, OSZ);
        cl.clients[0]
            .vdi_write(vid, (idx * OSZ) as u64, &d)
            .await
            .unwrap();
    }
    // Objects 8..20 (4 KiB each written): those C holds are removed while
    // it is down and must not come back from its stale copies.
    for idx in 8..20usize {
        let d = pattern(idx as u8, 4096);
        cl.clients[0]
            .vdi_write(vid, (idx * OSZ) as u64, &d)
            .await
            .unwrap();
    }
    let gone = cl.clients[0].new_vdi("gone", 8 << 20).await.unwrap();
    cl.recovered(Duration::from_secs(30)).await;
    let (view, members, _) = cl.view().await;
    let c_idx = members
        .iter()
        .position(|m| m.socket_addr() == cl.nodes[2].addr)
        .unwrap();
    let victims: Vec<u64> = (8..20)
        .map(|i| Oid::data(vid, i).0)
        .filter(|&o| view.replicas(o, 2).contains(&c_idx))
        .collect();
    assert!(!victims.is_empty());

    cl.nodes[2].kill9();
    wait_members(&cl.clients[..2], 2, Duration::from_secs(30)).await;
    for &o in &victims {
        let h = Request::Client(sheep_proto::ClientOp::RemoveObj(ObjReq {
            oid: Oid(o),
            ..ObjReq::default()
        }))
        .to_header(ReqFlags::EMPTY, 0);
        if let Err(e) = cl.clients[0].call(h, Bytes::new()).await {
            let (v2, m2, e2) = cl.view().await;
            let mut held = Vec::new();
            for c in &cl.clients[..2] {
                held.push(holds(c, e2, o).await);
            }
            panic!("REMOVE_OBJ {o:016x} failed: {e}; epoch {e2} placement {:?} of {m2:?}, held by A,B: {held:?}\n{}", v2.replicas(o, 2), cl.logs());
        }
    }
    // A VDI deleted and one created while C is down.
    cl.clients[1].del_vdi("gone", "", 0).await.unwrap();
    let born = cl.clients[0].new_vdi("born", 8 << 20).await.unwrap();
    assert_ne!(born, gone);
    // X: new content of every object, written while C is down.
    let mut fresh = Vec::new();
    for idx in 0..objects as usize {
        let d = pattern(idx as u8 + 100, OSZ);
        cl.clients[1]
            .vdi_write(vid, (idx * OSZ) as u64, &d)
            .await
            .unwrap();
        fresh.push(d);
    }

    cl.nodes[2].restart();
    cl.clients[2] = cl.nodes[2].client().await;
    wait_members(&cl.clients, 3, Duration::from_secs(30)).await;
    // Right away, before its recovery is (necessarily) done, C knows the
    // VDIs as they are now, and serves the new content, never its stale
    // copies.
    assert_eq!(
        cl.clients[2].get_vdi_info("born", "", 0).await.unwrap(),
        born
    );
    assert!(cl.clients[2].get_vdi_info("gone", "", 0).await.is_err());
    for (idx, want) in fresh.iter().enumerate() {
        let got = cl.clients[2]
            .vdi_read(vid, (idx * OSZ) as u64, OSZ)
            .await
            .unwrap();
        assert!(
            got == *want,
            "C served a stale object {idx} during recovery"
        );
    }
    let epoch = cl.recovered(Duration::from_secs(40)).await;
    let (view, members, _) = cl.view().await;
    let c_idx = members
        .iter()
        .position(|m| m.socket_addr() == cl.nodes[2].addr)
        .unwrap();
    let mut checked = 0;
    for idx in 0..objects {
        let oid = Oid::data(vid, idx).0;
        let on_c = read_peer(&cl.clients[2], epoch, oid, OSZ as u32).await;
        if view.replicas(oid, 2).contains(&c_idx) {
            let got = on_c.unwrap_or_else(|| panic!("C lacks object {idx}"));
            assert!(
                got[..] == fresh[idx as usize][..],
                "C's copy of object {idx} is stale"
            );
            checked += 1;
        } else {
            assert!(on_c.is_none(), "C kept object {idx} it does not hold");
        }
    }
    // The removed objects stay removed everywhere.
    for &o in &victims {
        for c in &cl.clients {
            assert!(!holds(c, epoch, o).await, "removed {o:016x} came back");
        }
    }
    assert!(
        checked > 0,
        "C holds none of the objects: test data too small"
    );
    for (g, c) in cl.clients.iter().enumerate() {
        for (idx, want) in fresh.iter().enumerate() {
            let got = c.vdi_read(vid, (idx * OSZ) as u64, OSZ).await.unwrap();
            assert!(got == *want, "gateway {g} object {idx} differs");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn full_cluster_restart_keeps_every_object() {
    let mut cl = Cluster::start(3).await;
    cl.clients[2].make_fs(2, 22).await.unwrap();
    let vid = cl.clients[0].new_vdi("restart", 64 << 20).await.unwrap();
    let objects = 9u32;
    let mut writes = Vec::new();
    for idx in 0..objects as usize {
        let d = pattern(idx as u8 + 40, OSZ);
        cl.clients[idx % 3]
            .vdi_write(vid, (idx * OSZ) as u64, &d)
            .await
            .unwrap();
        writes.push((idx * OSZ, d));
    }
    let expect = image(objects as usize * OSZ, &writes);
    cl.recovered(Duration::from_secs(30)).await;

    // Stop every node (gracefully, as scripts/cluster.sh does), start them
    // again on the same stores, in another order.
    for n in &mut cl.nodes {
        n.term().await;
    }
    for i in [1, 2, 0] {
        cl.nodes[i].restart();
        cl.clients[i] = cl.nodes[i].client().await;
    }
    wait_members(&cl.clients, 3, Duration::from_secs(30)).await;
    cl.recovered(Duration::from_secs(40)).await;
    for (g, c) in cl.clients.iter().enumerate() {
        let got = c.vdi_read(vid, 0, objects as usize * OSZ).await.unwrap();
        assert!(got == expect, "gateway {g} read differs after the restart");
    }
    cl.check_placement(vid, objects).await;

    // A second full stop, then the nodes come back one at a time, each after
    // the ones already up finished recovering: the first node completes an
    // epoch alone, and its lack of the objects only the others hold must not
    // count as proof that they were removed (it did, and they were deleted).
    for n in &mut cl.nodes {
        n.term().await;
    }
    let order = [2usize, 0, 1];
    for k in 0..order.len() {
        let i = order[k];
        cl.nodes[i].restart();
        cl.clients[i] = cl.nodes[i].client().await;
        let mut up = Vec::new();
        for &j in &order[..=k] {
            up.push(cl.nodes[j].client().await);
        }
        wait_members(&up, k + 1, Duration::from_secs(30)).await;
        wait_recovered(&up, Duration::from_secs(40)).await;
    }
    cl.recovered(Duration::from_secs(40)).await;
    for (g, c) in cl.clients.iter().enumerate() {
        let got = match c.vdi_read(vid, 0, objects as usize * OSZ).await {
            Ok(b) => b,
            Err(e) => panic!(
                "gateway {g}: {e:?} after a one-by-one restart\n{}",
                cl.logs()
            ),
        };
        assert!(
            got == expect,
            "gateway {g} read differs after a one-by-one restart\n{}",
            cl.logs()
        );
    }
    cl.check_placement(vid, objects).await;
}
