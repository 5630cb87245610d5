// Pointers cannot be on the wire.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    data: *const u8,
}

fn main() {}
