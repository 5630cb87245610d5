//! Daemon tests on loopback: format, VDIs, object I/O, snapshots, clones,
//! locks, attributes, pipelining and restart persistence.

mod support;

use bytes::Bytes;
use sheep_client::{req_for, rsp_arm, vdi_rsp, ClientError};
use sheep_proto::cluster_info::padded;
use sheep_proto::oid::{Oid, SD_INODE_HEADER_SIZE};
use sheep_proto::payload::NodeList;
use sheep_proto::{
    AdminOp, ClientOp, ClusterInfo, ClusterReq, NoArgs, ObjReq, PeerOp, ReqFlags, ReqHeader,
    Request, RspArm, SdResult, SdStatus, VdiAttr, VdiReq,
};
use support::Daemon;

fn client(op: ClientOp) -> ReqHeader {
    req_for(Request::Client(op))
}

fn admin(op: AdminOp) -> ReqHeader {
    req_for(Request::Admin(op))
}

fn obj(oid: u64) -> ObjReq {
    ObjReq {
        oid: Oid(oid),
        ..ObjReq::default()
    }
}

/// The result of a failed call.
fn sd_err<T>(r: Result<T, ClientError>) -> Option<SdResult> {
    r.err().and_then(|e| e.sd_result())
}

const NO: NoArgs = NoArgs { _rsvd: [0; 32] };

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn format_and_cluster_state() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), 0).await;
    let c = d.client().await;
    // Before format: object ops wait, force ops answer.
    let h = client(ClientOp::ReadObj(ObjReq::default()));
    let (r, _) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!(r.result, SdResult::WaitForFormat);
    let stat_cluster = admin(AdminOp::StatCluster(ClusterReq {
        nodes_nr: 0,
        ..ClusterReq::default()
    }));
    let mut h = stat_cluster.clone();
    h.data_length = 48;
    let (r, p) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!((r.result, p.len()), (SdResult::WaitForFormat, 0));
    let mut h = admin(AdminOp::ClusterInfo(NO));
    h.data_length = ClusterInfo::SIZE as u32;
    let (r, p) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!((r.result, p.len()), (SdResult::Success, ClusterInfo::SIZE));
    let ci: ClusterInfo = sdwire::from_slice(&p, 0).unwrap();
    assert_eq!(ci.header.status, SdStatus::Wait);
    let mut h = client(ClientOp::ReadVdis(NO));
    h.data_length = 2_097_152;
    let (r, p) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!((r.result, p.len()), (SdResult::Success, 2_097_152));

    c.make_fs(1, 22).await.unwrap();
    let mut h = stat_cluster.clone();
    h.data_length = 48;
    let (r, p) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!((r.result, r.epoch, p.len()), (SdResult::Success, 1, 48));
    let log: sheep_proto::EpochLog = sdwire::from_slice(&p, 0).unwrap();
    assert_eq!(log.epoch, 1);
    let mut h = admin(AdminOp::GetNodeList(NO));
    h.data_length = 491_520;
    let (r, p) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!((r.result, p.len()), (SdResult::Success, 80));
    let nodes: NodeList = sdwire::from_slice(&p, 0).unwrap();
    assert_eq!(nodes.nodes[0].socket_addr(), d.addr);
    match rsp_arm(&r) {
        RspArm::Node(n) => assert_eq!(n.nr_nodes, 1),
        other => panic!("{other:?}"),
    }
    let h = client(ClientOp::GetClusterDefault(NO));
    let (r, _) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!(r.result, SdResult::Success);
    match rsp_arm(&r) {
        RspArm::ClusterDefault(d) => assert_eq!((d.nr_copies, d.block_size_shift), (1, 22)),
        other => panic!("{other:?}"),
    }
    let (r, _) = c
        .raw(admin(AdminOp::StatSheep(NO)), Bytes::new())
        .await
        .unwrap();
    assert_eq!(r.result, SdResult::Success);
    match rsp_arm(&r) {
        RspArm::Node(n) => assert!(n.store_size > 0 && n.store_free <= n.store_size),
        other => panic!("{other:?}"),
    }
    let mut h = admin(AdminOp::StatRecovery(NO));
    h.data_length = 24;
    let (r, p) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!((r.result, p.len()), (SdResult::Success, 24));
    let mut h = admin(AdminOp::ClusterInfo(NO));
    h.data_length = ClusterInfo::SIZE as u32;
    let (_, p) = c.raw(h, Bytes::new()).await.unwrap();
    let ci: ClusterInfo = sdwire::from_slice(&p, 0).unwrap();
    assert_eq!(
        (
            ci.header.status,
            ci.header.block_size_shift,
            ci.header.default_store
        ),
        (SdStatus::Ok, 22, padded::<16>(b"plain"))
    );
    assert_eq!((ci.header.nr_nodes, ci.nodes[0].socket_addr()), (1, d.addr));
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vdi_lifecycle_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), 0).await;
    let c = d.unix_client().await;
    c.make_fs(1, 22).await.unwrap();
    let vid = c.new_vdi("test", 64 << 20).await.unwrap();
    assert_eq!(vid, 0x7c2b25);
    assert_eq!(
        sd_err(c.new_vdi("test", 1 << 20).await),
        Some(SdResult::VdiExist)
    );
    assert_eq!(
        sd_err(c.get_vdi_info("nope", "", 0).await),
        Some(SdResult::NoVdi)
    );
    assert_eq!(c.get_vdi_info("test", "", 0).await.unwrap(), vid);

    // Inode reads the way tgtd does them.
    let ino = c.read_obj(Oid::inode(vid).0, 0, 4_198_968).await.unwrap();
    assert_eq!(ino.len(), 4_198_968);
    assert_eq!(&ino[..4], b"test");
    assert_eq!(ino[555], 22);
    assert_eq!(
        u64::from_le_bytes(ino[536..544].try_into().unwrap()),
        64 << 20
    );

    // Data: inside an object, across the 4 MiB boundary, and holes.
    let a = pattern(8192, 1);
    c.vdi_write(vid, 4096, &a).await.unwrap();
    let b = pattern(3 << 20, 2);
    c.vdi_write(vid, (4 << 20) - (1 << 20), &b).await.unwrap();
    assert_eq!(c.vdi_read(vid, 4096, 8192).await.unwrap(), a);
    assert_eq!(
        c.vdi_read(vid, (4 << 20) - (1 << 20), 3 << 20)
            .await
            .unwrap(),
        b
    );
    assert_eq!(c.vdi_read(vid, 0, 4096).await.unwrap(), vec![0; 4096]);
    assert_eq!(
        c.vdi_read(vid, 40 << 20, 4096).await.unwrap(),
        vec![0; 4096]
    );
    // The partial create zero-filled the rest of object 0.
    let o0 = c.read_obj(Oid::data(vid, 0).0, 0, 4096).await.unwrap();
    assert_eq!(&o0[..], &[0u8; 4096][..]);
    // A retried create of an existing object is a write.
    c.create_and_write_obj(Oid::data(vid, 0).0, None, 0, vec![9u8; 16])
        .await
        .unwrap();
    assert_eq!(
        &c.read_obj(Oid::data(vid, 0).0, 0, 16).await.unwrap()[..],
        &[9u8; 16]
    );
    assert_eq!(c.vdi_read(vid, 4096, 8192).await.unwrap(), a);

    // Snapshot: frozen image keeps the vid, working VDI moves.
    let (snap, work) = c.snapshot("test", "s1").await.unwrap();
    assert_eq!((snap, work), (vid, vid + 1));
    assert_eq!(c.get_vdi_info("test", "", 0).await.unwrap(), work);
    assert_eq!(c.get_vdi_info("test", "s1", 0).await.unwrap(), snap);
    assert_eq!(c.get_vdi_info("test", "", 1).await.unwrap(), snap);
    assert_eq!(
        sd_err(c.get_vdi_info("test", "s2", 0).await),
        Some(SdResult::NoTag)
    );
    // Writes into the snapshot's objects and inode are refused.
    assert_eq!(
        sd_err(c.write_obj(Oid::data(snap, 0).0, 0, vec![1u8; 8]).await),
        Some(SdResult::Readonly)
    );
    assert_eq!(
        sd_err(
            c.create_and_write_obj(Oid::data(snap, 5).0, None, 0, vec![1u8; 8])
                .await
        ),
        Some(SdResult::Readonly)
    );
    assert_eq!(
        sd_err(
            c.write_obj(
                Oid::inode(snap).0,
                SD_INODE_HEADER_SIZE as u32,
                vec![1u8; 4]
            )
            .await
        ),
        Some(SdResult::Readonly)
    );
    // The working VDI inherits the data, COW on write.
    assert_eq!(c.index_entry(work, 0).await.unwrap(), snap);
    let n = pattern(4096, 3);
    c.vdi_write(work, 8192, &n).await.unwrap();
    assert_eq!(c.index_entry(work, 0).await.unwrap(), work);
    let mut expect = a.clone();
    expect[4096..].copy_from_slice(&n);
    assert_eq!(c.vdi_read(work, 4096, 8192).await.unwrap(), expect);
    assert_eq!(c.vdi_read(snap, 4096, 8192).await.unwrap(), a);

    // Clone of the snapshot.
    let cl = c.clone_vdi(snap, "clone1").await.unwrap();
    assert_eq!(cl, 0xc8f989);
    assert_eq!(c.vdi_read(cl, 4096, 8192).await.unwrap(), a);

    // Locks.
    assert_eq!(c.lock_vdi("test", 1).await.unwrap(), work);
    assert_eq!(c.lock_vdi("test", 1).await.unwrap(), work);
    assert_eq!(
        sd_err(c.lock_vdi("test", 0).await),
        Some(SdResult::VdiLocked)
    );
    let mut h = client(ClientOp::ReleaseVdi(VdiReq {
        base_vdi_id: work,
        lock_type: 1,
        ..VdiReq::default()
    }));
    h.proto_ver = 0;
    let (r, _) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!(r.result, SdResult::Success);
    assert_eq!(
        sd_err(c.release_vdi(work).await),
        Some(SdResult::VdiNotLocked)
    );

    // Attributes.
    let attr = |key: &str, val: &[u8], fl: ReqFlags| {
        let mut a = VdiAttr {
            name: padded(b"test"),
            key: padded(key.as_bytes()),
            value_len: val.len() as u32,
            ..VdiAttr::default()
        };
        a.value[..val.len()].copy_from_slice(val);
        let h = Request::Admin(AdminOp::GetVdiAttr(VdiReq::default())).to_header(fl, 0);
        (h, sdwire::to_bytes(&a, 0).unwrap())
    };
    let (h, p) = attr("k1", b"v1", ReqFlags::CREAT);
    let (r, _) = c.raw(h, p).await.unwrap();
    assert_eq!((r.result, vdi_rsp(&r).vdi_id), (SdResult::Success, work));
    let attr_id = vdi_rsp(&r).attr_id;
    let (h, p) = attr("k1", b"", ReqFlags::CREAT | ReqFlags::EXCL);
    assert_eq!(c.raw(h, p).await.unwrap().0.result, SdResult::VdiExist);
    let (h, p) = attr("k1", b"", ReqFlags::EMPTY);
    let (r, _) = c.raw(h, p).await.unwrap();
    assert_eq!(
        (r.result, vdi_rsp(&r).attr_id),
        (SdResult::Success, attr_id)
    );
    let v = c
        .read_obj(Oid::attr(work, attr_id).0, 0, 66_320)
        .await
        .unwrap();
    let stored: VdiAttr = sdwire::from_slice(&v, 0).unwrap();
    assert_eq!(&stored.value[..2], b"v1");
    let (h, p) = attr("k1", b"", ReqFlags::DEL);
    assert_eq!(c.raw(h, p).await.unwrap().0.result, SdResult::Success);
    let (h, p) = attr("k1", b"", ReqFlags::EMPTY);
    assert_eq!(c.raw(h, p).await.unwrap().0.result, SdResult::NoObj);

    // Delete a throwaway VDI: bitmaps.
    let tmp = c.new_vdi("tmp", 8 << 20).await.unwrap();
    c.vdi_write(tmp, 0, &[5u8; 512]).await.unwrap();
    c.del_vdi("tmp", "", 0).await.unwrap();
    assert_eq!(
        sd_err(c.get_vdi_info("tmp", "", 0).await),
        Some(SdResult::NoVdi)
    );
    assert_eq!(
        sd_err(c.read_obj(Oid::data(tmp, 0).0, 0, 1).await),
        Some(SdResult::NoObj)
    );
    let mut h = admin(AdminOp::ReadDelVdis(NO));
    h.data_length = 2_097_152;
    let (_, p) = c.raw(h, Bytes::new()).await.unwrap();
    assert_ne!(p[(tmp / 8) as usize] & (1 << (tmp % 8)), 0);

    drop(c);
    d.stop().await;

    // Restart on the same directory: everything is still there.
    let d = Daemon::start(dir.path(), 0).await;
    let c = d.client().await;
    assert_eq!(c.get_vdi_info("test", "", 0).await.unwrap(), work);
    assert_eq!(c.get_vdi_info("test", "s1", 0).await.unwrap(), snap);
    assert_eq!(c.get_vdi_info("clone1", "", 0).await.unwrap(), cl);
    assert_eq!(c.vdi_read(work, 4096, 8192).await.unwrap(), expect);
    assert_eq!(c.vdi_read(snap, 4096, 8192).await.unwrap(), a);
    assert_eq!(
        c.vdi_read(work, (4 << 20) - (1 << 20), 3 << 20)
            .await
            .unwrap(),
        b
    );
    assert_eq!(
        sd_err(c.write_obj(Oid::data(snap, 0).0, 0, vec![1u8; 8]).await),
        Some(SdResult::Readonly)
    );
    let h = client(ClientOp::GetClusterDefault(NO));
    let (r, _) = c.raw(h, Bytes::new()).await.unwrap();
    // The node came back on another port: a membership change, new epoch.
    assert_eq!((r.result, r.epoch), (SdResult::Success, 2));
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pipelined_requests_and_shutdown_op() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), 0).await;
    let c = std::sync::Arc::new(d.client().await);
    c.make_fs(1, 22).await.unwrap();
    let vid = c.new_vdi("p", 64 << 20).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..64u32 {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let oid = Oid::data(vid, i % 8).0;
            let data = vec![i as u8; 4096];
            c.create_and_write_obj(oid, None, (i / 8) * 4096, data.clone())
                .await
                .unwrap();
            let back = c.read_obj(oid, (i / 8) * 4096, 4096).await.unwrap();
            assert_eq!(&back[..], &data[..]);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Peer op with an old epoch.
    let mut h = req_for(Request::Peer(PeerOp::ReadPeer(obj(Oid::data(vid, 0).0))));
    h.data_length = 16;
    let (r, p) = c.raw(h.clone(), Bytes::new()).await.unwrap();
    assert_eq!((r.result, p.len()), (SdResult::OldNodeVer, 0));
    // A newer epoch is parked, then answered (never forever).
    h.epoch = 9;
    let (r, _) = c.raw(h.clone(), Bytes::new()).await.unwrap();
    assert_eq!(r.result, SdResult::NewNodeVer);
    h.epoch = 1;
    let (r, p) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!((r.result, p.len()), (SdResult::Success, 16));
    // GET_HASH.
    let h = admin(AdminOp::GetHash(obj(Oid::data(vid, 0).0)));
    let (r, _) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!(r.result, SdResult::Success);
    match rsp_arm(&r) {
        RspArm::Hash(hr) => assert_ne!(hr.digest, [0u8; 20]),
        other => panic!("{other:?}"),
    }
    // SHUTDOWN stops the daemon.
    c.shutdown().await.unwrap();
    d.stop().await;
}

/// SHUTDOWN sent behind pipelined reads on the same connection: every
/// read is answered in full (small ones from memory, large ones with
/// sendfile), SHUTDOWN is answered, and then the daemon stops by itself.
/// The daemon runs on a runtime of its own that is dropped as soon as
/// `run` returns, like the process exiting: answers still in flight then
/// would be lost, so `run` must have written them out first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_answers_the_requests_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let path = dir.path().to_path_buf();
    let daemon = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let r = rt.block_on(async {
            let l = sheep::server::Listeners::bind("127.0.0.1:0".parse().unwrap(), &path)
                .await
                .unwrap();
            addr_tx.send(l.tcp_addr().unwrap()).unwrap();
            let cfg = sheep::server::Config::new(&path, l.tcp_addr().unwrap());
            sheep::server::run(cfg, l, std::future::pending()).await
        });
        drop(rt);
        r
    });
    let addr = addr_rx.recv().unwrap();
    let c = std::sync::Arc::new(
        sheep_client::Client::connect(&sheep_client::Target::Tcp(addr))
            .await
            .unwrap(),
    );
    c.make_fs(1, 22).await.unwrap();
    let data: Vec<u8> = (0..4u32 << 20).map(|i| (i * 13 + i / 997) as u8).collect();
    let oid = Oid::data(0x42, 0).0;
    c.create_and_write_obj(oid, None, 0, data.clone())
        .await
        .unwrap();
    // Polled in order on one task: every read is on the wire before SHUTDOWN.
    // 48 reads, 4 KiB to 1 MiB (both payload paths), about 30 MiB: more
    // than the socket buffers hold, so answers are still being written
    // when SHUTDOWN is applied.
    let reads = futures::future::join_all((0..48u32).map(|i| {
        let c = c.clone();
        let (off, len) = (i * 60_000, if i % 8 == 0 { 4096 } else { 1 << 20 });
        async move { (off, len, c.read_obj(oid, off, len).await) }
    }));
    let (reads, stop) = tokio::join!(reads, c.shutdown());
    for (off, len, got) in reads {
        let got = got.expect("read sent before SHUTDOWN is answered");
        assert!(
            got[..] == data[off as usize..(off + len) as usize],
            "read at {off}"
        );
    }
    stop.expect("SHUTDOWN answered");
    let stopped = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        tokio::task::spawn_blocking(move || daemon.join()),
    )
    .await
    .expect("daemon did not stop after SHUTDOWN");
    stopped.unwrap().unwrap().unwrap();
}
