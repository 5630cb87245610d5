// The fields encode to more bytes than declared.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, size = 16)]
struct RspHeader {
    proto_ver: u8,
    opcode: u8,
    flags: u16,
    epoch: u32,
    id: u32,
    data_length: u32,
    result: u32,
}

fn main() {}
