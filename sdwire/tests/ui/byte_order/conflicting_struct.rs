// `le` and `be` on the same struct.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, be)]
struct Header {
    len: u32,
}

fn main() {}
