// Same in a variant with named fields.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8)]
enum Request {
    #[wire(opcode = 1)]
    Write { offset: u64, flags: u8 },
}

fn main() {}
