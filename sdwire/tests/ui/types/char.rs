// `char` has no wire encoding.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    letter: char,
}

fn main() {}
