// The same key in two attributes.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, size = 4)]
#[wire(size = 4)]
struct Info {
    flags: u32,
}

fn main() {}
