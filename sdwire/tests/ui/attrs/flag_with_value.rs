// `le` is a flag; it takes no value.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le = true)]
struct Info {
    flags: u32,
}

fn main() {}
