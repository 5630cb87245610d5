// ...nor on a `Vec<u8>` payload.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Data {
    len: u32,
    #[wire(len = len, le)]
    data: Vec<u8>,
}

fn main() {}
