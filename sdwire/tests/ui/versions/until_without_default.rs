// Same for a removed field.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, version = 3, compat = 1)]
struct Info {
    #[wire(until = 3)]
    legacy: u32,
}

fn main() {}
