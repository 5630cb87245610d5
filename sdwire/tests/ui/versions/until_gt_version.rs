// A field removed after the current version.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, version = 5, compat = 1)]
struct Info {
    #[wire(until = 6, default)]
    flags: u32,
}

fn main() {}
