// A field added after the type's current version.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, version = 0x0b, compat = 0x0a)]
struct NodeId {
    addr: [u8; 16],
    #[wire(since = 0x0c, default)]
    io_port: u16,
}

fn main() {}
