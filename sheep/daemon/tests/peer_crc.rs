//! Peer protocol 0x0b against one daemon, with hand-built peer requests:
//! a payload whose CRC32C does not match is answered EIO and nothing is
//! stored; a matching one is stored; a 0x0a request (no CRC, whatever its
//! reserved tail holds) is stored as before; READ_PEER answers carry the
//! CRC at 0x0b only; versions outside the window, or above a node's
//! `--peer-version` cap, are answered VER_MISMATCH.

mod support;

use bytes::Bytes;
use sheep::cluster::join::Versions;
use sheep_client::Client;
use sheep_proto::oid::Oid;
use sheep_proto::{ObjReq, PeerOp, ReqFlags, Request, RspArm, RspHeader, SdResult};
use support::Daemon;

const EPOCH: u32 = 1;

fn obj(oid: u64, offset: u32, crc: u32) -> ObjReq {
    ObjReq {
        oid: Oid(oid),
        offset,
        payload_crc32c: crc,
        ..ObjReq::default()
    }
}

/// Sends `op` stamped `ver` with `payload` (WRITE set when non-empty) and
/// `len` as data_length for reads.
async fn send(c: &Client, op: PeerOp, ver: u8, len: u32, payload: &[u8]) -> (RspHeader, Bytes) {
    let mut h = Request::Peer(op)
        .to_header_at(ReqFlags::EMPTY, len, ver)
        .unwrap();
    h.epoch = EPOCH;
    c.raw(h, Bytes::copy_from_slice(payload)).await.unwrap()
}

/// READ_PEER at 0x0a: the stored bytes, or the error.
async fn stored(c: &Client, oid: u64, len: u32) -> Result<Bytes, SdResult> {
    let (r, p) = send(c, PeerOp::ReadPeer(obj(oid, 0, 0)), 0x0a, len, &[]).await;
    if r.result == SdResult::Success {
        Ok(p)
    } else {
        Err(r.result)
    }
}

fn data(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_payload_crc_is_checked_before_storing() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), 0).await;
    let c = d.client().await;
    c.make_fs(1, 22).await.unwrap();
    let oid = Oid::data(0x4242, 0).0;
    let a = data(1, 4096);
    let good = crc32c::crc32c(&a);

    // CREATE_AND_WRITE_PEER at 0x0b with a wrong CRC: EIO, not created.
    let (r, p) = send(
        &c,
        PeerOp::CreateAndWritePeer(obj(oid, 0, good ^ 1)),
        0x0b,
        0,
        &a,
    )
    .await;
    assert_eq!((r.result, p.len()), (SdResult::Eio, 0));
    assert_eq!(stored(&c, oid, 4096).await, Err(SdResult::NoObj));

    // The right CRC: created.
    let (r, _) = send(
        &c,
        PeerOp::CreateAndWritePeer(obj(oid, 0, good)),
        0x0b,
        0,
        &a,
    )
    .await;
    assert_eq!(r.result, SdResult::Success);
    assert_eq!(stored(&c, oid, 4096).await.unwrap(), a);

    // WRITE_PEER at 0x0b with a wrong CRC: EIO, the object is unchanged.
    let b = data(2, 512);
    let (r, _) = send(
        &c,
        PeerOp::WritePeer(obj(oid, 1024, crc32c::crc32c(&b).wrapping_add(1))),
        0x0b,
        0,
        &b,
    )
    .await;
    assert_eq!(r.result, SdResult::Eio);
    assert_eq!(stored(&c, oid, 4096).await.unwrap(), a);
    // A CRC of 0 is not "no CRC" at 0x0b.
    let (r, _) = send(&c, PeerOp::WritePeer(obj(oid, 1024, 0)), 0x0b, 0, &b).await;
    assert_eq!(r.result, SdResult::Eio);
    assert_eq!(stored(&c, oid, 4096).await.unwrap(), a);

    // The right CRC: written.
    let (r, _) = send(
        &c,
        PeerOp::WritePeer(obj(oid, 1024, crc32c::crc32c(&b))),
        0x0b,
        0,
        &b,
    )
    .await;
    assert_eq!(r.result, SdResult::Success);
    let mut want = a.clone();
    want[1024..1536].copy_from_slice(&b);
    assert_eq!(stored(&c, oid, 4096).await.unwrap(), want);

    // 0x0a: no CRC; stale bytes in the (reserved) tail are ignored, as a
    // sheepdog 1.0 sender may leave them.
    let e = data(3, 256);
    let mut h = Request::Peer(PeerOp::WritePeer(obj(oid, 2048, 0)))
        .to_header_at(ReqFlags::EMPTY, 0, 0x0a)
        .unwrap();
    h.epoch = EPOCH;
    h.body[28..].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    let (r, _) = c.raw(h, Bytes::copy_from_slice(&e)).await.unwrap();
    assert_eq!(r.result, SdResult::Success);
    want[2048..2304].copy_from_slice(&e);
    assert_eq!(stored(&c, oid, 4096).await.unwrap(), want);
    let oid2 = Oid::data(0x4242, 1).0;
    let (r, _) = send(&c, PeerOp::CreateAndWritePeer(obj(oid2, 0, 0)), 0x0a, 0, &e).await;
    assert_eq!(r.result, SdResult::Success);
    assert_eq!(stored(&c, oid2, 256).await.unwrap(), e);

    // READ_PEER at 0x0b carries the CRC of its payload; at 0x0a those
    // bytes stay zero (the C layout).
    let (r, p) = send(&c, PeerOp::ReadPeer(obj(oid, 0, 0)), 0x0b, 4096, &[]).await;
    assert_eq!((r.result, &p[..]), (SdResult::Success, &want[..]));
    match RspArm::decode_at(r.opcode, &r.body, 0x0b).unwrap() {
        RspArm::Obj(o) => assert_eq!(o.payload_crc32c, crc32c::crc32c(&want)),
        other => panic!("{other:?}"),
    }
    let (r, _) = send(&c, PeerOp::ReadPeer(obj(oid, 0, 0)), 0x0a, 4096, &[]).await;
    assert_eq!(r.result, SdResult::Success);
    assert_eq!(r.body, [0u8; 28]);

    // Outside the peer window: VER_MISMATCH, nothing stored.
    for v in [0x09, 0x0c] {
        let (r, _) = send(&c, PeerOp::WritePeer(obj(oid, 0, 0)), 0x0a, 0, &data(9, 16)).await;
        assert_eq!(r.result, SdResult::Success, "control at 0x0a");
        let mut h = Request::Peer(PeerOp::WritePeer(obj(oid, 0, 0)))
            .to_header_at(ReqFlags::EMPTY, 0, 0x0a)
            .unwrap();
        h.epoch = EPOCH;
        h.proto_ver = v;
        let (r, _) = c.raw(h, Bytes::from(vec![0x77; 16])).await.unwrap();
        assert_eq!(r.result, SdResult::VerMismatch, "proto_ver {v:#x}");
    }
    assert_eq!(&stored(&c, oid, 16).await.unwrap()[..], &data(9, 16)[..]);
    d.stop().await;
}

/// A node capped at 0x0a (`--peer-version 0x0a`) behaves like an older
/// sheep: 0x0b peer requests are refused, 0x0a ones served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capped_node_refuses_newer_peer_requests() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(dir.path(), 0, |cfg| {
        cfg.versions = Versions::capped_peer(0x0a)
    })
    .await;
    let c = d.client().await;
    c.make_fs(1, 22).await.unwrap();
    let oid = Oid::data(0x77, 0).0;
    let a = data(4, 1024);
    let (r, _) = send(
        &c,
        PeerOp::CreateAndWritePeer(obj(oid, 0, crc32c::crc32c(&a))),
        0x0b,
        0,
        &a,
    )
    .await;
    assert_eq!(r.result, SdResult::VerMismatch);
    assert_eq!(stored(&c, oid, 1024).await, Err(SdResult::NoObj));
    let (r, _) = send(&c, PeerOp::CreateAndWritePeer(obj(oid, 0, 0)), 0x0a, 0, &a).await;
    assert_eq!(r.result, SdResult::Success);
    let (r, _) = send(&c, PeerOp::ReadPeer(obj(oid, 0, 0)), 0x0b, 1024, &[]).await;
    assert_eq!(r.result, SdResult::VerMismatch);
    assert_eq!(stored(&c, oid, 1024).await.unwrap(), a);
    d.stop().await;
}

/// A fake peer answering every READ_PEER with `data` and, in the 0x0b obj
/// arm, `crc_of(data)` (wrong on purpose when `lie`). Counts requests.
async fn fake_peer(
    data: Vec<u8>,
    lie: bool,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    use futures::StreamExt;
    use sdwire::codec::{Frame, FrameCodec};
    use sheep_proto::{ObjRsp, ReqHeader};
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = seen.clone();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let data = data.clone();
            let count = count.clone();
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut rd =
                    tokio_util::codec::FramedRead::new(r, FrameCodec::<ReqHeader>::new(0, 1 << 24));
                while let Some(Ok(f)) = rd.next().await {
                    let f: Frame<ReqHeader> = f;
                    count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let mut crc = crc32c::crc32c(&data);
                    if lie {
                        crc ^= 0x8000_0000;
                    }
                    if f.header.proto_ver < 0x0b {
                        crc = 0; // no such field before 0x0b
                    }
                    let mut rsp = RspHeader::for_request(&f.header, SdResult::Success, EPOCH);
                    rsp.data_length = data.len() as u32;
                    rsp.body = RspArm::Obj(ObjRsp {
                        payload_crc32c: crc,
                        ..ObjRsp::default()
                    })
                    .encode_at(u16::from(f.header.proto_ver))
                    .unwrap();
                    let mut out = rsp.to_bytes().to_vec();
                    out.extend_from_slice(&data);
                    if tokio::io::AsyncWriteExt::write_all(&mut w, &out)
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (addr, seen)
}

/// The gateway checks the CRC of READ_PEER answers at 0x0b: a replica whose
/// payload does not match counts as failed (the next replica is asked),
/// and with no good replica the read is EIO. At 0x0a nothing is checked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_rejects_read_replies_with_a_bad_crc() {
    use sheep::config::Config;
    use sheep::replication::replicas::ClusterView;
    use sheep::replication::{Node, ReplicaError};
    use sheep_proto::SdNode;
    use std::sync::atomic::Ordering;

    let me: std::net::SocketAddr = "127.0.0.1:1".parse().unwrap();
    let want = data(5, 4096);
    let mut bad = data(5, 4096);
    bad[100] ^= 1; // what a flipped bit on the way looks like
    let (bad1, seen1) = fake_peer(bad.clone(), true).await;
    let (bad2, seen2) = fake_peer(bad.clone(), true).await;
    let (good, _) = fake_peer(want.clone(), false).await;
    let oid = Oid::data(0x99, 0).0;
    let node = |a: std::net::SocketAddr, z: u32| {
        let mut n = SdNode::new(a, 128, 1 << 30);
        n.zone = z;
        n
    };
    // A gateway node with its own empty store and a view of `peers`.
    let gw = |peers: &[std::net::SocketAddr], ver: u8| {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = Config::new(dir.path(), me);
        cfg.sync = false;
        let n = Node::open(cfg).unwrap();
        let mut members = vec![node(me, 1)];
        for (i, p) in peers.iter().enumerate() {
            members.push(node(*p, i as u32 + 2));
        }
        let mut v = ClusterView::new(&members, EPOCH, me);
        v.links = vec![ver; members.len()];
        n.replicas.set_view(v);
        (dir, n)
    };
    // Two lying replicas (this node holds none): both asked, then EIO.
    let (_dir, r) = gw(&[bad1, bad2], 0x0b);
    match r.replicas.read_copies(&r, oid, 3, 0, 4096).await {
        // Both replicas' answers failed their CRC: EIO, as a replica result.
        Err(ReplicaError::Remote(SdResult::Eio)) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(
        (seen1.load(Ordering::SeqCst), seen2.load(Ordering::SeqCst)),
        (1, 1)
    );
    // A lying and a good replica: the good one's data, whatever the order.
    let (_dir, r) = gw(&[bad1, good], 0x0b);
    assert_eq!(
        r.replicas.read_copies(&r, oid, 3, 0, 4096).await.unwrap(),
        want
    );
    // At 0x0a there is no CRC to check: the first replica's bytes are taken.
    let (_dir, r) = gw(&[bad1], 0x0a);
    assert_eq!(
        r.replicas.read_copies(&r, oid, 2, 0, 4096).await.unwrap(),
        bad
    );
}
