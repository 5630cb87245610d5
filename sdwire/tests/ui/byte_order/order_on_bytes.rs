// ...nor on a `Bytes` payload.
use bytes::Bytes;
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Data {
    len: u32,
    #[wire(len = len, be)]
    data: Bytes,
}

fn main() {}
