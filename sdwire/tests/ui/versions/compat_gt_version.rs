// `compat` newer than `version`: the window is empty.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, version = 2, compat = 3)]
struct Info {
    flags: u32,
}

fn main() {}
