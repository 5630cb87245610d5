// `pad = 1` is not enough: `epoch` starts at offset 3.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Header {
    proto_ver: u8,
    opcode: u8,
    #[wire(pad = 1)]
    epoch: u32,
}

fn main() {}
