//! The inputs of the expansion snapshots (`sdwire-derive/tests/expand/`)
//! compiled with the real derive and round-tripped, so every snapshot shows
//! code that compiles and works. The snapshots themselves are compared by
//! `sdwire-derive/tests/expand.rs` (re-bless with `SDWIRE_BLESS=1`).

use sdwire::{OpTable, Wire};

mod fixed_header {
    include!("../../sdwire-derive/tests/expand/fixed_header.rs");
}
mod versioned {
    include!("../../sdwire-derive/tests/expand/versioned.rs");
}
mod payload {
    include!("../../sdwire-derive/tests/expand/payload.rs");
}
mod opcode_enum {
    include!("../../sdwire-derive/tests/expand/opcode_enum.rs");
}
mod nbd_attrs {
    use sdwire::Wire;
    include!("../../sdwire-derive/tests/expand/nbd_attrs.rs");
}

fn round_trip<T: Wire + PartialEq + std::fmt::Debug>(v: &T, version: sdwire::Version) -> Vec<u8> {
    let b = sdwire::to_vec(v, version).unwrap();
    assert_eq!(b.len(), v.wire_size(version));
    assert_eq!(&sdwire::from_slice_exact::<T>(&b, version).unwrap(), v);
    b
}

#[test]
fn fixed_header() {
    use fixed_header::ReqHeader;
    let h = ReqHeader {
        proto_ver: 2,
        opcode: 1,
        data_length: 0x0102,
        body: [7; 28],
        ..Default::default()
    };
    let b = round_trip(&h, 0);
    assert_eq!(b.len(), 48);
    assert_eq!(&b[12..16], &[0, 0, 1, 2]);
    assert_eq!(ReqHeader::FIXED_SIZE, Some(48));
}

#[test]
fn versioned() {
    use versioned::NodeId;
    let base = NodeId {
        addr: [1; 16],
        port: 7000,
        nr_vnodes: 1,
        ..Default::default()
    };
    assert_eq!(
        round_trip(
            &NodeId {
                legacy_zone: 3,
                ..base.clone()
            },
            0x09
        )
        .len(),
        20
    );
    assert_eq!(
        round_trip(
            &NodeId {
                nr_vnodes: 64,
                ..base.clone()
            },
            0x0a
        )
        .len(),
        20
    );
    assert_eq!(
        round_trip(
            &NodeId {
                nr_vnodes: 64,
                io_port: 9,
                ..base.clone()
            },
            0x0b
        )
        .len(),
        22
    );
    // `io_port` is ignorable: written as 0x0a it is dropped, not refused.
    let b = sdwire::to_vec(
        &NodeId {
            nr_vnodes: 64,
            io_port: 9,
            ..base.clone()
        },
        0x0a,
    )
    .unwrap();
    assert_eq!(sdwire::from_slice::<NodeId>(&b, 0x0a).unwrap().io_port, 0);
    // `nr_vnodes` defaults to 1 where it is absent.
    let b = sdwire::to_vec(
        &NodeId {
            nr_vnodes: 1,
            ..base
        },
        0x09,
    )
    .unwrap();
    assert_eq!(sdwire::from_slice::<NodeId>(&b, 0x09).unwrap().nr_vnodes, 1);
}

#[test]
fn payload() {
    use payload::{Batch, Entry};
    let b = Batch {
        len: 3,
        name: bytes::Bytes::from_static(b"vdi"),
        n: 2,
        entries: vec![Entry { oid: 1, copies: 3 }, Entry { oid: 2, copies: 1 }],
        tail: vec![9, 9],
    };
    assert_eq!(round_trip(&b, 0).len(), 4 + 3 + 2 + 18 + 2);
    let big = Batch {
        len: 5000,
        name: vec![0; 5000].into(),
        n: 0,
        entries: vec![],
        tail: vec![],
    };
    assert!(sdwire::to_vec(&big, 0).is_err());
}

#[test]
fn opcode_enum() {
    use opcode_enum::{ClientOp, ObjReq};
    let req = ObjReq {
        oid: 1,
        offset: 2,
        len: 3,
    };
    for op in [
        ClientOp::CreateAndWriteObj(req.clone()),
        ClientOp::ReadObj { req, direct: true },
        ClientOp::GetClusterDefault,
        ClientOp::Unknown(0x7e),
    ] {
        round_trip(&op, 2);
    }
    assert!(sdwire::to_vec(&ClientOp::GetClusterDefault, 1).is_err());
    assert_eq!(ClientOp::OPS.len(), 3);
    assert_eq!(ClientOp::op_info(0x18).unwrap().name, "GetClusterDefault");
}

#[test]
fn nbd_attrs() {
    use nbd_attrs::{Cmd, CmdHandler, ExportInfo, OptHeader, Request};
    use sdwire::codec::FrameHeader;
    let r = Request {
        cookie: 3,
        ..Default::default()
    };
    let b = sdwire::to_vec(&r, 0).unwrap();
    assert_eq!(&b[..4], &[0x25, 0x60, 0x95, 0x13]);
    let back = sdwire::from_slice_exact::<Request>(&b, 0).unwrap();
    assert_eq!((back.magic, back.cookie), (0x25609513, 3));
    let h = sdwire::codec::Frame::filled(
        OptHeader {
            magic: 0,
            option: 1,
            length: 0,
        },
        &b"ab"[..],
    )
    .unwrap();
    assert_eq!(h.header.payload_len(), 2);
    let e = ExportInfo {
        size: 1,
        flags: 2,
        zeroes: None,
    };
    assert_eq!(round_trip(&e, 0).len(), 10);
    let read = Cmd::Read(back.clone());
    round_trip(&read, 0);
    struct Count;
    impl CmdHandler<u32> for Count {
        type Output = u32;
        async fn read(&self, ctx: u32, range: Request) -> u32 {
            ctx + range.length
        }
        async fn disc(&self, ctx: u32) -> u32 {
            ctx
        }
    }
    assert_eq!(
        futures::executor::block_on(Cmd::Disc.dispatch_with(&Count, 5)),
        5
    );
    assert_eq!(
        futures::executor::block_on(read.dispatch_with(&Count, 5)),
        5
    );
}
