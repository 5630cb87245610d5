// Only one catch-all.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8)]
enum Op {
    #[wire(opcode = 1)]
    Read,
    #[wire(other)]
    Unknown(u8),
    #[wire(other)]
    Unknown2(u8),
}

fn main() {}
