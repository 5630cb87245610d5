// References cannot be on the wire.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg<'a> {
    name: &'a [u8; 4],
}

fn main() {}
