// ...not a constant's name: the derive needs the number itself.
use sdwire::Wire;

const HDR: usize = 4;

#[derive(Wire)]
#[wire(le, size = HDR)]
struct Info {
    flags: u32,
}

fn main() {}
