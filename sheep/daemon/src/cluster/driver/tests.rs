use super::*;

fn node(port: u16) -> SdNode {
    SdNode::new(format!("127.0.0.1:{port}").parse().unwrap(), 128, 1 << 30)
}

#[test]
fn records_roundtrip() {
    let id = MemberId::of(&node(7000), 42);
    for r in [
        Record::JoinReq {
            node: node(7000),
            inc: 42,
            msg: Bytes::from_static(b"hello"),
        },
        Record::JoinRsp {
            id,
            accepted: true,
            msg: Bytes::from_static(b"ok"),
        },
        Record::Leave { id },
        Record::Notify {
            id,
            msg: Bytes::new(),
        },
    ] {
        assert_eq!(Record::decode(&r.encode()), Some(r));
    }
    assert_eq!(Record::decode(&[9]), None);
    assert_eq!(MemberId::parse_key(&id.key()), Some(id));
}

#[test]
fn spec_parsing() {
    assert_eq!(parse_driver_spec("local").unwrap(), DriverSpec::Local(None));
    assert_eq!(
        parse_driver_spec("local:/tmp/x").unwrap(),
        DriverSpec::Local(Some("/tmp/x".into()))
    );
    assert_eq!(
        parse_driver_spec("etcd:127.0.0.1:2379,h:1/c1").unwrap(),
        DriverSpec::Etcd {
            endpoints: vec!["127.0.0.1:2379".into(), "h:1".into()],
            cluster: "c1".into()
        }
    );
    assert!(parse_driver_spec("etcd").is_err());
    assert!(parse_driver_spec("etcd:host").is_err());
    assert!(parse_driver_spec("zookeeper:x:1").is_err());
}

#[test]
fn machine_rules() {
    let (a, b, c) = (node(1), node(2), node(3));
    let (ia, ib, ic) = (
        MemberId::of(&a, 1),
        MemberId::of(&b, 2),
        MemberId::of(&c, 3),
    );
    let mut m = Machine::new(Some(ib));
    let req = |n: SdNode, inc| Record::JoinReq {
        node: n,
        inc,
        msg: Bytes::new(),
    };
    // a founds, b pending, b's Join is its first event.
    assert!(m.apply(req(a, 1)).events.is_empty());
    assert_eq!(m.members(), vec![a]);
    assert!(m.apply(req(b, 2)).events.is_empty());
    let out = m.apply(Record::JoinRsp {
        id: ib,
        accepted: true,
        msg: Bytes::from_static(b"r"),
    });
    assert_eq!(out.verdict, Some((true, Bytes::from_static(b"r"))));
    assert_eq!(out.events.len(), 1);
    // c refused: nothing recorded.
    m.apply(req(c, 3));
    let out = m.apply(Record::JoinRsp {
        id: ic,
        accepted: false,
        msg: Bytes::new(),
    });
    assert!(out.events.is_empty());
    assert_eq!(m.members(), vec![a, b]);
    // a leaves: b is master.
    assert!(!m.is_master());
    let out = m.apply(Record::Leave { id: ia });
    assert_eq!(
        out.events,
        vec![ClusterEvent::Leave {
            node: a,
            members: vec![b],
            epoch: 3
        }]
    );
    assert_eq!(m.epoch(), 3, "a, b joined, a left");
    assert!(m.is_master());
    // Notify from a non-member is dropped.
    assert!(m
        .apply(Record::Notify {
            id: ia,
            msg: Bytes::new()
        })
        .events
        .is_empty());
    // b restarts as a new incarnation: the old one leaves first.
    let mut obs = Machine::new(None);
    obs.apply(req(b, 2));
    obs.apply(req(b, 5));
    assert_eq!(obs.member_ids(), vec![MemberId::of(&b, 5)]);
}
