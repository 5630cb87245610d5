// The length field must be an integer.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    len: [u8; 4],
    #[wire(len = len)]
    data: Vec<u8>,
}

fn main() {}
