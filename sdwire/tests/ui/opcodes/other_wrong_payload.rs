// The catch-all holds the raw tag, of the tag's type.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u32, le)]
enum SdResult {
    #[wire(opcode = 0)]
    Success,
    #[wire(other)]
    Unknown(u8),
}

fn main() {}
