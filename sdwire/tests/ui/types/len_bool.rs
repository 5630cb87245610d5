// ...not a bool.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    len: bool,
    #[wire(len = len)]
    data: Vec<u8>,
}

fn main() {}
