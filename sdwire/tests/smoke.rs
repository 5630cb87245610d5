use bytes::Bytes;
use sdwire::{DecodeErrorKind, EncodeErrorKind, OpTable, Wire};

#[derive(Wire, Debug, PartialEq, Clone, Default)]
#[wire(le, size = 48)]
pub struct ReqHeader {
    pub proto_ver: u8,
    pub opcode: u8,
    pub flags: u16,
    pub epoch: u32,
    pub id: u32,
    pub data_length: u32,
    pub body: [u8; 32],
}

#[derive(Wire, Debug, PartialEq, Clone, Default)]
#[wire(le, version = 0x0b, compat = 0x0a)]
pub struct NodeId {
    pub addr: [u8; 16],
    #[wire(be)]
    pub port: u16,
    #[wire(since = 0x0b, default)]
    pub io_port: u16,
    #[wire(reserved)]
    pub _pad: [u8; 4],
}

#[derive(Wire, Debug, PartialEq, Clone, Default)]
#[wire(le, size = 56)]
pub struct Outer {
    pub a: u64,
    pub hdr: ReqHeader,
}

#[derive(Wire, Debug, PartialEq, Clone)]
#[wire(le)]
pub struct WithPayload {
    pub len: u32,
    #[wire(len = len, max = 16)]
    pub data: Bytes,
    pub n: u16,
    #[wire(count = n)]
    pub items: Vec<Outer>,
}

#[derive(Wire, Debug, PartialEq, Clone)]
#[wire(tag = u8, range = 0x00..=0x7f)]
pub enum Op {
    /// Create and write.
    #[wire(opcode = 0x01)]
    CreateAndWriteObj(ReqHeader),
    #[wire(opcode = 0x02)]
    ReadObj { a: u8, b: u8 },
    #[wire(opcode = 0x18, since = 2)]
    GetClusterDefault,
}

#[derive(Wire, Debug, PartialEq, Clone, Copy)]
#[wire(tag = u32, le, no_handler)]
pub enum Res {
    #[wire(opcode = 0)]
    Success,
    #[wire(opcode = 5)]
    InvalidParms,
    #[wire(other)]
    Unknown(u32),
}

#[test]
fn header_round_trip() {
    let h = ReqHeader {
        proto_ver: 2,
        opcode: 1,
        flags: 0x0102,
        epoch: 3,
        id: 4,
        data_length: 5,
        body: [9; 32],
    };
    let b = sdwire::to_vec(&h, 0).unwrap();
    assert_eq!(b.len(), 48);
    assert_eq!(&b[..6], &[2, 1, 2, 1, 3, 0]);
    assert_eq!(sdwire::from_slice::<ReqHeader>(&b, 0).unwrap(), h);
    assert_eq!(ReqHeader::FIXED_SIZE, Some(48));
    assert_eq!(Outer::FIXED_SIZE, Some(56));
    let o = Outer {
        a: 7,
        hdr: h.clone(),
    };
    let ob = sdwire::to_vec(&o, 0).unwrap();
    assert_eq!(sdwire::from_slice::<Outer>(&ob, 0).unwrap(), o);
    // truncated
    let e = sdwire::from_slice::<Outer>(&ob[..20], 0).unwrap_err();
    assert!(matches!(e.kind(), DecodeErrorKind::Truncated { .. }), "{e}");
    print!("{}", ReqHeader::LAYOUT.render());
}

#[test]
fn versioned() {
    let n = NodeId {
        addr: [1; 16],
        port: 7000,
        io_port: 9,
        _pad: [0; 4],
    };
    let b11 = sdwire::to_vec(&n, 0x0b).unwrap();
    assert_eq!(b11.len(), 24);
    assert_eq!(&b11[16..18], &7000u16.to_be_bytes());
    assert_eq!(sdwire::from_slice::<NodeId>(&b11, 0x0b).unwrap(), n);
    let e = sdwire::to_vec(&n, 0x0a).unwrap_err();
    assert!(
        matches!(e.kind(), EncodeErrorKind::FieldDropped { .. }),
        "{e}"
    );
    let n2 = NodeId {
        io_port: 0,
        ..n.clone()
    };
    let b10 = sdwire::to_vec(&n2, 0x0a).unwrap();
    assert_eq!(b10.len(), 22);
    assert_eq!(sdwire::from_slice::<NodeId>(&b10, 0x0a).unwrap(), n2);
    assert!(sdwire::from_slice::<NodeId>(&b10, 0x09).is_err());
    print!("{}", NodeId::LAYOUT.render());
}

#[test]
fn payloads() {
    let w = WithPayload {
        len: 0,
        data: Bytes::from_static(b"hello"),
        n: 0,
        items: vec![Outer::default()],
    };
    let b = sdwire::to_bytes(&w, 0).unwrap();
    assert_eq!(b.len(), 4 + 5 + 2 + 56);
    let mut bb = b.clone();
    let d = WithPayload::decode(&mut bb, 0).unwrap();
    assert_eq!(d.len, 5);
    assert_eq!(d.data, w.data);
    assert_eq!(d.items, w.items);
    let big = WithPayload {
        len: 0,
        data: Bytes::from(vec![0; 17]),
        n: 0,
        items: vec![],
    };
    assert!(sdwire::to_vec(&big, 0).is_err());
    let mut raw = vec![100u8, 0, 0, 0];
    raw.extend([0; 200]);
    let e = sdwire::from_slice::<WithPayload>(&raw, 0).unwrap_err();
    assert!(
        matches!(e.kind(), DecodeErrorKind::LengthTooLarge { .. }),
        "{e}"
    );
}

#[test]
fn enums() {
    let op = Op::ReadObj { a: 1, b: 2 };
    let b = sdwire::to_vec(&op, 2).unwrap();
    assert_eq!(b, vec![2, 1, 2]);
    assert_eq!(sdwire::from_slice::<Op>(&b, 2).unwrap(), op);
    assert_eq!(op.tag(), 2);
    assert_eq!(Op::op_info(0x18).unwrap().name, "GetClusterDefault");
    assert!(!Op::is_known(0x18, 1));
    assert!(sdwire::from_slice::<Op>(&[0x18], 1).is_err());
    assert!(sdwire::from_slice::<Op>(&[0x18], 2).is_ok());
    assert!(sdwire::from_slice::<Op>(&[0x7e], 2).is_err());
    assert_eq!(
        sdwire::from_slice::<Res>(&[5, 0, 0, 0], 0).unwrap(),
        Res::InvalidParms
    );
    assert_eq!(
        sdwire::from_slice::<Res>(&[0x81, 0, 0, 0], 0).unwrap(),
        Res::Unknown(0x81)
    );
    assert_eq!(
        sdwire::to_vec(&Res::Unknown(0x81), 0).unwrap(),
        vec![0x81, 0, 0, 0]
    );
    print!("{}", Op::LAYOUT.render());
}

struct H;
impl OpHandler for H {
    type Output = u32;
    async fn create_and_write_obj(&self, h: ReqHeader) -> u32 {
        h.id
    }
    async fn read_obj(&self, a: u8, b: u8) -> u32 {
        u32::from(a + b)
    }
    async fn get_cluster_default(&self) -> u32 {
        99
    }
}

#[tokio::test]
async fn dispatch() {
    assert_eq!(Op::ReadObj { a: 1, b: 2 }.dispatch(&H).await, 3);
    assert_eq!(Op::GetClusterDefault.dispatch(&H).await, 99);
}

#[test]
fn decode_in_place_matches_decode() {
    let o = Outer {
        a: 7,
        hdr: ReqHeader {
            id: 9,
            body: [3; 32],
            ..Default::default()
        },
    };
    let b = sdwire::to_vec(&o, 0).unwrap();
    let mut p = Outer::default();
    Outer::decode_in_place(&mut p, &mut &b[..], 0).unwrap();
    assert_eq!(p, o);
    let e = Outer::decode_in_place(&mut p, &mut &b[..30], 0).unwrap_err();
    assert!(matches!(e.kind(), DecodeErrorKind::Truncated { .. }), "{e}");
}
