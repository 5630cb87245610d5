// The catch-all takes every unknown tag; it has no opcode of its own.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8)]
enum Op {
    #[wire(opcode = 0)]
    Nop,
    #[wire(other, opcode = 0xff)]
    Unknown(u8),
}

fn main() {}
