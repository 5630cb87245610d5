//! The node admin ops the C dog's `node` verbs send, answered as sheepdog
//! 1.0 answers them: STAT (`dog node stat`).

mod support;

use bytes::Bytes;
use sheep::client::req_for;
use sheep::proto::oid::Oid;
use sheep::proto::{AdminOp, NoArgs, Request, SdResult, SdStat};
use support::Daemon;

async fn stat(c: &sheep::client::Client) -> SdStat {
    let mut h = req_for(Request::Admin(AdminOp::Stat(NoArgs::default())));
    h.data_length = 120;
    let (r, p) = c.raw(h, Bytes::new()).await.unwrap();
    assert_eq!(r.result, SdResult::Success);
    assert_eq!(p.len(), 120, "sizeof(struct sd_stat)");
    sdwire::from_slice(&p, 0).unwrap()
}

/// STAT counts gateway object I/O as sheepdog does (sheep/request.c):
/// requests, bytes in (WRITE payloads) and out (asked-for lengths), reads
/// and writes; VDI ops and STAT itself are not counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stat_counts_gateway_requests() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), 0).await;
    let c = d.client().await;
    c.make_fs(1, 22).await.unwrap();
    assert_eq!(stat(&c).await, SdStat::default(), "nothing counted yet");

    let vid = c.new_vdi("s", 64 << 20).await.unwrap();
    let oid = Oid::data(vid, 0).0;
    c.create_and_write_obj(oid, None, 0, vec![7u8; 4096])
        .await
        .unwrap();
    c.write_obj(oid, 4096, vec![8u8; 512]).await.unwrap();
    c.read_obj(oid, 0, 8192).await.unwrap();
    c.read_obj(oid, 0, 100).await.unwrap();

    let s = stat(&c).await;
    assert_eq!(s.gway_total_nr, 4);
    assert_eq!(s.gway_total_write_nr, 2);
    assert_eq!(s.gway_total_read_nr, 2);
    assert_eq!(s.gway_total_rx, 4096 + 512);
    assert_eq!(s.gway_total_tx, 8192 + 100);
    assert_eq!(s.gway_active_nr, 0);
    assert_eq!(s.gway_total_remove_nr + s.gway_total_flush_nr, 0);
    d.stop().await;
}
