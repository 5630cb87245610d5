// Byte orders go on the enum or on a field, not on a variant.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8)]
enum Op {
    #[wire(opcode = 1, le)]
    Read(u32),
}

fn main() {}
