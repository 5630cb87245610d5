// `until` on a variant's field: versions go on the variant.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8, le, version = 2, compat = 1)]
enum Op {
    #[wire(opcode = 1)]
    Read {
        offset: u64,
        #[wire(until = 2, default)]
        legacy: u32,
    },
}

fn main() {}
