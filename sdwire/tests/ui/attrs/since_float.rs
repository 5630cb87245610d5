// Versions are integers.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, version = 2, compat = 1)]
struct Info {
    #[wire(since = 1.5, default)]
    flags: u32,
}

fn main() {}
