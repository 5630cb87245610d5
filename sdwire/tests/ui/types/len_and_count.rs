// A payload has one length.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    n: u32,
    #[wire(len = n, count = n)]
    data: Vec<u8>,
}

fn main() {}
