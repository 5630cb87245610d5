// Unions have no wire layout; an enum or a byte array does.
use sdwire::Wire;

#[derive(Wire)]
union Body {
    obj: u64,
    vdi: [u8; 8],
}

fn main() {}
