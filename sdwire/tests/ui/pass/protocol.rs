// The fixes the protocol-attribute messages suggest compile.
use sdwire::{Unversioned, Wire, Zeros};

sdwire::bitflags::bitflags! {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Flags: u16 {
        const A = 1;
    }
}
sdwire::wire_flags!(Flags, be, unknown = retain);

#[derive(Wire)]
#[wire(be, packed)]
struct Greeting {
    #[wire(magic = 0x4e42444d41474943u64)]
    magic: u64,
    #[wire(magic = 0x7f)]
    marker: u8,
    flags: Flags,
}

#[derive(Wire)]
#[wire(be)]
struct ExportInfo {
    size: u64,
    flags: Flags,
    #[wire(optional)]
    zeroes: Option<Zeros<124>>,
}

#[derive(Wire)]
#[wire(be)]
struct Header {
    option: u32,
    #[wire(payload_len)]
    length: u32,
}

#[derive(Wire)]
#[wire(be, packed)]
struct Reply(u32, #[wire(name = "cookie")] u64);

#[derive(Wire)]
#[wire(tag = u16, be, handler_ctx)]
enum Cmd {
    #[wire(opcode = 0)]
    Read(#[wire(name = "range")] Reply),
}

#[derive(Wire)]
#[wire(le, version = 2, compat = 1)]
struct Put {
    key: u32,
}

fn main() {
    let _ = sdwire::to_vec_unversioned(&ExportInfo { size: 0, flags: Flags::A, zeroes: None });
    let _ = Greeting::decode_unversioned(&mut &[0u8; 19][..]);
    let _ = sdwire::to_vec(&Put { key: 1 }, 2);
    let _ = (Header { option: 0, length: 0 }, Cmd::Read(Reply(0, 0)));
}
