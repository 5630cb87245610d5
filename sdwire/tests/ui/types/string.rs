// `String` has no fixed wire encoding.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    name: String,
}

fn main() {}
