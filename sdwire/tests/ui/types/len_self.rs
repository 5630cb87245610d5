// `len` names the payload itself.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    len: u32,
    #[wire(len = data)]
    data: Vec<u8>,
}

fn main() {}
