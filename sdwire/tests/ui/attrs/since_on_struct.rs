// `since` belongs to fields and variants.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, since = 2)]
struct Info {
    flags: u32,
}

fn main() {}
