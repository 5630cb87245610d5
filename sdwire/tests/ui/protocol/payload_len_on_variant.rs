// Only a header struct can have a `payload_len` field.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8, be, no_handler)]
enum Op {
    #[wire(opcode = 1)]
    Write {
        #[wire(payload_len)]
        length: u32,
    },
}

fn main() {}
