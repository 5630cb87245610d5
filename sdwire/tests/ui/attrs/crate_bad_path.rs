// `crate` takes a path in a string.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, crate = "not a path!")]
struct Info {
    flags: u32,
}

fn main() {}
