//! Version 1 of the cluster protocol, byte for byte: every format the
//! cluster layer writes or reads (driver records, the join message and
//! reply, the MAKE_FS and SHUTDOWN notices, the local driver's log frame,
//! the member key, the on-disk config and epoch files) is compared against
//! golden bytes recorded from commit 185809b, in both directions: the
//! encoder writes exactly the golden bytes, the decoder reads them back to
//! the same value.
//!
//! The golden files live in `tests/data/cluster-v1/` (see its README). A
//! case missing from them is an error, unless `SHEEP_GOLDEN_RECORD=1` is
//! set: then it is appended from what this build produces. Existing cases
//! are never rewritten, so the files keep what 185809b wrote.

mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use sdwire::Wire;
use sheep::admin::is_shutdown_notify;
use sheep::cluster::driver::{
    accept_all, ClusterDriver, ClusterEvent, JoinOutcome, MemberId, Record,
};
use sheep::cluster::join::{
    append_member_ranges, member_ranges, ClusterWindow, JoinMessage, JoinReply, Proto, Refusal,
    VersionRange, Versions,
};
use sheep::cluster::local::{local_driver, LocalOptions};
use sheep::cluster::membership::Membership;
use sheep::daemon::cluster::{ClusterState, Format, NodeInfo};
use sheep::daemon::members::{decode_make_fs, encode_make_fs};
use sheep::proto::{ClusterFlags, EpochLog, SdNode};
use support::procs::SheepProc;

// ---------------------------------------------------------------- golden files

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cluster-v1")
}

fn recording() -> bool {
    std::env::var_os("SHEEP_GOLDEN_RECORD").is_some_and(|v| v == "1")
}

/// The cases of one golden file: `name hex` lines, `#` comments.
fn cases(file: &str) -> BTreeMap<String, Vec<u8>> {
    let text = std::fs::read_to_string(golden_dir().join(file)).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, hex) = l.split_once(' ').unwrap_or((l, ""));
            let bytes = hex::decode(hex.trim()).unwrap_or_else(|e| panic!("{file}: {name}: {e}"));
            (name.to_string(), bytes)
        })
        .collect()
}

/// The golden bytes of `case` in `file`. When recording, a missing case is
/// appended from `produced` (what this build writes).
fn golden(file: &str, case: &str, produced: &[u8]) -> Vec<u8> {
    if let Some(b) = cases(file).remove(case) {
        return b;
    }
    assert!(
        recording(),
        "golden case {case} missing from {file} (SHEEP_GOLDEN_RECORD=1 records it)"
    );
    assert!(
        !produced.is_empty(),
        "{case} of {file} is recorded by another test"
    );
    std::fs::create_dir_all(golden_dir()).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(golden_dir().join(file))
        .unwrap();
    writeln!(f, "{case} {}", hex::encode(produced)).unwrap();
    produced.to_vec()
}

/// Asserts that `produced` is the golden `case` of `file`, with a readable
/// diff on failure.
fn assert_golden(file: &str, case: &str, produced: &[u8]) -> Vec<u8> {
    let want = golden(file, case, produced);
    assert_eq!(
        hex::encode(produced),
        hex::encode(&want),
        "{file}: {case} differs from the bytes 185809b wrote"
    );
    want
}

// ---------------------------------------------------------------- fixed inputs

const CTIME: u64 = 0x6571_2a3b_1c2d_3e4f;
const INC_A: u64 = 0x1c5e_83a7_9d02_4f61;
const INC_B: u64 = 0x8d31_f0c4_52e7_a90b;

fn node(port: u16, zone: u32) -> SdNode {
    SdNode {
        zone,
        ..SdNode::new(format!("127.0.0.1:{port}").parse().unwrap(), 128, 512 << 30)
    }
}

fn id(n: &SdNode, inc: u64) -> MemberId {
    MemberId::of(n, inc)
}

/// What 185809b speaks: client [0x00, 0x02], peer [0x0a, 0x0b], admin
/// [0x0a, 0x0a].
fn v1_versions() -> Versions {
    Versions {
        client: VersionRange::new(0x00, 0x02),
        peer: VersionRange::new(0x0a, 0x0b),
        admin: VersionRange::new(0x0a, 0x0a),
    }
}

fn capped_versions() -> Versions {
    Versions {
        peer: VersionRange::new(0x0a, 0x0a),
        ..v1_versions()
    }
}

fn join_message(ctime: u64) -> JoinMessage {
    JoinMessage {
        ctime,
        versions: v1_versions(),
    }
}

fn window() -> ClusterWindow {
    ClusterWindow {
        ctime: CTIME,
        versions: capped_versions(),
    }
}

fn format() -> Format {
    Format {
        ctime: CTIME,
        flags: ClusterFlags::AUTO_VNODES.bits(),
        copies: 2,
        copy_policy: 0,
        block_size_shift: 22,
        store: "plain".into(),
    }
}

fn accept_reply_with_members() -> Vec<u8> {
    let mut b = JoinReply::Accepted(window()).encode();
    append_member_ranges(
        &mut b,
        &vec![
            (node(7000, 1).nid.key(), v1_versions()),
            (node(7001, 2).nid.key(), capped_versions()),
        ],
    );
    b
}

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

/// Splits a local driver log into frames, checking each one's length and
/// CRC by the v1 layout (`len u32 LE | crc32c u32 LE | record`).
fn frames(log: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = log;
    while !rest.is_empty() {
        assert!(rest.len() >= 8, "torn frame header");
        let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().unwrap());
        let body = &rest[8..8 + len];
        assert_eq!(crc32c::crc32c(body), crc, "frame CRC");
        out.push(rest[..8 + len].to_vec());
        rest = &rest[8 + len..];
    }
    out
}

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

const LOG_KINDS: [&str; 6] = [
    "join_req_a",
    "join_req_b",
    "join_rsp_b",
    "notify_a",
    "leave_b",
    "leave_a",
];

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
        assert_eq!(next_frame(&g), Framed::Record(rec.clone(), g.len()), "{case}");
        let mut two = g.clone();
        two.extend_from_slice(&g);
        assert_eq!(next_frame(&two), Framed::Record(rec, g.len()), "{case}");
        assert_eq!(next_frame(&g[..g.len() - 1]), Framed::Partial, "{case}");
        assert_eq!(next_frame(&g[..7]), Framed::Partial, "{case}");
        let mut bad = g.clone();
        bad[10] ^= 0x40;
        assert_eq!(next_frame(&bad), Framed::Skipped(g.len()), "{case}: bad CRC");
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

// ---------------------------------------------------------------- the Wire types

mod wire {
    //! The `proto::cluster` Wire types write the golden bytes and read them
    //! back, at `CLUSTER_VERSION`.
    use super::*;
    use sheep::proto::cluster::*;
    use sheep::proto::CLUSTER_VERSION;

    fn enc<T: Wire>(v: &T) -> Vec<u8> {
        sdwire::to_vec(v, CLUSTER_VERSION).unwrap()
    }

    fn dec<T: Wire>(b: &[u8]) -> T {
        sdwire::from_slice_exact(b, CLUSTER_VERSION).unwrap()
    }

    fn pair(r: VersionRange) -> RangePair {
        RangePair {
            compat: r.compat,
            version: r.version,
        }
    }

    fn ranges(v: Versions) -> VersionRanges {
        VersionRanges {
            client: pair(v.client),
            peer: pair(v.peer),
            admin: pair(v.admin),
        }
    }

    fn member(n: &SdNode, inc: u64) -> RecordMember {
        RecordMember {
            addr: n.nid.addr,
            port: n.nid.port,
            inc,
        }
    }

    fn accepted(extensions: Vec<u8>) -> JoinReplyMsg {
        JoinReplyMsg::Accepted(AcceptedReply {
            ctime: CTIME,
            ranges: ranges(capped_versions()),
            extensions: Bytes::from(extensions),
        })
    }

    fn members_table() -> MemberRangesTable {
        let e = |n: SdNode, v| MemberRangesEntry {
            addr: n.nid.addr,
            port: n.nid.port,
            ranges: ranges(v),
        };
        let mut t = MemberRangesTable::new(vec![
            e(node(7000, 1), v1_versions()),
            e(node(7001, 2), capped_versions()),
        ]);
        t.count = 2;
        t
    }

    fn make_fs(f: &Format) -> MakeFsNotice {
        MakeFsNotice {
            magic: MakeFsNotice::MAGIC,
            ctime: f.ctime,
            flags: f.flags,
            copies: f.copies,
            copy_policy: f.copy_policy,
            block_size_shift: f.block_size_shift,
            store: Bytes::from(f.store.clone()),
        }
    }

    /// Lengths are filled in on encode; a decoded value carries them.
    fn with_len(r: DriverRecord) -> DriverRecord {
        match r {
            DriverRecord::JoinReq(mut j) => {
                j.msg_len = j.msg.len() as u32;
                DriverRecord::JoinReq(j)
            }
            DriverRecord::JoinRsp(mut j) => {
                j.msg_len = j.msg.len() as u32;
                DriverRecord::JoinRsp(j)
            }
            DriverRecord::Notify(mut n) => {
                n.msg_len = n.msg.len() as u32;
                DriverRecord::Notify(n)
            }
            l => l,
        }
    }

    fn records() -> Vec<(&'static str, DriverRecord)> {
        let a = node(7000, 1);
        let b = node(7001, 2);
        let mut reply = enc(&accepted(Vec::new()));
        reply.extend(enc(&members_table()));
        vec![
            (
                "join_req",
                DriverRecord::JoinReq(JoinReqRecord {
                    node: a,
                    inc: INC_A,
                    msg_len: 0,
                    msg: Bytes::from(enc(&JoinRequestMsg::new(CTIME, ranges(v1_versions())))),
                }),
            ),
            (
                "join_req_empty_msg",
                DriverRecord::JoinReq(JoinReqRecord {
                    node: b,
                    inc: INC_B,
                    ..JoinReqRecord::default()
                }),
            ),
            (
                "join_rsp_accepted",
                DriverRecord::JoinRsp(JoinRspRecord {
                    id: member(&b, INC_B),
                    accepted: true,
                    msg_len: 0,
                    msg: Bytes::from(reply),
                }),
            ),
            (
                "join_rsp_refused",
                DriverRecord::JoinRsp(JoinRspRecord {
                    id: member(&b, INC_B),
                    accepted: false,
                    msg_len: 0,
                    msg: Bytes::from(enc(&JoinReplyMsg::Refused(RefusalMsg::BadMessage))),
                }),
            ),
            ("leave", DriverRecord::Leave(member(&b, INC_B))),
            (
                "notify_make_fs",
                DriverRecord::Notify(NotifyRecord {
                    id: member(&a, INC_A),
                    msg_len: 0,
                    msg: Bytes::from(enc(&make_fs(&format()))),
                }),
            ),
        ]
    }

    #[test]
    fn driver_records() {
        for (case, rec) in records() {
            let g = golden("driver-record.hex", case, &[]);
            assert_eq!(hex::encode(enc(&rec)), hex::encode(&g), "{case}");
            assert_eq!(dec::<DriverRecord>(&g), with_len(rec), "{case}");
            let mut longer = g.clone();
            longer.push(0);
            assert!(sdwire::from_slice_exact::<DriverRecord>(&longer, CLUSTER_VERSION).is_err());
            assert!(
                sdwire::from_slice::<DriverRecord>(&g[..g.len() - 1], CLUSTER_VERSION).is_err()
            );
        }
    }

    #[test]
    fn local_log_frames() {
        for (case, g) in cases("local-log.hex") {
            let f: LogFrame = dec(&g);
            assert!(f.crc_ok(), "{case}");
            assert_eq!(f.len as usize, f.body.len());
            let rec: DriverRecord = dec(&f.body);
            assert_eq!(enc(&rec), f.body, "{case}");
            assert_eq!(
                hex::encode(enc(&LogFrame::new(f.body.clone()))),
                hex::encode(&g)
            );
        }
    }

    #[test]
    fn join_messages() {
        for (case, ctime, v) in [
            ("formatted", CTIME, v1_versions()),
            ("fresh_store", 0, v1_versions()),
            ("capped_peer", CTIME, capped_versions()),
        ] {
            let g = golden("join-message.hex", case, &[]);
            let m = JoinRequestMsg::new(ctime, ranges(v));
            assert_eq!(enc(&m), g, "{case}");
            let back: JoinRequestMsg = dec(&g);
            assert!(back.is_valid());
            assert_eq!(back, m, "{case}");
        }
    }

    #[test]
    fn join_replies() {
        let p = |c, v| RangePair {
            compat: c,
            version: v,
        };
        for (case, r) in [
            ("accepted", accepted(Vec::new())),
            (
                "refused_ctime",
                JoinReplyMsg::Refused(RefusalMsg::CtimeMismatch {
                    cluster: CTIME,
                    joiner: CTIME + 0x1_0000_0000,
                }),
            ),
            (
                "refused_version",
                JoinReplyMsg::Refused(RefusalMsg::NoCommonVersion {
                    proto: ProtoKind::Peer,
                    cluster: p(0x0a, 0x0a),
                    joiner: p(0x0b, 0x0b),
                }),
            ),
            (
                "refused_version_admin",
                JoinReplyMsg::Refused(RefusalMsg::NoCommonVersion {
                    proto: ProtoKind::Admin,
                    cluster: p(0x0a, 0x0a),
                    joiner: p(0x0c, 0x0d),
                }),
            ),
            (
                "refused_bad_message",
                JoinReplyMsg::Refused(RefusalMsg::BadMessage),
            ),
        ] {
            let g = golden("join-reply.hex", case, &[]);
            assert_eq!(enc(&r), g, "{case}");
            assert_eq!(dec::<JoinReplyMsg>(&g), r, "{case}");
        }
        // The accepted reply and its member-ranges table.
        let g = golden("join-reply.hex", "accepted_with_members", &[]);
        let mut want = enc(&accepted(Vec::new()));
        want.extend(enc(&members_table()));
        assert_eq!(want, g);
        let JoinReplyMsg::Accepted(a) = dec::<JoinReplyMsg>(&g) else {
            panic!("not accepted")
        };
        assert_eq!(dec::<MemberRangesTable>(&a.extensions), members_table());
    }

    #[test]
    fn notices() {
        let g = golden("notice-make-fs.hex", "plain_copies2", &[]);
        assert_eq!(enc(&make_fs(&format())), g);
        let back: MakeFsNotice = dec(&g);
        assert!(back.is_valid());
        assert_eq!(back, make_fs(&format()));
        let tree = Format {
            flags: 0,
            copies: 3,
            copy_policy: 0x42,
            block_size_shift: 20,
            store: "tree".into(),
            ..format()
        };
        let g = golden("notice-make-fs.hex", "tree_ec", &[]);
        assert_eq!(enc(&make_fs(&tree)), g);
        assert_eq!(dec::<MakeFsNotice>(&g), make_fs(&tree));

        let g = golden("notice-shutdown.hex", "shutdown", &[]);
        assert_eq!(enc(&ShutdownNotice::new()), g);
        assert!(ShutdownNotice::matches(&g));
        assert!(!ShutdownNotice::matches(&g[..16]));
        // A notice of one kind is not the other.
        assert!(
            sdwire::from_slice::<MakeFsNotice>(&g, CLUSTER_VERSION).map_or(true, |n| !n.is_valid())
        );
        let mkfs = golden("notice-make-fs.hex", "plain_copies2", &[]);
        assert!(!ShutdownNotice::matches(&mkfs[..17]));
    }
}
