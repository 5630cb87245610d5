// An unsized slice cannot be a field.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    len: u32,
    data: [u8],
}

fn main() {}
