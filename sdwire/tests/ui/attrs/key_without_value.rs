// `size` needs a value.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, size)]
struct Info {
    flags: u32,
}

fn main() {}
