// A reserved field is written as zeros, so its type needs a fixed size;
// only the compiler knows that `Blob` has none, so this is a const error.
use sdwire::Wire;

#[derive(Wire, Default)]
#[wire(le)]
struct Blob {
    len: u32,
    #[wire(len = len)]
    data: Vec<u8>,
}

#[derive(Wire)]
#[wire(le)]
struct Msg {
    id: u32,
    #[wire(reserved)]
    spare: Blob,
}

fn main() {}
