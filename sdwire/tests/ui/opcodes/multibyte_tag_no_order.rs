// A multi-byte tag needs a byte order.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u32)]
enum SdResult {
    #[wire(opcode = 0)]
    Success,
}

fn main() {}
