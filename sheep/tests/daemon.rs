//! Daemon tests on loopback: format, VDIs, object I/O, snapshots, clones,
//! locks, attributes, pipelining and restart persistence.

mod support;

use bytes::Bytes;
use sheep::client::{req, ClientError};
use sheep::net::frame::{flags, op, res};
use sheep::proto::oid::{Oid, SD_INODE_HEADER_SIZE};
use support::Daemon;

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
    let (r, _) = c.raw(req(op::READ_OBJ), Bytes::new()).await.unwrap();
    assert_eq!(r.result(), res::WAIT_FOR_FORMAT);
    let mut h = req(op::STAT_CLUSTER);
    h.data_length = 48;
    let (r, p) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!((r.result(), p.len()), (res::WAIT_FOR_FORMAT, 0));
    let mut h = req(op::CLUSTER_INFO);
    h.data_length = 491_568;
    let (r, p) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!((r.result(), p.len(), p[20]), (0, 491_568, 2));
    let mut h = req(op::READ_VDIS);
    h.data_length = 2_097_152;
    let (r, p) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!((r.result(), p.len()), (0, 2_097_152));

    c.make_fs(1, 22).await.unwrap();
    let mut h = req(op::STAT_CLUSTER);
    h.data_length = 48;
    let (r, p) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!((r.result(), r.epoch, p.len()), (0, 1, 48));
    assert_eq!(u32::from_le_bytes(p[16..20].try_into().unwrap()), 1);
    let mut h = req(op::GET_NODE_LIST);
    h.data_length = 491_520;
    let (r, p) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!((r.result(), r.u32_at(20), p.len()), (0, 1, 80));
    let (r, _) = c
        .raw(req(op::GET_CLUSTER_DEFAULT), Bytes::new())
        .await
        .unwrap();
    assert_eq!((r.result(), r.u8_at(20), r.u8_at(22)), (0, 1, 22));
    let (r, _) = c.raw(req(op::STAT_SHEEP), Bytes::new()).await.unwrap();
    assert_eq!(r.result(), 0);
    assert!(r.u64_at(32) > 0);
    let mut h = req(op::STAT_RECOVERY);
    h.data_length = 24;
    let (r, p) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!((r.result(), p.len()), (0, 24));
    let mut h = req(op::CLUSTER_INFO);
    h.data_length = 491_568;
    let (_, p) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!((p[20], p[21], &p[25..30]), (1, 22, &b"plain"[..]));
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
    assert!(matches!(
        c.new_vdi("test", 1 << 20).await,
        Err(ClientError::Result(res::VDI_EXIST))
    ));
    assert!(matches!(
        c.get_vdi_info("nope", "", 0).await,
        Err(ClientError::Result(res::NO_VDI))
    ));
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
    assert!(matches!(
        c.get_vdi_info("test", "s2", 0).await,
        Err(ClientError::Result(res::NO_TAG))
    ));
    // Writes into the snapshot's objects and inode are refused.
    assert!(matches!(
        c.write_obj(Oid::data(snap, 0).0, 0, vec![1u8; 8]).await,
        Err(ClientError::Result(res::READONLY))
    ));
    assert!(matches!(
        c.create_and_write_obj(Oid::data(snap, 5).0, None, 0, vec![1u8; 8])
            .await,
        Err(ClientError::Result(res::READONLY))
    ));
    assert!(matches!(
        c.write_obj(
            Oid::inode(snap).0,
            SD_INODE_HEADER_SIZE as u32,
            vec![1u8; 4]
        )
        .await,
        Err(ClientError::Result(res::READONLY))
    ));
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
    assert!(matches!(
        c.lock_vdi("test", 0).await,
        Err(ClientError::Result(res::VDI_LOCKED))
    ));
    let mut h = req(op::RELEASE_VDI);
    h.proto_ver = 0;
    h.set_u32(24, work).set_u32(36, 1);
    let (r, _) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!(r.result(), 0);
    assert!(matches!(
        c.release_vdi(work).await,
        Err(ClientError::Result(res::VDI_NOT_LOCKED))
    ));

    // Attributes.
    let attr = |key: &str, val: &[u8], fl: u16| {
        let mut p = vec![0u8; 66_320];
        p[..4].copy_from_slice(b"test");
        p[528..528 + key.len()].copy_from_slice(key.as_bytes());
        p[524..528].copy_from_slice(&(val.len() as u32).to_le_bytes());
        p[784..784 + val.len()].copy_from_slice(val);
        let mut h = req(op::GET_VDI_ATTR);
        h.flags = fl;
        (h, Bytes::from(p))
    };
    let (h, p) = attr("k1", b"v1", flags::CREAT);
    let (r, _) = c.raw(h, p).await.unwrap();
    assert_eq!((r.result(), r.u32_at(24)), (0, work));
    let attr_id = r.u32_at(28);
    let (h, p) = attr("k1", b"", flags::CREAT | flags::EXCL);
    assert_eq!(c.raw(h, p).await.unwrap().0.result(), res::VDI_EXIST);
    let (h, p) = attr("k1", b"", 0);
    let (r, _) = c.raw(h, p).await.unwrap();
    assert_eq!((r.result(), r.u32_at(28)), (0, attr_id));
    let v = c
        .read_obj(Oid::attr(work, attr_id).0, 784, 2)
        .await
        .unwrap();
    assert_eq!(&v[..], b"v1");
    let (h, p) = attr("k1", b"", flags::DEL);
    assert_eq!(c.raw(h, p).await.unwrap().0.result(), 0);
    let (h, p) = attr("k1", b"", 0);
    assert_eq!(c.raw(h, p).await.unwrap().0.result(), res::NO_OBJ);

    // Delete a throwaway VDI: bitmaps.
    let tmp = c.new_vdi("tmp", 8 << 20).await.unwrap();
    c.vdi_write(tmp, 0, &[5u8; 512]).await.unwrap();
    c.del_vdi("tmp", "", 0).await.unwrap();
    assert!(matches!(
        c.get_vdi_info("tmp", "", 0).await,
        Err(ClientError::Result(res::NO_VDI))
    ));
    assert!(matches!(
        c.read_obj(Oid::data(tmp, 0).0, 0, 1).await,
        Err(ClientError::Result(res::NO_OBJ))
    ));
    let mut h = req(op::READ_DEL_VDIS);
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
    assert!(matches!(
        c.write_obj(Oid::data(snap, 0).0, 0, vec![1u8; 8]).await,
        Err(ClientError::Result(res::READONLY))
    ));
    let (r, _) = c
        .raw(req(op::GET_CLUSTER_DEFAULT), Bytes::new())
        .await
        .unwrap();
    // The node came back on another port: a membership change, new epoch.
    assert_eq!((r.result(), r.epoch), (0, 2));
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
    let mut h = req(op::READ_PEER);
    h.data_length = 16;
    h.set_u64(16, Oid::data(vid, 0).0);
    let (r, p) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!((r.result(), p.len()), (res::OLD_NODE_VER, 0));
    // A newer epoch is parked, then answered (never forever).
    h.epoch = 9;
    let (r, _) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!(r.result(), res::NEW_NODE_VER);
    h.epoch = 1;
    let (r, p) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!((r.result(), p.len()), (0, 16));
    // GET_HASH.
    let mut h = req(op::GET_HASH);
    h.set_u64(16, Oid::data(vid, 0).0);
    let (r, _) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!(r.result(), 0);
    assert_ne!(&r.body[8..28], &[0u8; 20]);
    // SHUTDOWN stops the daemon.
    c.shutdown().await.unwrap();
    d.stop().await;
}
