// Every opcode mistake of an enum in one compile; the enum still
// implements `Wire`.
use sdwire::Wire;

#[derive(Wire)]
#[wire(tag = u8, range = 0x00..=0x7f)]
enum ClientOp {
    #[wire(opcode = 0x01)]
    CreateAndWriteObj,
    #[wire(opcode = 0x01)]
    ReadObj,
    #[wire(opcode = 0x81)]
    GetNodeList,
    WriteObj,
    #[wire(other)]
    Unknown(u16),
}

fn main() {
    let _ = sdwire::to_vec(&ClientOp::ReadObj, 0);
    let _ = sdwire::from_slice::<ClientOp>(&[1], 0);
}
