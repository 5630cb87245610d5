// The fixes the alignment messages suggest: `pad`, a reserved field for
// trailing padding, and `packed`.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, size = 8)]
struct Header {
    proto_ver: u8,
    opcode: u8,
    #[wire(pad = 2)]
    epoch: u32,
}

#[derive(Wire)]
#[wire(le, size = 8)]
struct Entry {
    id: u32,
    flag: u8,
    #[wire(reserved)]
    _pad: [u8; 3],
}

#[derive(Wire)]
#[wire(le, packed, size = 5)]
struct Packed {
    flag: u8,
    id: u32,
}

#[derive(Wire)]
struct Outer {
    kind: u8,
    #[wire(pad = 3)]
    header: Header,
}

fn main() {
    assert_eq!(Header::FIXED_SIZE, Some(8));
    assert_eq!(Entry::FIXED_SIZE, Some(8));
    assert_eq!(Packed::FIXED_SIZE, Some(5));
    assert_eq!(Outer::FIXED_SIZE, Some(12));
}
