// An opcode that does not fit the tag type.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8)]
enum Op {
    #[wire(opcode = 0x100)]
    Big,
}

fn main() {}
