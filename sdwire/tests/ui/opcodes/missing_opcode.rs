// A variant without an opcode.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8)]
enum Op {
    #[wire(opcode = 1)]
    Read,
    Write,
}

fn main() {}
