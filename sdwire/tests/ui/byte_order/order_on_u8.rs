// A byte order on a single byte means nothing.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Header {
    #[wire(be)]
    proto_ver: u8,
    opcode: u8,
}

fn main() {}
