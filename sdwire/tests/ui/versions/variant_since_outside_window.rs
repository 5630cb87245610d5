// An opcode added after the enum's current version.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8, version = 2, compat = 1)]
enum Op {
    #[wire(opcode = 1)]
    Read,
    #[wire(opcode = 2, since = 3)]
    Trim,
}

fn main() {}
