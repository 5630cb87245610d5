// `default` alone needs `Default` on the field's type; rustc says so at
// the field.
use sdwire::Wire;

#[derive(Wire, PartialEq)]
#[wire(le)]
struct Addr {
    ip: [u8; 16],
    port: u32,
}

#[derive(Wire)]
#[wire(le, version = 2, compat = 1)]
struct Node {
    id: u32,
    #[wire(since = 2, default)]
    io_addr: Addr,
}

fn main() {}
