// Function pointers cannot be on the wire.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    callback: fn(u32) -> u32,
}

fn main() {}
