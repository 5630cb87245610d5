// The same opcode spelled two ways is still a duplicate.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8)]
enum ClientOp {
    #[wire(opcode = 16)]
    NewVdi,
    #[wire(opcode = 0x10)]
    LockVdi,
}

fn main() {}
