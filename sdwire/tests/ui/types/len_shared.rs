// One length field measures one payload.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    len: u32,
    #[wire(len = len)]
    a: Vec<u8>,
    #[wire(len = len)]
    b: Vec<u8>,
}

fn main() {}
