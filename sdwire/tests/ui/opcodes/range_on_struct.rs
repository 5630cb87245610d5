// `range` and `handler` belong to opcode tables.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, range = 0..=0x7f, handler = Handler)]
struct Header {
    opcode: u32,
}

fn main() {}
