// `le` and `be` in two attributes of the same struct.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
#[wire(be)]
struct Header {
    len: u32,
}

fn main() {}
