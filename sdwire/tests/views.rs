//! `sdwire::views` on a small big-endian protocol family of two protocols:
//! where types are placed, `__be*` C types, and big-endian reads in the
//! dissector's framing.

use sdwire::views::{c, lua, Family, Framing, Protocol};
use sdwire::{FlagInfo, Wire};

/// Request flags.
#[derive(Wire, Clone, Copy)]
#[wire(be, size = 2, flags = Flags::INFO)]
struct Flags(u16);

impl Flags {
    const INFO: &'static [FlagInfo] = &[FlagInfo {
        name: "MORE",
        bits: 0x1,
        doc: "A payload follows.",
    }];
}

/// The request header.
#[derive(Wire)]
#[wire(be, size = 20)]
struct Req {
    ver: u8,
    op: u8,
    flags: Flags,
    id: u32,
    len: u32,
    body: [u8; 8],
}

/// The response header.
#[derive(Wire)]
#[wire(be, size = 16)]
struct Rsp {
    ver: u8,
    op: u8,
    _pad: u16,
    id: u32,
    len: u32,
    result: u32,
}

/// A handle, used by both protocols.
#[derive(Wire, Default)]
#[wire(be, size = 8)]
struct Handle {
    /// The handle's number.
    value: u32,
    /// Its generation.
    generation: u32,
}

/// Only the data protocol uses this one.
#[derive(Wire, Default)]
#[wire(be, size = 4, version = 2, compat = 1)]
struct Range {
    start: u16,
    /// Added in version 2.
    #[wire(since = 2, default)]
    count: u16,
}

/// Control operations.
#[derive(Wire)]
#[wire(tag = u8, no_handler, version = 1)]
enum Control {
    /// Open a handle.
    #[wire(opcode = 1)]
    Open(Handle),
}

/// Data operations.
#[derive(Wire)]
#[wire(tag = u8, no_handler, version = 2, compat = 1)]
enum Data {
    /// Read through a handle.
    #[wire(opcode = 2)]
    Read(Handle),
    /// Read a range.
    #[wire(opcode = 3, since = 2)]
    ReadRange(Range),
}

fn family() -> Family {
    Family {
        name: "toy",
        title: "Toy",
        c_prefix: "toy",
        common: vec![Req::LAYOUT, Rsp::LAYOUT],
        protocols: vec![
            Protocol::new("control", Control::LAYOUT),
            Protocol::new("data", Data::LAYOUT),
        ],
    }
}

#[test]
fn shared_types_go_to_the_common_header() {
    let p = family().placement();
    let names = |v: &[&sdwire::Layout]| v.iter().map(|l| l.name).collect::<Vec<_>>();
    assert_eq!(names(&p.common), ["Flags", "Req", "Rsp", "Handle"]);
    assert_eq!(names(&p.protocols[0]), ["Control"]);
    assert_eq!(names(&p.protocols[1]), ["Range", "Data"]);
}

#[test]
fn c_uses_big_endian_types_and_marks_versions() {
    let h = c::render(&family());
    let common = &h[0].text;
    assert!(
        common.contains("\t__be16 flags; /* Flags: TOY_FLAGS_* */"),
        "{common}"
    );
    assert!(common.contains("#define TOY_FLAGS_MORE 0x0001 /* A payload follows */"));
    assert!(common.contains("\t__be32 value; /* The handle's number */"));
    let data = &h[2].text;
    assert_eq!(h[2].file, "toy_data.h");
    assert!(
        data.contains("\t__be16 count; /* since 0x02; Added in version 2 */"),
        "{data}"
    );
    assert!(data.contains(
        "#define TOY_DATA_READ_RANGE 0x03 /* Read a range; since 0x02; arm: struct toy_range */"
    ));
    assert!(data.contains("#define TOY_DATA_VERSION 0x02"));
}

#[test]
fn lua_reads_big_endian_framing() {
    let framing = Framing {
        tcp_port: 4000,
        request: Req::LAYOUT,
        response: Rsp::LAYOUT,
        version: "ver",
        opcode: "op",
        id: "id",
        length: "len",
        body: "body",
        result: "result",
        request_payload_flag: Some(("flags", 0x1)),
    };
    let l = lua::render(&family(), &framing);
    assert!(l.contains("local proto_control = Proto(\"toy_control\", \"Toy control protocol\")"));
    assert!(
        l.contains("return REQ_HEADER_LEN + tvb(offset + 8, 4):uint()"),
        "{l}"
    );
    assert!(l.contains("bit.band(tvb(offset + 2, 2):uint(), 0x1) ~= 0"));
    assert!(l.contains("if ver ~= nil and ver >= 0x2 then"));
    assert!(l.contains("DissectorTable.get(\"tcp.port\"):add(4000, proto)"));
    assert!(l.contains("hf.toy_request_flags_more = ProtoField.bool(\"toy.request.flags.more\", \"MORE\", 16, nil, 0x1"));
}
