// `#[wire]` needs a list of keys.
use sdwire::Wire;

#[derive(Wire)]
#[wire = "le"]
struct Info {
    flags: u8,
}

fn main() {}
