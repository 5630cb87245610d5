// A frame header announces one payload.
use sdwire::Wire;

#[derive(Wire)]
#[wire(be)]
struct Header {
    #[wire(payload_len)]
    length: u32,
    #[wire(payload_len)]
    other: u32,
}

fn main() {}
