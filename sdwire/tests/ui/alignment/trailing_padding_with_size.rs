// Trailing padding, with the declared size that hides it.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le, size = 12)]
struct Entry {
    oid: u64,
    copies: u8,
    #[wire(pad = 1)]
    flags: u16,
}

fn main() {}
