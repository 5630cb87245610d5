// The message gives the field's byte offset.
use sdwire::Wire;

#[derive(Wire)]
struct Stamp {
    kind: [u8; 8],
    nanos: i64,
}

fn main() {}
