// A multi-byte number in an enum variant with no byte order.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8)]
enum Request {
    #[wire(opcode = 1)]
    Read(u8, u32),
}

fn main() {}
