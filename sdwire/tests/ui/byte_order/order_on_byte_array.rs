// ...nor on an array of bytes.
use sdwire::Wire;

#[derive(Wire)]
struct Name {
    #[wire(be)]
    name: [u8; 256],
}

fn main() {}
