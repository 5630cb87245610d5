// The payload goes after the header, not inside it.
use sdwire::Wire;

#[derive(Wire)]
#[wire(be)]
struct Header {
    #[wire(payload_len)]
    length: u32,
    #[wire(rest)]
    data: bytes::Bytes,
}

fn main() {}
