// ...so it cannot be a unit variant.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8)]
enum Op {
    #[wire(opcode = 0)]
    Nop,
    #[wire(other)]
    Unknown,
}

fn main() {}
