// `range` takes a range of integers.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8, range = 0x80)]
enum Op {
    #[wire(opcode = 0x80)]
    Read,
}

fn main() {}
