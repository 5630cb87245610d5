// A magic number is an unsigned integer field.
use sdwire::Wire;

#[derive(Wire)]
#[wire(be)]
struct Hello {
    #[wire(magic = 0x4e42)]
    magic: [u8; 2],
}

fn main() {}
