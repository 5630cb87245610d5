// `isize` has a platform-dependent width.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    delta: isize,
}

fn main() {}
