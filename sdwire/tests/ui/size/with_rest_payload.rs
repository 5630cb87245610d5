// Same for a `rest` payload.
use sdwire::Wire;

#[derive(Wire)]
#[wire(size = 4)]
struct Tail {
    kind: [u8; 4],
    #[wire(rest)]
    data: Vec<u8>,
}

fn main() {}
