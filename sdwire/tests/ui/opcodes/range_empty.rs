// A range with no opcode in it.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8, range = 0x80..0x80)]
enum Op {
    #[wire(opcode = 0x80)]
    Read,
}

fn main() {}
