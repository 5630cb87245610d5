// `size` and `packed` belong to structs.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8, size = 1, packed)]
enum Op {
    #[wire(opcode = 1)]
    Read,
}

fn main() {}
