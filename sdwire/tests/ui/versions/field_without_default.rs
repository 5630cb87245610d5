// A versioned field needs a default for the versions that lack it.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, version = 0x0b, compat = 0x0a)]
struct NodeId {
    addr: [u8; 16],
    #[wire(since = 0x0b)]
    io_port: u16,
}

fn main() {}
