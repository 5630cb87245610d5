// A u32 after two bytes: a C compiler would pad it to offset 4.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Header {
    proto_ver: u8,
    opcode: u8,
    epoch: u32,
}

fn main() {}
