// Tags are unsigned integers of 1, 2, 4 or 8 bytes.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = i32, le)]
enum Op {
    #[wire(opcode = 1)]
    Read,
}

fn main() {}
