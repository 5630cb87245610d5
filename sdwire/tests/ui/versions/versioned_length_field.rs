// A length field and its payload are always present together.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, version = 2, compat = 1)]
struct Msg {
    #[wire(since = 2, default)]
    len: u32,
    #[wire(len = len)]
    data: Vec<u8>,
}

fn main() {}
