// A struct with a variable-size payload cannot declare a fixed size.
use bytes::Bytes;
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, size = 8)]
struct Msg {
    len: u32,
    #[wire(len = len)]
    data: Bytes,
}

fn main() {}
