// `opcode` takes an integer literal.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8)]
enum Op {
    #[wire(opcode = Read)]
    Read,
}

fn main() {}
