// `Le<u32>` fixes its byte order in its type; `be` on it would be ignored.
use sdwire::{Le, Wire};

#[derive(Wire)]
struct View {
    #[wire(be)]
    id: Le<u32>,
}

fn main() {}
