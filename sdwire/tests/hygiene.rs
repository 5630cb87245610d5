//! Hygiene: the derive's output must compile where nothing is in scope
//! (`#![no_implicit_prelude]`, no `use` of sdwire, bytes or std traits), so
//! generated code may name only absolute paths (`::sdwire::...`,
//! `::core::...`). Every kind of item the derive handles is derived here and
//! round-tripped.

#![allow(clippy::disallowed_names)]

mod hygienic {
    #![no_implicit_prelude]

    /// A fixed-size header: fast fixed-offset path, bools, i8, arrays, reserved, pad.
    #[derive(::sdwire::Wire, ::core::fmt::Debug, ::core::cmp::PartialEq, ::core::clone::Clone)]
    #[wire(le, size = 40)]
    pub struct Fixed {
        pub op: u8,
        pub flag: bool,
        pub signed: i8,
        #[wire(reserved)]
        pub _r: u8,
        pub id: u32,
        #[wire(be)]
        pub port: u16,
        #[wire(pad = 2)]
        pub words: [u32; 2],
        pub inner: Inner,
        #[wire(pad = 4)]
        pub typed: ::sdwire::Le<u64>,
    }

    #[derive(::sdwire::Wire, ::core::fmt::Debug, ::core::cmp::PartialEq, ::core::clone::Clone)]
    #[wire(be)]
    pub struct Inner {
        pub a: u32,
        pub b: [u8; 4],
    }

    /// A big fixed-size struct (> 512 bytes: the heap-buffer encode path).
    #[derive(::sdwire::Wire, ::core::fmt::Debug, ::core::cmp::PartialEq, ::core::clone::Clone)]
    #[wire(le)]
    pub struct Big {
        pub words: ::std::boxed::Box<[u64; 80]>,
        pub flag: bool,
        #[wire(pad = 7)]
        pub tail: u64,
    }

    /// A versioned struct: the sequential buffer path with defaults.
    #[derive(::sdwire::Wire, ::core::fmt::Debug, ::core::cmp::PartialEq, ::core::clone::Clone)]
    #[wire(le, version = 3, compat = 1)]
    pub struct Versioned {
        pub a: u32,
        #[wire(since = 2, default)]
        pub b: u16,
        #[wire(since = 2, default = 7, ignorable)]
        pub c: u16,
        #[wire(until = 3, default)]
        pub old: u32,
        #[wire(since = 2, default)]
        pub flag: bool,
        #[wire(reserved, pad = 1)]
        pub _r: [u8; 2],
    }

    /// Payloads of every kind.
    #[derive(::sdwire::Wire, ::core::fmt::Debug, ::core::cmp::PartialEq, ::core::clone::Clone)]
    #[wire(be)]
    pub struct Payload {
        pub len: u16,
        pub count: u8,
        #[wire(len = len, max = 64)]
        pub data: ::sdwire::bytes::Bytes,
        #[wire(count = count)]
        pub items: ::std::vec::Vec<Inner>,
        pub n: u32,
        #[wire(len = n)]
        pub raw: ::std::vec::Vec<u8>,
        #[wire(rest)]
        pub tail: ::std::vec::Vec<Inner>,
    }

    /// An opcode table with data, named and unit variants, a versioned op
    /// and a catch-all; it gets a handler trait too.
    #[derive(::sdwire::Wire, ::core::fmt::Debug, ::core::cmp::PartialEq, ::core::clone::Clone)]
    #[wire(tag = u16, be, version = 2, compat = 1)]
    pub enum Op {
        #[wire(opcode = 1)]
        Read(Inner),
        #[wire(opcode = 2)]
        Write {
            len: u8,
            #[wire(len = len)]
            data: ::std::vec::Vec<u8>,
        },
        #[wire(opcode = 3, since = 2)]
        Sync,
        #[wire(opcode = 4)]
        Pair(u32, bool),
        #[wire(other)]
        Unknown(u16),
    }

    #[derive(::sdwire::Wire, ::core::fmt::Debug, ::core::cmp::PartialEq, ::core::clone::Clone)]
    #[wire(tag = u8, no_handler)]
    pub enum Small {
        #[wire(opcode = 0)]
        A,
        #[wire(opcode = 0xff)]
        B([u8; 3]),
    }

    /// `packed`, big-endian arrays, and the `crate` override naming sdwire
    /// through a re-export.
    #[derive(::sdwire::Wire, ::core::fmt::Debug, ::core::cmp::PartialEq, ::core::clone::Clone)]
    #[wire(be, packed, size = 15, crate = "crate::reexport::sd")]
    pub struct Packed {
        pub a: u8,
        pub b: [u16; 3],
        pub c: u64,
    }

    /// Tuple and unit structs.
    #[derive(::sdwire::Wire, ::core::fmt::Debug, ::core::cmp::PartialEq, ::core::clone::Clone)]
    #[wire(le)]
    pub struct Tuple(pub u16, pub u16, pub Unit);

    #[derive(::sdwire::Wire, ::core::fmt::Debug, ::core::cmp::PartialEq, ::core::clone::Clone)]
    pub struct Unit;

    /// A generic struct.
    #[derive(::sdwire::Wire, ::core::fmt::Debug, ::core::cmp::PartialEq, ::core::clone::Clone)]
    #[wire(le)]
    pub struct Generic<T: ::sdwire::Wire> {
        pub head: u32,
        pub body: T,
    }

    pub struct Handler;
    impl OpHandler for Handler {
        type Output = u32;
        async fn read(&self, b0: Inner) -> u32 {
            b0.a
        }
        async fn write(&self, len: u8, data: ::std::vec::Vec<u8>) -> u32 {
            let _ = data;
            ::core::convert::From::from(len)
        }
        async fn sync(&self) -> u32 {
            3
        }
        async fn pair(&self, b0: u32, b1: bool) -> u32 {
            if b1 {
                b0
            } else {
                0
            }
        }
        async fn unknown_op(&self, b0: u16) -> u32 {
            ::core::convert::From::from(b0)
        }
    }

    ::sdwire::bitflags::bitflags! {
        #[derive(
            ::core::fmt::Debug,
            ::core::clone::Clone,
            ::core::marker::Copy,
            ::core::cmp::PartialEq,
            ::core::cmp::Eq,
        )]
        pub struct Flags: u16 {
            const A = 1;
            const B = 2;
        }
    }
    ::sdwire::wire_flags!(Flags, be, unknown = reject);

    /// Magic numbers on both paths, a flags word, a frame header's length.
    #[derive(::sdwire::Wire, ::core::fmt::Debug, ::core::cmp::PartialEq, ::core::clone::Clone)]
    #[wire(be, size = 16)]
    pub struct MagicHeader {
        #[wire(magic = 0x25609513)]
        pub magic: u32,
        pub flags: Flags,
        #[wire(magic = 7)]
        pub marker: u8,
        pub kind: u8,
        pub cookie: u32,
        #[wire(payload_len)]
        pub length: u32,
    }

    /// An optional tail and a named tuple field on the sequential path.
    #[derive(::sdwire::Wire, ::core::fmt::Debug, ::core::cmp::PartialEq, ::core::clone::Clone)]
    #[wire(be, packed)]
    pub struct Tail(
        #[wire(magic = 0x4e42)] pub u16,
        #[wire(name = "size")] pub u64,
        #[wire(optional)] pub ::core::option::Option<::sdwire::Zeros<4>>,
    );

    /// A handler with a per-call context.
    #[derive(::sdwire::Wire, ::core::fmt::Debug, ::core::cmp::PartialEq)]
    #[wire(tag = u16, be, handler_ctx)]
    pub enum CtxOp {
        #[wire(opcode = 0)]
        Read { offset: u64 },
        #[wire(other)]
        Unknown(u16),
    }

    pub struct CtxServer;
    impl CtxOpHandler<u64> for CtxServer {
        type Output = u64;
        async fn read(&self, ctx: u64, offset: u64) -> u64 {
            ctx + offset
        }
        async fn unknown_op(&self, ctx: u64, tag: u16) -> u64 {
            ctx + <u64 as ::core::convert::From<u16>>::from(tag)
        }
    }
}

mod reexport {
    pub use ::sdwire as sd;
}

use bytes::Bytes;
use hygienic::*;
use sdwire::{OpTable, Wire};

fn round_trip<T: Wire + PartialEq + std::fmt::Debug>(v: &T, version: sdwire::Version) -> Vec<u8> {
    let b = sdwire::to_vec(v, version).unwrap();
    assert_eq!(b.len(), v.wire_size(version));
    assert_eq!(&sdwire::from_slice_exact::<T>(&b, version).unwrap(), v);
    // Through a non-contiguous Buf too (the copying path of fixed-size types).
    let (a, c) = b.split_at(b.len() / 2);
    let mut chain = bytes::Buf::chain(a, c);
    assert_eq!(&T::decode(&mut chain, version).unwrap(), v);
    b
}

fn inner() -> Inner {
    Inner {
        a: 0x0102_0304,
        b: [5, 6, 7, 8],
    }
}

#[test]
fn fixed() {
    let f = Fixed {
        op: 1,
        flag: true,
        signed: -2,
        _r: 0,
        id: 0xdead_beef,
        port: 7000,
        words: [1, 2],
        inner: inner(),
        typed: sdwire::Le::new(9),
    };
    let b = round_trip(&f, 0);
    assert_eq!(Fixed::FIXED_SIZE, Some(40));
    assert_eq!(
        &b[..12],
        &[1, 1, 0xfe, 0, 0xef, 0xbe, 0xad, 0xde, 0x1b, 0x58, 0, 0]
    );
    assert_eq!(&b[20..24], &[1, 2, 3, 4]);

    let big = Big {
        words: Box::new([0x1122_3344_5566_7788; 80]),
        flag: false,
        tail: 5,
    };
    let b = round_trip(&big, 0);
    assert_eq!(b.len(), 656);
}

#[test]
fn versioned() {
    let v3 = Versioned {
        a: 1,
        b: 2,
        c: 3,
        old: 0,
        flag: true,
        _r: [0; 2],
    };
    assert_eq!(round_trip(&v3, 3).len(), 4 + 2 + 2 + 1 + 3);
    let v2 = Versioned {
        old: 4,
        ..v3.clone()
    };
    assert_eq!(round_trip(&v2, 2).len(), 4 + 2 + 2 + 4 + 1 + 3);
    let v1 = Versioned {
        a: 1,
        b: 0,
        c: 7,
        old: 4,
        flag: false,
        _r: [0; 2],
    };
    assert_eq!(round_trip(&v1, 1).len(), 4 + 4 + 3);
}

#[test]
fn payload() {
    let p = Payload {
        len: 0,
        count: 0,
        data: Bytes::from_static(b"hi"),
        items: vec![inner(), inner()],
        n: 0,
        raw: vec![9; 3],
        tail: vec![inner()],
    };
    let b = sdwire::to_vec(&p, 0).unwrap();
    let d: Payload = sdwire::from_slice(&b, 0).unwrap();
    assert_eq!(
        d,
        Payload {
            len: 2,
            count: 2,
            n: 3,
            ..p
        }
    );
    round_trip(&d, 0);
}

#[test]
fn enums() {
    for op in [
        Op::Read(inner()),
        Op::Write {
            len: 2,
            data: vec![1, 2],
        },
        Op::Sync,
        Op::Pair(5, true),
        Op::Unknown(0x99),
    ] {
        round_trip(&op, 2);
    }
    assert_eq!(sdwire::to_vec(&Op::Sync, 2).unwrap(), vec![0, 3]);
    assert!(sdwire::to_vec(&Op::Sync, 1).is_err());
    assert_eq!(Op::Pair(1, false).tag(), 4);
    round_trip(&Small::A, 0);
    round_trip(&Small::B([1, 2, 3]), 0);
    assert_eq!(
        sdwire::to_vec(&Small::B([1, 2, 3]), 0).unwrap(),
        vec![0xff, 1, 2, 3]
    );
}

#[test]
fn packed_crate_override() {
    let p = Packed {
        a: 1,
        b: [2, 3, 4],
        c: 5,
    };
    let b = round_trip(&p, 0);
    assert_eq!(b, [1, 0, 2, 0, 3, 0, 4, 0, 0, 0, 0, 0, 0, 0, 5]);
}

#[test]
fn tuple_unit_generic() {
    round_trip(&Tuple(1, 2, Unit), 0);
    assert_eq!(Tuple::FIXED_SIZE, Some(4));
    round_trip(&Unit, 0);
    round_trip(
        &Generic {
            head: 1,
            body: inner(),
        },
        0,
    );
    round_trip(
        &Generic {
            head: 1,
            body: Tuple(3, 4, Unit),
        },
        0,
    );
}

#[tokio::test]
async fn dispatch() {
    assert_eq!(Op::Read(inner()).dispatch(&Handler).await, 0x0102_0304);
    assert_eq!(
        Op::Write {
            len: 2,
            data: vec![1, 2]
        }
        .dispatch(&Handler)
        .await,
        2
    );
    assert_eq!(Op::Pair(5, true).dispatch(&Handler).await, 5);
    assert_eq!(Op::Unknown(8).dispatch(&Handler).await, 8);
}

#[test]
fn protocol_attributes() {
    use sdwire::codec::{FillPayloadLen, FrameHeader};
    use sdwire::Unversioned;
    let mut h = MagicHeader {
        magic: 0,
        flags: Flags::A | Flags::B,
        marker: 0,
        kind: 1,
        cookie: 2,
        length: 0,
    };
    h.set_payload_len(9).unwrap();
    assert_eq!(h.payload_len(), 9);
    let b = sdwire::to_vec_unversioned(&h).unwrap();
    assert_eq!(&b[..8], &[0x25, 0x60, 0x95, 0x13, 0, 3, 7, 1]);
    let d = MagicHeader::decode_unversioned(&mut &b[..]).unwrap();
    assert_eq!((d.magic, d.marker, d.length), (0x25609513, 7, 9));
    let t = Tail(0x4e42, 5, Some(sdwire::Zeros));
    assert_eq!(round_trip(&t, 0).len(), 14);
    assert_eq!(round_trip(&Tail(0x4e42, 5, None), 0).len(), 10);
    let op = CtxOp::Read { offset: 4 };
    round_trip(&op, 0);
    assert_eq!(
        futures::executor::block_on(op.dispatch_with(&CtxServer, 10)),
        14
    );
}
