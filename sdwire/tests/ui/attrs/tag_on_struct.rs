// `tag` belongs to enums.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8)]
struct Info {
    flags: u8,
}

fn main() {}
