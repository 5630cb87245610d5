// Versions are u16.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, version = 0x10000)]
struct Info {
    flags: u32,
}

fn main() {}
