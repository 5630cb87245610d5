// Same with a u16 tag.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u16, le)]
enum Op {
    #[wire(opcode = 65536)]
    Big,
}

fn main() {}
