//! Multi-node object I/O with real sheep processes on 127.0.0.1 (local
//! driver on a shared temp dir): format through one node, create a VDI
//! through another, write through every gateway, read everything back
//! through every gateway, and check that each data object has exactly
//! `copies` replicas, on the nodes the vnode ring picks.

mod support;

use std::time::Duration;

use bytes::Bytes;
use sheep_proto::oid::Oid;
use sheep_proto::{ObjReq, ReqFlags, Request};
use support::procs::{
    assert_placement, cluster_info, holds, spawn_local_cluster, wait_members,
    write_from_every_gateway,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_replicate_and_read_back_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let nodes = spawn_local_cluster(tmp.path(), 3, &["-n"]);
    let mut clients = Vec::new();
    for n in &nodes {
        clients.push(n.client().await);
    }
    let members = wait_members(&clients, 3, Duration::from_secs(20)).await;

    // Format through B, copies = 2; create the VDI through A.
    clients[1].make_fs(2, 22).await.unwrap();
    let vid = clients[0].new_vdi("multi", 64 << 20).await.unwrap();

    // Each gateway writes three whole objects and a partial overwrite
    // straddling two objects written by another gateway.
    let osz = 4usize << 20;
    let expect = write_from_every_gateway(&clients, vid, 3, 1, 5000).await;
    // Everything reads back identical through every gateway.
    for (g, c) in clients.iter().enumerate() {
        let got = c.vdi_read(vid, 0, 9 * osz).await.unwrap();
        assert!(got == expect[..9 * osz], "gateway {g} read differs");
    }

    // Every data object has exactly 2 replicas, where the ring says.
    let addrs: Vec<_> = nodes.iter().map(|n| n.addr).collect();
    let ci_epoch = assert_placement(&clients, &addrs, &members, vid, 9, 2, "multi").await;
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
    let h = Request::Client(sheep_proto::ClientOp::RemoveObj(ObjReq {
        oid: Oid(victim),
        ..ObjReq::default()
    }))
    .to_header(ReqFlags::EMPTY, 0);
    clients[2].call(h, Bytes::new()).await.unwrap();
    for c in &clients {
        assert!(!holds(c, ci_epoch, victim).await);
    }
    drop(nodes);
}
