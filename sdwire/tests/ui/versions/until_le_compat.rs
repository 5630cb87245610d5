// A field removed before the oldest version read: no version has it.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, version = 5, compat = 2)]
struct Info {
    #[wire(until = 2, default)]
    flags: u32,
}

fn main() {}
