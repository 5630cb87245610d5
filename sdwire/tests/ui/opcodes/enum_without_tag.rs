// An enum is an opcode table and needs a tag type.
use sdwire::Wire;

#[derive(Wire)]
enum Op {
    #[wire(opcode = 1)]
    Read,
}

fn main() {}
