// A magic field is never reserved, versioned or defaulted: it is the constant.
use sdwire::Wire;

#[derive(Wire)]
#[wire(be, packed, version = 2, compat = 1)]
struct Request {
    #[wire(magic = 0x25609513, reserved)]
    magic: u32,
    #[wire(magic = 7, since = 2, default)]
    marker: u8,
}

fn main() {}
