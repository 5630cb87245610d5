// On a versioned struct, `size` is checked at the current version:
// `old` is gone in version 3, so the struct is 4 bytes, not 8.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, size = 8, version = 3, compat = 1)]
struct Versioned {
    a: u32,
    #[wire(until = 3, default)]
    old: u32,
}

fn main() {}
