// A `Bytes` payload needs its length.
use bytes::Bytes;
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    len: u32,
    data: Bytes,
}

fn main() {}
