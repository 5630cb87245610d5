// A fixed-size header: the fixed-offset fast path, a declared size, a
// per-field byte order, an explicit pad and a reserved field.
use sdwire::Wire;

/// The 48-byte request header.
#[derive(Wire, Debug, Clone, PartialEq, Default)]
#[wire(le, size = 48)]
pub struct ReqHeader {
    pub proto_ver: u8,
    pub opcode: u8,
    pub flags: u16,
    pub epoch: u32,
    pub id: u32,
    #[wire(be)]
    pub data_length: u32,
    pub body: [u8; 28],
    #[wire(reserved)]
    pub _reserved: u32,
}
