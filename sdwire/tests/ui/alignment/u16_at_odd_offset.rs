// A u16 at an odd offset.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Small {
    a: u8,
    b: u16,
}

fn main() {}
