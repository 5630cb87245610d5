// `size = 0` on a struct that has fields.
use sdwire::Wire;

#[derive(Wire)]
#[wire(size = 0)]
struct Empty {
    a: u8,
}

fn main() {}
