// `Vec<u32>` would need a byte order for its elements.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Msg {
    n: u32,
    #[wire(count = n)]
    ids: Vec<u32>,
}

fn main() {}
