// An opcode table with no opcodes.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8)]
enum Op {}

fn main() {}
