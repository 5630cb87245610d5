// An array of u32 is aligned like one u32.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Ring {
    count: u8,
    slots: [u32; 4],
}

fn main() {}
