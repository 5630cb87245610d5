// A reserved field has a fixed size.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    n: u32,
    #[wire(len = n, reserved)]
    data: Vec<u8>,
}

fn main() {}
