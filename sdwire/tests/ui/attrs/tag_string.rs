// `tag` takes a type name, not a string.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = "u8")]
enum Op {
    #[wire(opcode = 1)]
    Read,
}

fn main() {}
