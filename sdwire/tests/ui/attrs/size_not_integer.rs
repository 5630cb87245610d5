// `size` takes an integer literal.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, size = "48")]
struct Info {
    flags: u32,
}

fn main() {}
