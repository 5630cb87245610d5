//! The node admin ops the C dog's `node` verbs send, answered as sheepdog
//! 1.0 answers them: STAT (`dog node stat`), GET_LOGLEVEL (`dog node log
//! level get`), GET_RECOVERY (`dog node recovery get-throttle`).

mod support;

use bytes::Bytes;
use sheep_client::req_for;
use sheep_proto::oid::Oid;
use sheep_proto::{AdminOp, LogLevel, NoArgs, RecoveryThrottling, Request, SdResult, SdStat};
use support::Daemon;

async fn stat(c: &sheep_client::Client) -> SdStat {
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

/// Sends admin `op` asking for `len` bytes and returns the answer.
async fn ask(c: &sheep_client::Client, op: AdminOp, len: u32) -> (SdResult, Bytes) {
    let mut h = req_for(Request::Admin(op));
    h.data_length = len;
    let (r, p) = c.raw(h, Bytes::new()).await.unwrap();
    (r.result, p)
}

/// GET_LOGLEVEL (`dog node log level get`): the daemon's level on
/// sheepdog's syslog scale, 4 bytes (this test process logs warnings and
/// worse: 4); GET_RECOVERY (`dog node recovery get-throttle`): no
/// throttling, all zero, 24 bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loglevel_and_recovery_throttle() {
    let sub = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::WARN)
        .with_writer(std::io::sink)
        .finish();
    tracing::subscriber::set_global_default(sub).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), 0).await;
    let c = d.client().await;
    let (r, p) = ask(&c, AdminOp::GetLoglevel(NoArgs::default()), 4).await;
    assert_eq!((r, p.len()), (SdResult::Success, 4));
    assert_eq!(sdwire::from_slice::<LogLevel>(&p, 0).unwrap().level, 4);
    let (r, p) = ask(&c, AdminOp::GetRecovery(NoArgs::default()), 24).await;
    assert_eq!((r, p.len()), (SdResult::Success, 24));
    assert_eq!(
        sdwire::from_slice::<RecoveryThrottling>(&p, 0).unwrap(),
        RecoveryThrottling::default()
    );
    d.stop().await;
}
