// The length field is an integer.
use sdwire::Wire;

#[derive(Wire)]
#[wire(be)]
struct Header {
    #[wire(payload_len)]
    length: bool,
}

fn main() {}
