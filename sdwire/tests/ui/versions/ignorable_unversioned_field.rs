// `ignorable` only means something on a versioned field.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, version = 2, compat = 1)]
struct Info {
    #[wire(ignorable)]
    hint: u32,
}

fn main() {}
