// Variable-size payloads: a byte payload bound to a length field with a
// maximum, a `Vec` of nested values bound to a count, and a `rest` tail.
use bytes::Bytes;
use sdwire::Wire;

#[derive(Wire, Debug, Clone, PartialEq, Default)]
#[wire(be, packed)]
pub struct Entry {
    pub oid: u64,
    pub copies: u8,
}

#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(le)]
pub struct Batch {
    pub len: u32,
    #[wire(len = len, max = 4096)]
    pub name: Bytes,
    pub n: u16,
    #[wire(count = n)]
    pub entries: Vec<Entry>,
    #[wire(rest)]
    pub tail: Vec<u8>,
}
