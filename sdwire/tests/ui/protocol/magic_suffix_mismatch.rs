// A suffixed constant must agree with the field's type.
use sdwire::Wire;

#[derive(Wire)]
#[wire(be)]
struct Request {
    #[wire(magic = 0x25609513u64)]
    magic: u32,
}

fn main() {}
