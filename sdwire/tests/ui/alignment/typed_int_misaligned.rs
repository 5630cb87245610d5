// `Le<u32>` is aligned like `u32` in a C layout.
use sdwire::{Le, Wire};

#[derive(Wire)]
struct View {
    kind: [u8; 3],
    id: Le<u32>,
}

fn main() {}
