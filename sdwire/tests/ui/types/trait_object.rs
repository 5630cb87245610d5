// `Box<dyn ...>` cannot be on the wire.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    body: Box<dyn std::any::Any>,
}

fn main() {}
