// Explicit padding counts towards the size.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, size = 8)]
struct Padded {
    a: u8,
    #[wire(pad = 3)]
    b: u32,
    #[wire(pad = 4)]
    c: u32,
}

fn main() {}
