// A `Vec<u8>` payload needs its length.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    len: u32,
    data: Vec<u8>,
}

fn main() {}
