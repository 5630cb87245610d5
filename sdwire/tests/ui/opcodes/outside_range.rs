// An internal opcode in the client protocol's range.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8, range = 0x00..=0x7f)]
enum ClientOp {
    #[wire(opcode = 0x02)]
    ReadObj,
    #[wire(opcode = 0x81)]
    GetNodeList,
}

fn main() {}
