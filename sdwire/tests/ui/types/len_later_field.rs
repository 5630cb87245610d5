// `len` names a field that comes after the payload.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    #[wire(len = len)]
    data: Vec<u8>,
    len: u32,
}

fn main() {}
