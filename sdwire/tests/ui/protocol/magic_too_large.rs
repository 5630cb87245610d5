// The constant must fit the field.
use sdwire::Wire;

#[derive(Wire)]
#[wire(be)]
struct Reply {
    #[wire(magic = 0x1_6744_6698)]
    magic: u32,
}

fn main() {}
