// A field removed before (or when) it was added.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, version = 5, compat = 1)]
struct Info {
    #[wire(since = 3, until = 3, default)]
    flags: u32,
}

fn main() {}
