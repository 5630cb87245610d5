// Two variants with one opcode.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8)]
enum ClientOp {
    #[wire(opcode = 0x01)]
    CreateAndWriteObj,
    #[wire(opcode = 0x02)]
    ReadObj,
    #[wire(opcode = 0x01)]
    WriteObj,
}

fn main() {}
