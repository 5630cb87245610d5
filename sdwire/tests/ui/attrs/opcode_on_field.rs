// A key valid elsewhere says where it belongs.
use sdwire::Wire;

#[derive(Wire)]
#[wire(le)]
struct Info {
    #[wire(opcode = 1)]
    flags: u32,
}

fn main() {}
