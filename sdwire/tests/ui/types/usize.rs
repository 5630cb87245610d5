// `usize` has a platform-dependent width.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    id: u32,
    len: usize,
}

fn main() {}
