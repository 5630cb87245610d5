//! Errors keep their meaning across a hop: when a replica answers a
//! gateway's peer request with a sheepdog result (NO_SPACE, HALT, ...),
//! the client of the gateway gets that result, not a generic EIO.
//!
//! A gateway sheep is started with a view holding itself and a fake peer
//! that answers every request with one fixed result; a write through the
//! gateway (copies = 2, so the fake peer is a replica) must fail with
//! exactly that result, and a read of an object only the fake peer holds
//! too.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::StreamExt;
use sdwire::codec::{Frame, FrameCodec};
use sheep::config::Config;
use sheep::replication::replicas::ClusterView;
use sheep::server::{self, Listeners, State};
use sheep_client::{Client, Target};
use sheep_proto::oid::Oid;
use sheep_proto::{ReqHeader, RspHeader, SdNode, SdResult};

/// A fake peer on loopback answering every request with `result`.
async fn peer_answering(result: SdResult) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut rd =
                    tokio_util::codec::FramedRead::new(r, FrameCodec::<ReqHeader>::new(0, 1 << 24));
                while let Some(Ok(f)) = rd.next().await {
                    let f: Frame<ReqHeader> = f;
                    let rsp = RspHeader::for_request(&f.header, result, f.header.epoch);
                    let out = rsp.to_bytes().to_vec();
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
    addr
}

/// A gateway formatted with `copies` whose view is itself and `peer`, and
/// a client connected to it.
async fn gateway_with(peer: SocketAddr, copies: u8) -> (tempfile::TempDir, Arc<State>, Client) {
    let dir = tempfile::tempdir().unwrap();
    let l = Listeners::bind("127.0.0.1:0".parse().unwrap(), dir.path())
        .await
        .unwrap();
    let me = l.tcp_addr().unwrap();
    let mut cfg = Config::new(dir.path(), me);
    cfg.sync = false;
    let st = State::open(cfg).unwrap();
    tokio::spawn(server::serve(st.clone(), l, std::future::pending()));
    let c = Client::connect(&Target::Tcp(me)).await.unwrap();
    c.make_fs(copies, 22).await.unwrap();
    let node = |a: SocketAddr, zone: u32| {
        let mut n = SdNode::new(a, 128, 1 << 30);
        n.zone = zone;
        n
    };
    let view = ClusterView::new(&[node(me, 1), node(peer, 2)], st.epoch(), me);
    st.replicas.set_view(view);
    (dir, st, c)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replicas_result_reaches_the_client_as_that_result() {
    for want in [SdResult::NoSpace, SdResult::Halt, SdResult::Readonly] {
        let peer = peer_answering(want).await;
        let (_dir, _st, c) = gateway_with(peer, 2).await;
        let oid = Oid::data(0x42, 0).0;
        let err = c
            .create_and_write_obj(oid, None, 0, vec![7u8; 512])
            .await
            .expect_err("the fake replica refuses every write");
        assert_eq!(err.sd_result(), Some(want), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_from_a_failing_replica_answers_its_result() {
    let peer = peer_answering(SdResult::Halt).await;
    // One copy: an object placed on the fake peer is read from it alone.
    let (_dir, st, c) = gateway_with(peer, 1).await;
    let view = st.replicas.view().expect("a view is installed");
    let on_peer = (0..)
        .map(|idx| Oid::data(0x42, idx).0)
        .find(|&oid| {
            let r = view.replicas(oid, 1);
            r.len() == 1 && view.nodes[r[0]].socket_addr() == peer
        })
        .expect("some object lands on the peer");
    let err = c
        .read_obj(on_peer, 0, 512)
        .await
        .expect_err("its only replica answers HALT");
    assert_eq!(err.sd_result(), Some(SdResult::Halt), "{err}");
}
