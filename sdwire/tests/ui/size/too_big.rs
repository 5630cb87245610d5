// The fields encode to fewer bytes than declared.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, size = 48)]
struct ReqHeader {
    proto_ver: u8,
    opcode: u8,
    flags: u16,
    epoch: u32,
    id: u32,
    data_length: u32,
    body: [u8; 24],
}

fn main() {}
