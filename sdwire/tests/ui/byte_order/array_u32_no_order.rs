// An array of multi-byte numbers needs a byte order too.
use sdwire::Wire;

#[derive(Wire)]
struct Ring {
    count: u8,
    #[wire(pad = 3)]
    slots: [u32; 4],
}

fn main() {}
