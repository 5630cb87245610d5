// A length field cannot be reserved.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    #[wire(reserved)]
    n: u32,
    #[wire(len = n)]
    data: Vec<u8>,
}

fn main() {}
