//! Runtime behaviour of the attributes and helpers for protocols like NBD:
//! magic numbers, readable tuple-field paths, unversioned calls, optional
//! tails, lengths known from elsewhere, flag words, handler contexts, and
//! the frame writer / codec switch.

use bytes::{Bytes, BytesMut};
use futures::{SinkExt, StreamExt};
use sdwire::codec::{FillPayloadLen, Frame, FrameCodec, FrameHeader, FrameWriter, MessageCodec};
use sdwire::{DecodeErrorKind, Unversioned, Wire, Zeros};
use tokio_util::codec::{Decoder, Framed, FramedRead};

#[derive(Wire, Debug, Clone, PartialEq, Default)]
#[wire(be, packed, size = 28)]
struct Request {
    #[wire(magic = 0x25609513)]
    magic: u32,
    flags: u16,
    kind: u16,
    cookie: u64,
    offset: u64,
    length: u32,
}

#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be)]
struct Hello {
    #[wire(magic = 0x4e42444d41474943u64)]
    magic: u64,
    #[wire(magic = 0x7f)]
    marker: u8,
    #[wire(rest)]
    name: Bytes,
}

#[test]
fn magic_is_written_and_checked_on_both_paths() {
    // Fixed-size fast path: the field's value is ignored on encode.
    let r = Request {
        magic: 0,
        cookie: 9,
        ..Request::default()
    };
    let b = sdwire::to_vec_unversioned(&r).unwrap();
    assert_eq!(&b[..4], &[0x25, 0x60, 0x95, 0x13]);
    let d: Request = sdwire::from_slice_unversioned(&b).unwrap();
    assert_eq!((d.magic, d.cookie), (0x25609513, 9));
    let mut bad = b.clone();
    bad[3] = 0x14;
    let e = sdwire::from_slice_unversioned::<Request>(&bad).unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::BadMagic {
            expected: 0x25609513,
            got: 0x25609514
        }
    ));
    assert_eq!(
        e.to_string(),
        "cannot decode Request.magic at byte 0 (version 0): bad magic: expected 0x25609513, got 0x25609514"
    );

    // Sequential path (a payload follows), and a one-byte magic.
    let h = Hello {
        magic: 1,
        marker: 2,
        name: Bytes::from_static(b"x"),
    };
    let b = sdwire::to_vec_unversioned(&h).unwrap();
    assert_eq!(&b, b"NBDMAGIC\x7fx");
    let d: Hello = sdwire::from_slice_unversioned(&b).unwrap();
    assert_eq!((d.magic, d.marker), (0x4e42444d41474943, 0x7f));
    let mut bad = b.clone();
    bad[8] = 0;
    let e = sdwire::from_slice_unversioned::<Hello>(&bad).unwrap_err();
    assert_eq!(e.path(), ["marker"]);
    assert_eq!(e.offset(), 8);
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::BadMagic {
            expected: 0x7f,
            got: 0
        }
    ));
}

#[derive(Wire, Debug, PartialEq)]
#[wire(be, packed)]
struct Pair(u32, #[wire(name = "cookie")] u64, bool);

#[derive(Wire, Debug, PartialEq)]
#[wire(tag = u8, be, no_handler)]
enum Cmd {
    #[wire(opcode = 1)]
    Read(Pair),
    #[wire(opcode = 2)]
    Trim { offset: u64, flag: bool },
}

#[test]
fn tuple_fields_and_variants_have_readable_paths() {
    let e = sdwire::from_slice_unversioned::<Pair>(&[0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 5])
        .unwrap_err();
    assert_eq!(e.path(), ["2 (bool)"]);
    assert_eq!(
        e.to_string(),
        "cannot decode Pair.2 (bool) at byte 12 (version 0): invalid value 0x5: expected 0 or 1"
    );
    let e = sdwire::from_slice_unversioned::<Pair>(&[0, 0, 0, 1, 0]).unwrap_err();
    assert_eq!(e.path(), ["cookie"]);
    assert_eq!(Pair::LAYOUT.fields[1].name, "cookie");
    assert_eq!(Pair::LAYOUT.fields[0].name, "0");

    let e = sdwire::from_slice_unversioned::<Cmd>(&[1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 9])
        .unwrap_err();
    assert_eq!(e.path(), ["Read.0 (Pair)", "2 (bool)"]);
    assert_eq!(e.offset(), 13);
    let e = sdwire::from_slice_unversioned::<Cmd>(&[9]).unwrap_err();
    assert_eq!(
        (e.offset(), e.path().len()),
        (0, 0),
        "the tag is at the start"
    );
    let e = sdwire::from_slice_unversioned::<Cmd>(&[2, 0, 0, 0, 0, 0, 0, 0, 1, 3]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "cannot decode Cmd.Trim.flag at byte 9 (version 0): invalid value 0x3: expected 0 or 1"
    );
}

#[derive(Wire, Debug, PartialEq)]
#[wire(be)]
struct ExportInfo {
    size: u64,
    flags: u16,
    #[wire(optional)]
    zeroes: Option<Zeros<124>>,
}

#[test]
fn optional_tail_follows_its_option_and_the_input() {
    let padded = ExportInfo {
        size: 5,
        flags: 3,
        zeroes: Some(Zeros),
    };
    let b = sdwire::to_vec_unversioned(&padded).unwrap();
    assert_eq!(b.len(), 134);
    assert!(b[10..].iter().all(|&x| x == 0));
    assert_eq!(padded.size_unversioned(), 134);
    assert_eq!(
        sdwire::from_slice_unversioned::<ExportInfo>(&b).unwrap(),
        padded
    );
    let short = ExportInfo {
        zeroes: None,
        ..padded
    };
    let b = sdwire::to_vec_unversioned(&short).unwrap();
    assert_eq!(b.len(), 10);
    assert_eq!(
        sdwire::from_slice_unversioned::<ExportInfo>(&b).unwrap(),
        short
    );
    // Some bytes, but not the whole padding: a truncation error, not `None`.
    let e = sdwire::from_slice_unversioned::<ExportInfo>(&[0; 20]).unwrap_err();
    assert_eq!(e.path(), ["zeroes"]);
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::Truncated {
            needed: 124,
            available: 10
        }
    ));
    assert_eq!(ExportInfo::FIXED_SIZE, None);
    // The client knows whether the padding comes from what it negotiated.
    let mut stream =
        Bytes::from([sdwire::to_vec_unversioned(&short).unwrap(), vec![0xaa]].concat());
    let d: ExportInfo = sdwire::decode_with_len(&mut stream, 0, 0).unwrap();
    assert_eq!(d, short);
    assert_eq!(&stream[..], &[0xaa]);
}

#[derive(Wire, Debug, PartialEq)]
#[wire(be)]
struct SimpleReply {
    #[wire(magic = 0x67446698)]
    magic: u32,
    error: u32,
    cookie: u64,
    #[wire(rest)]
    data: Bytes,
}

#[test]
fn decode_with_len_takes_exactly_the_tail_it_is_told() {
    let mut wire = Vec::new();
    for (cookie, data) in [(1u64, &b"0123456789"[..]), (2, &b"ab"[..])] {
        SimpleReply {
            magic: 0,
            error: 0,
            cookie,
            data: Bytes::copy_from_slice(data),
        }
        .encode_unversioned(&mut wire)
        .unwrap();
    }
    let mut buf = Bytes::from(wire);
    let base = buf.as_ptr() as usize;
    let a: SimpleReply = sdwire::decode_with_len(&mut buf, 0, 10).unwrap();
    assert_eq!((a.cookie, &a.data[..]), (1, &b"0123456789"[..]));
    assert_eq!(
        a.data.as_ptr() as usize,
        base + 16,
        "payload shares the input"
    );
    let b: SimpleReply = sdwire::decode_with_len(&mut buf, 0, 2).unwrap();
    assert_eq!((b.cookie, &b.data[..]), (2, &b"ab"[..]));
    // Too short: the whole message is checked before anything is consumed.
    let mut short = &[0x67u8, 0x44, 0x66, 0x98, 0, 0, 0, 0][..];
    let e = sdwire::decode_with_len::<SimpleReply, _>(&mut short, 0, 4).unwrap_err();
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::Truncated {
            needed: 20,
            available: 8
        }
    ));
    assert_eq!(short.len(), 8);
    // A type whose prefix is not fixed says so.
    #[derive(Wire, Debug)]
    #[wire(be)]
    #[allow(dead_code)]
    struct Var {
        n: u8,
        #[wire(len = n)]
        a: Bytes,
        #[wire(rest)]
        b: Bytes,
    }
    let e = sdwire::decode_with_len::<Var, _>(&mut &[0u8; 8][..], 0, 1).unwrap_err();
    assert!(matches!(e.kind(), DecodeErrorKind::Custom(_)));
}

sdwire::bitflags::bitflags! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct CmdFlags: u16 {
        const FUA = 1 << 0;
        const NO_HOLE = 1 << 1;
    }
}
sdwire::wire_flags!(CmdFlags, be, unknown = reject);

sdwire::bitflags::bitflags! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct LooseFlags: u32 {
        const A = 1;
    }
}
sdwire::wire_flags!(LooseFlags, le, unknown = retain);

sdwire::bitflags::bitflags! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct DropFlags: u8 {
        const A = 1;
    }
}
sdwire::wire_flags!(DropFlags, le, unknown = truncate);

#[derive(Wire, Debug, PartialEq)]
#[wire(be, size = 8)]
struct WithFlags {
    flags: CmdFlags,
    #[wire(pad = 2)]
    loose: LooseFlags,
}

#[test]
fn flag_words_keep_their_byte_order_and_unknown_bit_policy() {
    let v = WithFlags {
        flags: CmdFlags::FUA | CmdFlags::NO_HOLE,
        loose: LooseFlags::A,
    };
    let b = sdwire::to_vec_unversioned(&v).unwrap();
    assert_eq!(b, [0, 3, 0, 0, 1, 0, 0, 0]);
    assert_eq!(sdwire::from_slice_unversioned::<WithFlags>(&b).unwrap(), v);
    let e = sdwire::from_slice_unversioned::<WithFlags>(&[0x80, 1, 0, 0, 1, 0, 0, 0]).unwrap_err();
    assert_eq!(e.path(), ["flags"]);
    assert!(matches!(
        e.kind(),
        DecodeErrorKind::InvalidValue { value: 0x8001, .. }
    ));
    let kept =
        sdwire::from_slice_unversioned::<WithFlags>(&[0, 1, 0, 0, 0xff, 0, 0, 0x80]).unwrap();
    assert_eq!(kept.loose.bits(), 0x8000_00ff);
    assert_eq!(
        sdwire::to_vec_unversioned(&kept).unwrap()[4..],
        [0xff, 0, 0, 0x80]
    );
    assert_eq!(
        sdwire::from_slice_unversioned::<DropFlags>(&[0xf1]).unwrap(),
        DropFlags::A
    );
    assert_eq!(CmdFlags::LAYOUT.order, sdwire::Order::Be);
    assert_eq!(WithFlags::LAYOUT.field("loose").unwrap().offset, Some(4));
}

#[derive(Wire, Debug)]
#[wire(tag = u16, be, handler = CmdServer, handler_ctx)]
enum NbdCmd {
    #[wire(opcode = 0)]
    Read { offset: u64, length: u32 },
    #[wire(opcode = 3)]
    Flush,
    #[wire(other)]
    Unknown(u16),
}

struct Conn {
    served: Vec<String>,
}

struct Disk;

impl<'a> CmdServer<&'a mut Conn> for Disk {
    type Output = usize;
    async fn read(&self, ctx: &'a mut Conn, offset: u64, length: u32) -> usize {
        ctx.served.push(format!("read {offset}+{length}"));
        ctx.served.len()
    }
    async fn flush(&self, ctx: &'a mut Conn) -> usize {
        ctx.served.push("flush".into());
        ctx.served.len()
    }
    async fn unknown_op(&self, ctx: &'a mut Conn, tag: u16) -> usize {
        ctx.served.push(format!("unknown {tag}"));
        ctx.served.len()
    }
}

#[test]
fn handler_gets_a_per_call_context() {
    let mut conn = Conn { served: Vec::new() };
    let ops = [
        NbdCmd::Read {
            offset: 4096,
            length: 512,
        },
        NbdCmd::Flush,
        sdwire::from_slice_unversioned::<NbdCmd>(&[0, 9]).unwrap(),
    ];
    for op in ops {
        futures::executor::block_on(op.dispatch_with(&Disk, &mut conn));
    }
    assert_eq!(conn.served, ["read 4096+512", "flush", "unknown 9"]);
}

#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be)]
struct OptHeader {
    #[wire(magic = 0x49484156454F5054)]
    magic: u64,
    option: u32,
    #[wire(payload_len)]
    length: u32,
}

#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be, packed)]
struct OptReply {
    #[wire(magic = 0x3e889045565a9)]
    magic: u64,
    option: u32,
    reply: u32,
    #[wire(payload_len)]
    length: u32,
}

#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be)]
struct ClientFlags {
    flags: u32,
}

#[test]
fn payload_len_derives_the_frame_header_traits() {
    let mut h = OptHeader {
        magic: 0,
        option: 1,
        length: 0,
    };
    h.set_payload_len(70000).unwrap();
    assert_eq!(h.payload_len(), 70000);
    #[derive(Wire, Debug)]
    #[wire(le)]
    struct Small {
        #[wire(payload_len)]
        len: u8,
    }
    let e = Frame::filled(Small { len: 0 }, vec![0u8; 300]).unwrap_err();
    assert!(matches!(
        e.kind(),
        sdwire::EncodeErrorKind::LengthOverflow { len: 300, .. }
    ));
    assert_eq!(e.path(), ["len"]);
}

#[tokio::test]
async fn one_writer_sends_every_header_type_and_fills_lengths() {
    let mut w = FrameWriter::untyped(Vec::new(), 0).with_copy_limit(8);
    w.send_message(&ClientFlags { flags: 3 }).await.unwrap();
    w.send_filled(
        OptReply {
            magic: 0,
            option: 7,
            reply: 1,
            length: 99,
        },
        &b"abc"[..],
    )
    .await
    .unwrap();
    let err = w
        .send_frame(Frame::new(
            OptHeader {
                magic: 0,
                option: 1,
                length: 5,
            },
            &b"abc"[..],
        ))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        sdwire::codec::FrameError::LengthMismatch {
            announced: 5,
            actual: 3
        }
    ));
    // A reply whose payload length the peer knows from its request.
    let big = Bytes::from(vec![7u8; 64]);
    w.send_with_payload(
        &SimpleReply {
            magic: 0,
            error: 0,
            cookie: 4,
            data: Bytes::new(),
        },
        big.clone(),
    )
    .await
    .unwrap();
    w.flush().await.unwrap();
    let out = Bytes::from(w.into_inner());
    assert_eq!(&out[..4], &[0, 0, 0, 3]);
    let mut rest = out.slice(4..);
    let reply = FrameCodec::<OptReply>::new(0, 1024)
        .decode(&mut BytesMut::from(&rest[..23]))
        .unwrap()
        .unwrap();
    assert_eq!((reply.header.length, &reply.payload[..]), (3, &b"abc"[..]));
    rest = rest.slice(23..);
    let r: SimpleReply = sdwire::decode_with_len(&mut rest, 0, 64).unwrap();
    assert_eq!((r.cookie, r.data), (4, big));
    assert!(rest.is_empty());
}

#[tokio::test]
async fn framing_switches_between_phases_without_losing_bytes() {
    let (client, server) = tokio::io::duplex(64);
    let client_task = tokio::spawn(async move {
        let mut c = Framed::new(client, MessageCodec::<ClientFlags>::new(0));
        // Flags, two options and a request, all in one burst.
        c.feed(ClientFlags { flags: 1 }).await.unwrap();
        for (option, data) in [(5u32, &b"disk"[..]), (7, &b""[..])] {
            let h = Frame::filled(
                OptHeader {
                    magic: 0,
                    option,
                    length: 0,
                },
                data,
            )
            .unwrap();
            c.feed(h.header).await.unwrap();
            if let Ok(four) = <[u8; 4]>::try_from(data) {
                c.feed(four).await.unwrap();
            }
        }
        c.feed(Request {
            cookie: 11,
            ..Request::default()
        })
        .await
        .unwrap();
        SinkExt::<ClientFlags>::flush(&mut c).await.unwrap();
        c
    });
    let mut s = FramedRead::new(server, MessageCodec::<ClientFlags>::new(0));
    assert_eq!(s.next().await.unwrap().unwrap().flags, 1);
    let mut s = s.map_decoder(|_| FrameCodec::<OptHeader>::new(0, 1 << 10));
    let a = s.next().await.unwrap().unwrap();
    assert_eq!((a.header.option, &a.payload[..]), (5, &b"disk"[..]));
    let b = s.next().await.unwrap().unwrap();
    assert_eq!((b.header.option, b.payload.len()), (7, 0));
    let mut s = s.map_decoder(|_| MessageCodec::<Request>::new(0));
    assert_eq!(s.next().await.unwrap().unwrap().cookie, 11);
    drop(client_task.await.unwrap());
}

proptest::proptest! {
    /// Whatever the bytes, the new decoders answer with a value or an
    /// error, never a panic; and what decodes re-encodes to the same bytes
    /// where the encoding is canonical.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), tail in 0usize..300) {
        let _ = sdwire::from_slice_unversioned::<Request>(&bytes);
        let _ = sdwire::from_slice_unversioned::<Hello>(&bytes);
        let _ = sdwire::from_slice_unversioned::<Cmd>(&bytes);
        let _ = sdwire::from_slice_unversioned::<WithFlags>(&bytes);
        let _ = sdwire::from_slice_unversioned::<NbdCmd>(&bytes);
        let _ = sdwire::decode_with_len::<SimpleReply, _>(&mut &bytes[..], 0, tail);
        let _ = sdwire::decode_with_len::<ExportInfo, _>(&mut &bytes[..], 0, tail);
        if let Ok(r) = sdwire::from_slice_unversioned::<Request>(&bytes) {
            proptest::prop_assert_eq!(&sdwire::to_vec_unversioned(&r).unwrap()[..], &bytes[..28]);
        }
        if let Ok(e) = sdwire::from_slice_unversioned::<ExportInfo>(&bytes) {
            proptest::prop_assert_eq!(e.size_unversioned(), if bytes.len() >= 134 { 134 } else { 10 });
        }
    }
}
