// Tuples have no defined layout.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    pair: (u32, u32),
}

fn main() {}
