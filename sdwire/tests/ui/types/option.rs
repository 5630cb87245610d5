// Presence is expressed with `since`/`until`, not `Option`.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    flags: Option<u32>,
}

fn main() {}
