// A packed struct has no implicit padding: 1 + 4 is 5, not 8.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, packed, size = 8)]
struct Packed {
    a: u8,
    b: u32,
}

fn main() {}
