//! Multi-node object I/O with real sheep processes on 127.0.0.1 (local
//! driver on a shared temp dir): format through one node, create a VDI
//! through another, write through every gateway, read everything back
//! through every gateway, and check that each data object has exactly
//! `copies` replicas, on the nodes the vnode ring picks.

mod support;

use std::time::{Duration, Instant};

use bytes::Bytes;
use sheep::gateway::replicas::ClusterView;
use sheep::proto::oid::Oid;
use sheep::proto::{ObjReq, ReqFlags, Request};
use support::procs::{cluster_info, holds, pattern, wait_members, SheepProc};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_replicate_and_read_back_everywhere() {
    let t0 = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let spec = format!("local:{}", tmp.path().join("cluster").display());
    let nodes: Vec<SheepProc> = (0..3)
        .map(|i| {
            let z = (i + 1).to_string();
            SheepProc::spawn(&tmp.path().join(format!("s{i}")), &spec, &["-z", &z, "-n"])
        })
        .collect();
    let mut clients = Vec::new();
    for n in &nodes {
        clients.push(n.client().await);
    }
    let members = wait_members(&clients, 3, Duration::from_secs(20)).await;

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
    let ci_epoch = cluster_info(&clients[0]).await.header.epoch;
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
        let ci = cluster_info(c).await;
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
