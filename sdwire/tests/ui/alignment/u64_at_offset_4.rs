// A u64 after a u32.
use sdwire::Wire;

#[derive(Wire)]
#[wire(be)]
struct Obj {
    copies: u32,
    oid: u64,
}

fn main() {}
