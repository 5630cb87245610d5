// `le` and `be` on the same field.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct NodeId {
    addr: [u8; 16],
    #[wire(le, be)]
    port: u16,
}

fn main() {}
