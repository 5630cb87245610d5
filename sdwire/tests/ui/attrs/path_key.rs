// Keys are single names.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, sdwire::size = 4)]
struct Info {
    flags: u32,
}

fn main() {}
