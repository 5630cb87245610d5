//! Multi-node object I/O with real sheep processes on 127.0.0.1 (local
//! driver on a shared temp dir): format through one node, create a VDI
//! through another, write through every gateway, read everything back
//! through every gateway, and check that each data object has exactly
//! `copies` replicas, on the nodes the vnode ring picks.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sheep::client::{Client, Target};
use sheep::gateway::replicas::ClusterView;
use sheep::proto::oid::Oid;
use sheep::proto::payload::NodeList;
use sheep::proto::{AdminOp, NoArgs, ObjReq, PeerOp, ReqFlags, Request, SdNode, SdResult};

const SHEEP: &str = env!("CARGO_BIN_EXE_sheep");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A sheep process, killed by PID on drop.
struct Sheep {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Sheep {
    fn spawn(store: &Path, cluster: &str, zone: u32) -> Sheep {
        let port = free_port();
        std::fs::create_dir_all(store).unwrap();
        let log = store.with_extension("log");
        let f = std::fs::File::create(&log).unwrap();
        let child = Command::new(SHEEP)
            .args(["-b", "127.0.0.1", "-p", &port.to_string(), "-c", cluster])
            .args(["-z", &zone.to_string(), "-n"])
            .arg(store)
            .stdout(Stdio::null())
            .stderr(f)
            .spawn()
            .expect("spawn sheep");
        Sheep {
            child,
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            log,
        }
    }

    async fn client(&self) -> Client {
        let t0 = Instant::now();
        loop {
            if let Ok(c) = Client::connect(&Target::Tcp(self.addr)).await {
                return c;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(15),
                "sheep at {} did not come up: {}",
                self.addr,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Sheep {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn node_list(c: &Client) -> Vec<SdNode> {
    let h = Request::Admin(AdminOp::GetNodeList(NoArgs::default()))
        .to_header(ReqFlags::EMPTY, (SdNode::SIZE * 16) as u32);
    let (_, p) = c.call(h, Bytes::new()).await.unwrap();
    sdwire::from_slice::<NodeList>(&p, 0).unwrap().nodes
}

/// READ_PEER of the first bytes of `oid` on one node: whether it stores it.
async fn holds(c: &Client, epoch: u32, oid: u64) -> bool {
    let op = Request::Peer(PeerOp::ReadPeer(ObjReq {
        oid: Oid(oid),
        ..ObjReq::default()
    }));
    let mut h = op.to_header(ReqFlags::EMPTY, 512);
    h.epoch = epoch;
    let (rh, _) = c.raw(h, Bytes::new()).await.unwrap();
    match rh.result {
        SdResult::Success => true,
        SdResult::NoObj => false,
        other => panic!("READ_PEER {oid:016x} answered {other:?}"),
    }
}

fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_mul(31).wrapping_add((i % 251) as u8))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_replicate_and_read_back_everywhere() {
    let t0 = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let spec = format!("local:{}", tmp.path().join("cluster").display());
    let nodes: Vec<Sheep> = (0..3)
        .map(|i| Sheep::spawn(&tmp.path().join(format!("s{i}")), &spec, i + 1))
        .collect();
    let mut clients = Vec::new();
    for n in &nodes {
        clients.push(n.client().await);
    }
    // Wait until every node sees all three members.
    loop {
        let mut ok = true;
        for c in &clients {
            ok &= node_list(c).await.len() == 3;
        }
        if ok {
            break;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "members did not converge: {}",
            nodes[2].log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let members = node_list(&clients[0]).await;
    for c in &clients[1..] {
        assert_eq!(node_list(c).await, members, "every node sees the same list");
    }

    // Format through B, copies = 2; create the VDI through A.
    clients[1].make_fs(2, 22).await.unwrap();
    let vid = clients[0].new_vdi("multi", 64 << 20).await.unwrap();

    // Each gateway writes three whole objects and a partial overwrite.
    let osz = 4usize << 20;
    let mut expect = vec![0u8; 12 * osz];
    for (g, c) in clients.iter().enumerate() {
        for k in 0..3 {
            let idx = g * 3 + k;
            let data = pattern((idx + 1) as u8, osz);
            c.vdi_write(vid, (idx * osz) as u64, &data).await.unwrap();
            expect[idx * osz..(idx + 1) * osz].copy_from_slice(&data);
        }
        // Straddling two objects written by another gateway.
        let off = ((g + 1) % 3) * 3 * osz + osz - 1000;
        let data = pattern(200 + g as u8, 5000);
        c.vdi_write(vid, off as u64, &data).await.unwrap();
        expect[off..off + 5000].copy_from_slice(&data);
    }
    // Everything reads back identical through every gateway.
    for (g, c) in clients.iter().enumerate() {
        let got = c.vdi_read(vid, 0, 9 * osz).await.unwrap();
        assert!(got == expect[..9 * osz], "gateway {g} read differs");
    }

    // Every data object has exactly 2 replicas, where the ring says.
    let ci_epoch = {
        let h = Request::Admin(AdminOp::ClusterInfo(NoArgs::default()))
            .to_header(ReqFlags::EMPTY, sheep::proto::ClusterInfo::SIZE as u32);
        let (_, p) = clients[0].call(h, Bytes::new()).await.unwrap();
        sdwire::from_slice::<sheep::proto::ClusterInfo>(&p, 0)
            .unwrap()
            .header
            .epoch
    };
    let view = ClusterView::new(&members, ci_epoch, nodes[0].addr);
    for idx in 0..9u32 {
        let oid = Oid::data(vid, idx).0;
        let want = view.replicas(oid, 2);
        assert_eq!(want.len(), 2);
        for (i, m) in members.iter().enumerate() {
            let c = &clients[nodes
                .iter()
                .position(|n| n.addr == m.socket_addr())
                .unwrap()];
            assert_eq!(
                holds(c, ci_epoch, oid).await,
                want.contains(&i),
                "object {idx} on node {i}: placement {want:?}"
            );
        }
    }
    // The inode (VDI metadata) is on every node, so every gateway sees it.
    for c in &clients {
        assert!(holds(c, ci_epoch, Oid::inode(vid).0).await);
        assert_eq!(c.get_vdi_info("multi", "", 0).await.unwrap(), vid);
    }
    // Every node reports the same epoch and node list in CLUSTER_INFO.
    for c in &clients {
        let h = Request::Admin(AdminOp::ClusterInfo(NoArgs::default()))
            .to_header(ReqFlags::EMPTY, sheep::proto::ClusterInfo::SIZE as u32);
        let (_, p) = c.call(h, Bytes::new()).await.unwrap();
        let ci = sdwire::from_slice::<sheep::proto::ClusterInfo>(&p, 0).unwrap();
        assert_eq!(ci.header.epoch, ci_epoch);
        assert_eq!(ci.nodes, members);
    }
    // REMOVE_OBJ through one gateway removes every replica.
    let victim = Oid::data(vid, 4).0;
    let h = Request::Client(sheep::proto::ClientOp::RemoveObj(ObjReq {
        oid: Oid(victim),
        ..ObjReq::default()
    }))
    .to_header(ReqFlags::EMPTY, 0);
    clients[2].call(h, Bytes::new()).await.unwrap();
    for c in &clients {
        assert!(!holds(c, ci_epoch, victim).await);
    }
    assert!(t0.elapsed() < Duration::from_secs(60));
    drop(nodes);
}
