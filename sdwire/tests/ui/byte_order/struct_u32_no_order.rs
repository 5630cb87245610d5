// A multi-byte number in a struct with no byte order anywhere.
use sdwire::Wire;

#[derive(Wire)]
struct Header {
    opcode: u8,
    flags: u8,
    len: u16,
}

fn main() {}
