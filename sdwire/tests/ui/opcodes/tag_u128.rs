// ...not u128.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u128, le)]
enum Op {
    #[wire(opcode = 1)]
    Read,
}

fn main() {}
