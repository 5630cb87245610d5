//! Version 1 of the cluster protocol, byte for byte, through the cluster
//! layer's own codecs: every format the cluster layer writes or reads
//! (driver records, the join message and reply, the MAKE_FS and SHUTDOWN
//! notices, the local driver's log frame, the member key, the on-disk
//! config and epoch files) is compared against golden bytes recorded from
//! commit 185809b, in both directions: the encoder writes exactly the
//! golden bytes, the decoder reads them back to the same value.
//! `cluster_golden_wire.rs` checks the `proto::cluster` Wire types against
//! the same bytes.
//!
//! The golden files live in `tests/data/cluster-v1/` (see its README and
//! `support/cluster_v1.rs`).

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sdwire::Wire;
use sheep::cluster::driver::{
    accept_all, ClusterDriver, ClusterEvent, JoinOutcome, MemberId, Record,
};
use sheep::cluster::join::{
    member_ranges, ClusterWindow, JoinMessage, JoinReply, Proto, Refusal, VersionRange,
};
use sheep::cluster::local::{local_driver, LocalOptions};
use sheep::cluster::membership::Membership;
use sheep::cluster::state::{decode_make_fs, encode_make_fs};
use sheep::cluster::state::{ClusterState, Format, NodeInfo};
use sheep::handlers::admin::is_shutdown_notify;
use sheep::proto::{EpochLog, SdNode};
use support::cluster_v1::*;
use support::procs::SheepProc;

// ---------------------------------------------------------------- records

fn records() -> Vec<(&'static str, Record)> {
    let a = node(7000, 1);
    let b = node(7001, 2);
    vec![
        (
            "join_req",
            Record::JoinReq {
                node: a,
                inc: INC_A,
                msg: Bytes::from(join_message(CTIME).encode()),
            },
        ),
        (
            "join_req_empty_msg",
            Record::JoinReq {
                node: b,
                inc: INC_B,
                msg: Bytes::new(),
            },
        ),
        (
            "join_rsp_accepted",
            Record::JoinRsp {
                id: id(&b, INC_B),
                accepted: true,
                msg: Bytes::from(accept_reply_with_members()),
            },
        ),
        (
            "join_rsp_refused",
            Record::JoinRsp {
                id: id(&b, INC_B),
                accepted: false,
                msg: Bytes::from(JoinReply::Refused(Refusal::BadMessage).encode()),
            },
        ),
        ("leave", Record::Leave { id: id(&b, INC_B) }),
        (
            "notify_make_fs",
            Record::Notify {
                id: id(&a, INC_A),
                msg: encode_make_fs(&format()),
            },
        ),
    ]
}

#[test]
fn driver_records_are_v1() {
    for (case, rec) in records() {
        let g = assert_golden("driver-record.hex", case, &rec.encode());
        assert_eq!(Record::decode(&g), Some(rec), "{case}");
        // One byte short, or one byte more, is not a record.
        assert_eq!(Record::decode(&g[..g.len() - 1]), None, "{case}");
        let mut longer = g.clone();
        longer.push(0);
        assert_eq!(Record::decode(&longer), None, "{case}");
    }
    assert_eq!(Record::decode(&[9]), None, "unknown record type");
}

// ---------------------------------------------------------------- join

#[test]
fn join_message_is_v1() {
    for (case, m) in [
        ("formatted", join_message(CTIME)),
        ("fresh_store", join_message(0)),
        (
            "capped_peer",
            JoinMessage {
                ctime: CTIME,
                versions: capped_versions(),
            },
        ),
    ] {
        let g = assert_golden("join-message.hex", case, &m.encode());
        assert_eq!(JoinMessage::decode(&g), Some(m), "{case}");
    }
}

#[test]
fn join_reply_is_v1() {
    let replies = [
        ("accepted", JoinReply::Accepted(window())),
        (
            "refused_ctime",
            JoinReply::Refused(Refusal::CtimeMismatch {
                cluster: CTIME,
                joiner: CTIME + 0x1_0000_0000,
            }),
        ),
        (
            "refused_version",
            JoinReply::Refused(Refusal::NoCommonVersion {
                proto: Proto::Peer,
                cluster: VersionRange::new(0x0a, 0x0a),
                joiner: VersionRange::new(0x0b, 0x0b),
            }),
        ),
        (
            "refused_version_admin",
            JoinReply::Refused(Refusal::NoCommonVersion {
                proto: Proto::Admin,
                cluster: VersionRange::new(0x0a, 0x0a),
                joiner: VersionRange::new(0x0c, 0x0d),
            }),
        ),
        (
            "refused_bad_message",
            JoinReply::Refused(Refusal::BadMessage),
        ),
    ];
    for (case, r) in replies {
        let g = assert_golden("join-reply.hex", case, &r.encode());
        assert_eq!(JoinReply::decode(&g), Some(r), "{case}");
        assert!(member_ranges(&g).is_empty(), "{case}");
    }
    // The accept reply with the member-ranges table a master appends.
    let g = assert_golden(
        "join-reply.hex",
        "accepted_with_members",
        &accept_reply_with_members(),
    );
    assert_eq!(JoinReply::decode(&g), Some(JoinReply::Accepted(window())));
    assert_eq!(
        member_ranges(&g),
        vec![
            (node(7000, 1).nid.key(), v1_versions()),
            (node(7001, 2).nid.key(), capped_versions()),
        ]
    );
}

// ---------------------------------------------------------------- notices

#[test]
fn make_fs_notice_is_v1() {
    let f = format();
    let g = assert_golden("notice-make-fs.hex", "plain_copies2", &encode_make_fs(&f));
    assert_eq!(decode_make_fs(&g), Some(f));
    let odd = Format {
        flags: 0,
        copies: 3,
        copy_policy: 0x42,
        block_size_shift: 20,
        store: "tree".into(),
        ..format()
    };
    let g = assert_golden("notice-make-fs.hex", "tree_ec", &encode_make_fs(&odd));
    assert_eq!(decode_make_fs(&g), Some(odd));
    let g = golden("notice-make-fs.hex", "plain_copies2", &[]);
    assert_eq!(decode_make_fs(&g[..g.len() - 6]), None, "truncated fields");
}

#[test]
fn shutdown_notice_is_v1() {
    // 185809b's encoder is a constant inside the SHUTDOWN handler; the real
    // daemon's notice is checked in `a_daemon_writes_v1_notices`.
    let g = golden("notice-shutdown.hex", "shutdown", b"SHEEP-SHUTDOWN-1\0");
    assert!(is_shutdown_notify(&g));
    assert!(!is_shutdown_notify(&g[..g.len() - 1]));
    assert!(!is_shutdown_notify(&encode_make_fs(&format())));
}

// ---------------------------------------------------------------- member key

#[test]
fn member_key_is_v1() {
    let m = id(&node(7000, 1), INC_A);
    let g = assert_golden("member-key.hex", "ipv4_7000", m.key().as_bytes());
    assert_eq!(
        MemberId::parse_key(std::str::from_utf8(&g).unwrap()),
        Some(m)
    );
}

// ---------------------------------------------------------------- on-disk state

#[test]
fn config_and_epoch_files_are_v1() {
    let dir = tempfile::tempdir().unwrap();
    let me = NodeInfo {
        addr: "127.0.0.1:7000".parse().unwrap(),
        zone: 1,
        space: 512 << 30,
    };
    let mut st = ClusterState::load_with(dir.path(), me, true).unwrap();
    st.make_fs(format()).unwrap();
    let config = std::fs::read(dir.path().join("config")).unwrap();
    let g = assert_golden("state-files.hex", "config", &config);
    let back = ClusterState::load_with(dir.path(), me, true).unwrap();
    assert_eq!(back.format, Some(format()));
    st.mark_shutdown().unwrap();
    let config = std::fs::read(dir.path().join("config")).unwrap();
    assert_golden("state-files.hex", "config_shutdown", &config);
    assert_ne!(g, config);

    st.record_epoch(7, &[node(7000, 1), node(7001, 2), node(7002, 3)])
        .unwrap();
    let mut epoch = std::fs::read(dir.path().join("epoch/00000007")).unwrap();
    // The epoch's start time is when it was written: compare it as zero.
    let time = EpochLog::LAYOUT.field("time").unwrap().offset.unwrap();
    let written = u64::from_le_bytes(epoch[time..time + 8].try_into().unwrap());
    assert!(written > 1_700_000_000, "time is unix seconds");
    epoch[time..time + 8].fill(0);
    assert_golden("state-files.hex", "epoch_3_nodes", &epoch);
}

// ---------------------------------------------------------------- local driver log

/// The incarnation of a record and its offset in the record bytes.
fn inc_of(rec: &Record) -> (u64, usize) {
    match rec {
        Record::JoinReq { inc, .. } => (*inc, 1 + SdNode::SIZE),
        Record::JoinRsp { id, .. } | Record::Leave { id } | Record::Notify { id, .. } => {
            (id.inc, 1 + 16 + 2)
        }
    }
}

fn local_opts() -> LocalOptions {
    // No liveness check or heartbeat during the test: the log then holds
    // exactly the records of the scenario.
    LocalOptions {
        heartbeat: Duration::from_secs(3600),
        timeout: Duration::from_secs(3600),
        poll: Duration::from_millis(5),
    }
}

/// A formatted founder A and a fresh B join (B's verdict comes from A's
/// judge), A broadcasts MAKE_FS, B then A leave; returns the log.
async fn local_scenario(dir: &Path) -> Vec<u8> {
    let cluster = dir.join("cluster");
    let a_store = dir.join("a");
    let mut st = ClusterState::load_with(
        &a_store,
        NodeInfo {
            addr: "127.0.0.1:7000".parse().unwrap(),
            zone: 1,
            space: 512 << 30,
        },
        true,
    )
    .unwrap();
    st.make_fs(format()).unwrap();
    let driver = |_: ()| -> Arc<dyn ClusterDriver> {
        Arc::from(local_driver(&cluster, local_opts()).unwrap())
    };
    let a = Membership::join(driver(()), node(7000, 1), v1_versions(), a_store)
        .await
        .unwrap();
    let b = Membership::join(driver(()), node(7001, 2), capped_versions(), dir.join("b"))
        .await
        .unwrap();
    a.driver().notify(encode_make_fs(&format())).await.unwrap();
    b.driver().leave().await.unwrap();
    a.driver().leave().await.unwrap();
    std::fs::read(cluster.join("events.log")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_driver_writes_v1_frames() {
    let dir = tempfile::tempdir().unwrap();
    let log = local_scenario(dir.path()).await;
    let got = frames(&log);
    assert_eq!(got.len(), LOG_KINDS.len(), "one frame per record");
    // This run's incarnations differ from the recorded ones: map them.
    let mut incs: Vec<(u64, u64)> = Vec::new();
    for (frame, case) in got.iter().zip(LOG_KINDS) {
        let want = golden("local-log.hex", case, frame);
        let rec = Record::decode(&frame[8..]).expect("record decodes");
        let old = Record::decode(&want[8..]).expect("golden record decodes");
        let ((inc, at), (old_inc, old_at)) = (inc_of(&rec), inc_of(&old));
        assert_eq!(at, old_at, "{case}: record type");
        match incs.iter().find(|m| m.1 == old_inc) {
            Some(m) => assert_eq!(m.0, inc, "{case}: same member"),
            None => incs.push((inc, old_inc)),
        }
        // The golden frame with this run's incarnation, CRC recomputed.
        let mut body = want[8..].to_vec();
        body[at..at + 8].copy_from_slice(&inc.to_le_bytes());
        let mut expect = want[..4].to_vec();
        expect.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
        expect.extend_from_slice(&body);
        assert_eq!(hex::encode(frame), hex::encode(&expect), "{case}");
    }
    assert_eq!(incs.len(), 2, "two members");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_driver_reads_v1_frames() {
    let all = cases("local-log.hex");
    let log: Vec<u8> = LOG_KINDS
        .iter()
        .flat_map(|k| all.get(*k).expect("recorded").clone())
        .collect();
    let recs: Vec<Record> = frames(&log)
        .iter()
        .map(|f| Record::decode(&f[8..]).expect("record"))
        .collect();
    let (a, b) = (node(7000, 1), node(7001, 2));
    let Record::JoinReq {
        node: n,
        inc: inc_a,
        msg,
    } = &recs[0]
    else {
        panic!("{:?}", recs[0])
    };
    assert_eq!(
        (n, JoinMessage::decode(msg)),
        (&a, Some(join_message(CTIME)))
    );
    let Record::JoinReq {
        node: n,
        inc: inc_b,
        msg,
    } = &recs[1]
    else {
        panic!("{:?}", recs[1])
    };
    let fresh = JoinMessage {
        ctime: 0,
        versions: capped_versions(),
    };
    assert_eq!((n, JoinMessage::decode(msg)), (&b, Some(fresh)));
    let Record::JoinRsp {
        id: rid,
        accepted,
        msg,
    } = &recs[2]
    else {
        panic!("{:?}", recs[2])
    };
    assert_eq!((rid, accepted), (&id(&b, *inc_b), &true));
    assert_eq!(
        JoinReply::decode(msg),
        Some(JoinReply::Accepted(ClusterWindow {
            ctime: CTIME,
            versions: capped_versions(),
        }))
    );
    assert_eq!(member_ranges(msg), vec![(a.nid.key(), v1_versions())]);
    assert_eq!(
        recs[3],
        Record::Notify {
            id: id(&a, *inc_a),
            msg: encode_make_fs(&format()),
        }
    );
    assert_eq!(recs[4], Record::Leave { id: id(&b, *inc_b) });
    assert_eq!(recs[5], Record::Leave { id: id(&a, *inc_a) });

    // The driver itself folds the recorded log: A and B came and went, so a
    // new node founds the cluster at epoch 5.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path()).unwrap();
    std::fs::write(dir.path().join("events.log"), &log).unwrap();
    let c = local_driver(dir.path(), local_opts()).unwrap();
    let out = tokio::time::timeout(
        Duration::from_secs(20),
        c.join(node(7002, 3), Bytes::new(), accept_all()),
    )
    .await
    .expect("join timed out")
    .unwrap();
    let JoinOutcome::Accepted {
        members,
        mut events,
        ..
    } = out
    else {
        panic!("refused")
    };
    assert_eq!(members, vec![node(7002, 3)]);
    match events.recv().await {
        Some(ClusterEvent::Join { node: n, epoch, .. }) => {
            assert_eq!((n, epoch), (node(7002, 3), 5));
        }
        other => panic!("{other:?}"),
    }
    c.leave().await.unwrap();
}

/// The local driver's own framing (`frame`, `next_frame`) on the golden
/// frames, and on torn, corrupt and impossible ones.
#[test]
fn local_driver_frames_and_parses_v1() {
    use sheep::cluster::local::{frame, next_frame, Framed};
    let all = cases("local-log.hex");
    assert_eq!(all.len(), LOG_KINDS.len());
    for (case, g) in all {
        let rec = Record::decode(&g[8..]).expect("record");
        assert_eq!(hex::encode(frame(&rec)), hex::encode(&g), "{case}");
        assert_eq!(
            next_frame(&g),
            Framed::Record(rec.clone(), g.len()),
            "{case}"
        );
        let mut two = g.clone();
        two.extend_from_slice(&g);
        assert_eq!(next_frame(&two), Framed::Record(rec, g.len()), "{case}");
        assert_eq!(next_frame(&g[..g.len() - 1]), Framed::Partial, "{case}");
        assert_eq!(next_frame(&g[..7]), Framed::Partial, "{case}");
        let mut bad = g.clone();
        bad[10] ^= 0x40;
        assert_eq!(
            next_frame(&bad),
            Framed::Skipped(g.len()),
            "{case}: bad CRC"
        );
    }
    // A frame whose CRC matches but whose record does not decode.
    let body = [9u8, 1, 2];
    let mut f = (body.len() as u32).to_le_bytes().to_vec();
    f.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
    f.extend_from_slice(&body);
    assert_eq!(next_frame(&f), Framed::Skipped(f.len()));
    // A length no writer produces: the log cannot be framed past it.
    let mut huge = (16u32 << 20).wrapping_add(1).to_le_bytes().to_vec();
    huge.extend_from_slice(&[0; 4]);
    assert!(matches!(next_frame(&huge), Framed::Corrupt(_)));
}

// ---------------------------------------------------------------- a real daemon

/// A real sheep in a local cluster writes its join message, MAKE_FS and
/// SHUTDOWN notices and its leave as v1 records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_writes_v1_notices() {
    let tmp = tempfile::tempdir().unwrap();
    let cluster = tmp.path().join("cluster");
    let mut s = SheepProc::spawn(
        &tmp.path().join("s"),
        &format!("local:{}", cluster.display()),
        &[],
    );
    let c = s.client().await;
    c.make_fs(2, 22).await.unwrap();
    c.shutdown().await.unwrap();
    let st = s.wait_exit(Duration::from_secs(20)).await;
    assert!(st.success(), "log: {}", s.log());
    let log = std::fs::read(cluster.join("events.log")).unwrap();
    let recs: Vec<Record> = frames(&log)
        .iter()
        .map(|f| Record::decode(&f[8..]).expect("record"))
        .collect();
    assert_eq!(recs.len(), 4, "{recs:?}");
    let Record::JoinReq { msg, inc, .. } = &recs[0] else {
        panic!("{:?}", recs[0])
    };
    let jm = JoinMessage::decode(msg).expect("join message");
    assert_eq!(jm.ctime, 0, "a fresh store");
    let Record::Notify { msg, .. } = &recs[1] else {
        panic!("{:?}", recs[1])
    };
    // MAKE_FS as recorded, with this run's ctime.
    let f = decode_make_fs(msg).expect("MAKE_FS notice");
    let want = encode_make_fs(&Format {
        ctime: f.ctime,
        ..format()
    });
    assert_eq!(msg, &want);
    let mut g = golden("notice-make-fs.hex", "plain_copies2", &[]);
    let magic = b"SHEEP-MKFS-1\0".len();
    g[magic..magic + 8].copy_from_slice(&f.ctime.to_le_bytes());
    assert_eq!(hex::encode(msg), hex::encode(&g));
    let Record::Notify { msg, .. } = &recs[2] else {
        panic!("{:?}", recs[2])
    };
    let g = golden("notice-shutdown.hex", "shutdown", &[]);
    assert_eq!(hex::encode(msg), hex::encode(&g));
    assert!(matches!(recs[3], Record::Leave { id } if id.inc == *inc));
}
