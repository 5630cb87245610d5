// `rest` and `len` both give a payload its length.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    n: u32,
    #[wire(len = n, rest)]
    data: Vec<u8>,
}

fn main() {}
