// Version and type errors together, across fields.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, version = 0x0b, compat = 0x0a)]
struct NodeId {
    addr: [u8; 16],
    #[wire(since = 0x0c)]
    io_port: u16,
    #[wire(until = 0x0a, default)]
    legacy: u32,
    nr_vnodes: usize,
    name: String,
}

fn main() {
    let _ = NodeId::LAYOUT;
}
