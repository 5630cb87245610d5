// A variant removed before it was added.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8, version = 5, compat = 1)]
enum Op {
    #[wire(opcode = 1, since = 4, until = 3)]
    Trim,
}

fn main() {}
