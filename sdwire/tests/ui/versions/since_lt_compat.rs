// A field added before the oldest version read: `since` is meaningless
// (every version in the window has it).
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, version = 0x0b, compat = 0x0a)]
struct NodeId {
    addr: [u8; 16],
    #[wire(since = 0x07, default)]
    io_port: u16,
}

fn main() {}
