/// A request header with a magic number (NBD's transmission request).
#[derive(Wire, Debug, Clone, PartialEq, Default)]
#[wire(be, packed, size = 28)]
pub struct Request {
    #[wire(magic = 0x25609513)]
    pub magic: u32,
    pub flags: u16,
    pub kind: u16,
    pub cookie: u64,
    pub offset: u64,
    pub length: u32,
}

/// An option header whose length field the frame writer fills.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be)]
pub struct OptHeader {
    #[wire(magic = 0x49484156454F5054)]
    pub magic: u64,
    pub option: u32,
    #[wire(payload_len)]
    pub length: u32,
}

/// Padding that is absent once negotiated away.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be)]
pub struct ExportInfo {
    pub size: u64,
    pub flags: u16,
    #[wire(optional)]
    pub zeroes: Option<::sdwire::Zeros<124>>,
}

/// Commands whose handler gets the connection.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(tag = u16, be, handler_ctx)]
pub enum Cmd {
    #[wire(opcode = 0)]
    Read(#[wire(name = "range")] Request),
    #[wire(opcode = 2)]
    Disc,
}
