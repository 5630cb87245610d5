// Versions go on the variant, not on its fields.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8, le, version = 2, compat = 1)]
enum Op {
    #[wire(opcode = 1)]
    Read {
        offset: u64,
        #[wire(since = 2, default)]
        flags: u32,
    },
}

fn main() {}
