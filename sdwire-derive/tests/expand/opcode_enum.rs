// An opcode table: data, named and unit variants, a versioned opcode, a
// catch-all, and the handler trait.
use sdwire::Wire;

#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(le)]
pub struct ObjReq {
    pub oid: u64,
    pub offset: u32,
    pub len: u32,
}

#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(tag = u16, le, range = 0x00..=0x7f, handler = ClientOps)]
pub enum ClientOp {
    /// Create an object and write it.
    #[wire(opcode = 0x01)]
    CreateAndWriteObj(ObjReq),
    #[wire(opcode = 0x02)]
    ReadObj { req: ObjReq, direct: bool },
    #[wire(opcode = 0x18, since = 2)]
    GetClusterDefault,
    #[wire(other)]
    Unknown(u16),
}
