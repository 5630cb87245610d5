// A multi-byte magic number needs a byte order like any other number.
use sdwire::Wire;

#[derive(Wire)]
struct Request {
    #[wire(magic = 0x25609513)]
    magic: u32,
}

fn main() {}
