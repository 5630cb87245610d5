//! Version 1 of the cluster protocol as `proto::cluster` Wire types: each
//! type encodes, at `CLUSTER_VERSION`, to the golden bytes recorded from
//! commit 185809b (`tests/data/cluster-v1/`) and decodes them back to the
//! same value.

mod support;

use bytes::Bytes;
use sdwire::Wire;
use sheep::cluster::join::{VersionRange, Versions};
use sheep::cluster::state::Format;
use sheep::proto::cluster::*;
use sheep::proto::{SdNode, CLUSTER_VERSION};
use support::cluster_v1::*;

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
        assert!(sdwire::from_slice::<DriverRecord>(&g[..g.len() - 1], CLUSTER_VERSION).is_err());
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
    assert!(sdwire::from_slice::<MakeFsNotice>(&g, CLUSTER_VERSION).map_or(true, |n| !n.is_valid()));
    let mkfs = golden("notice-make-fs.hex", "plain_copies2", &[]);
    assert!(!ShutdownNotice::matches(&mkfs[..17]));
}

#[test]
fn epoch_files() {
    let g = golden("state-files.hex", "epoch_3_nodes", &[]);
    let f: EpochFile = sdwire::from_slice_exact(&g, CLUSTER_VERSION).unwrap();
    assert_eq!((f.log.epoch, f.log.nr_nodes, f.log.ctime), (7, 3, CTIME));
    let nodes: Vec<SdNode> = f.nodes.iter().map(|&n| n.into()).collect();
    assert_eq!(nodes, vec![node(7000, 1), node(7001, 2), node(7002, 3)]);
    assert_eq!(enc(&f), g);
    assert!(sdwire::from_slice_exact::<EpochFile>(&g[..g.len() - 1], CLUSTER_VERSION).is_err());
}
