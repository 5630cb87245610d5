// ...in a string.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, crate = sdwire)]
struct Info {
    flags: u32,
}

fn main() {}
