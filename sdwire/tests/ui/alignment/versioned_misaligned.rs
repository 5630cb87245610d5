// Alignment is checked at the type's current version: without the
// removed `old` field, `b` starts at offset 2.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, version = 2, compat = 1)]
struct Versioned {
    a: u16,
    #[wire(until = 2, default)]
    old: u16,
    b: u32,
}

fn main() {}
