// Three unrelated mistakes in one struct are reported together, and the
// struct is still a `Wire` type for the rest of the crate: using it below
// adds no "trait not implemented" errors.
use sdwire::Wire;

#[derive(Wire)]
#[wire(size = 12)]
struct Header {
    opcode: u8,
    #[wire(sinse = 2)]
    flags: u8,
    epoch: u32,
    #[wire(le)]
    id: u32,
}

fn main() {
    let h = Header {
        opcode: 0,
        flags: 0,
        epoch: 0,
        id: 0,
    };
    let bytes = sdwire::to_vec(&h, 0).unwrap();
    let _back: Header = sdwire::from_slice(&bytes, 0).unwrap();
    let _ = Header::FIXED_SIZE;
}
