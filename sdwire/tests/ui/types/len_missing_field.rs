// `len` names a field that does not exist.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    len: u32,
    #[wire(len = length)]
    data: Vec<u8>,
}

fn main() {}
