//! The NBD handshake: greeting, client flags, options and their replies.

use bytes::Bytes;
use sdwire::{Be, Wire, Zeros};

/// Magic of an option reply.
pub const REPLY_MAGIC: u64 = 0x0003_e889_0455_65a9;

/// Largest option payload accepted (the spec bounds strings at 4 KiB).
pub const MAX_OPTION: usize = 64 << 10;

sdwire::bitflags::bitflags! {
    /// Flags of the server's greeting.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct HandshakeFlags: u16 {
        /// The server speaks fixed newstyle.
        const FIXED_NEWSTYLE = 1 << 0;
        /// The server can leave out the 124 zero bytes after EXPORT_NAME.
        const NO_ZEROES = 1 << 1;
    }

    /// Flags the client answers the greeting with; a bit the server does
    /// not know must end the connection, so unknown bits are refused.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ClientFlags: u32 {
        /// The client speaks fixed newstyle.
        const FIXED_NEWSTYLE = 1 << 0;
        /// Leave out the 124 zero bytes after EXPORT_NAME.
        const NO_ZEROES = 1 << 1;
    }

    /// What an export supports, sent with its size.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct TransmissionFlags: u16 {
        /// Always set.
        const HAS_FLAGS = 1 << 0;
        /// Writes are refused.
        const READ_ONLY = 1 << 1;
        /// FLUSH is understood.
        const SEND_FLUSH = 1 << 2;
        /// The FUA command flag is understood.
        const SEND_FUA = 1 << 3;
        /// Seeks are expensive.
        const ROTATIONAL = 1 << 4;
        /// TRIM is understood.
        const SEND_TRIM = 1 << 5;
        /// WRITE_ZEROES is understood.
        const SEND_WRITE_ZEROES = 1 << 6;
        /// The DF command flag is understood.
        const SEND_DF = 1 << 7;
        /// Several connections to one export see each other's writes.
        const CAN_MULTI_CONN = 1 << 8;
    }
}
sdwire::wire_flags!(HandshakeFlags, be, unknown = retain);
sdwire::wire_flags!(ClientFlags, be, unknown = reject);
sdwire::wire_flags!(TransmissionFlags, be, unknown = retain);

/// S: the first message of the handshake (`NBDMAGIC`, `IHAVEOPT`, flags).
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be, packed, size = 18)]
pub struct Greeting {
    /// `NBDMAGIC`.
    #[wire(magic = 0x4e42_444d_4147_4943)]
    pub nbdmagic: u64,
    /// `IHAVEOPT`.
    #[wire(magic = 0x4948_4156_454f_5054)]
    pub ihaveopt: u64,
    /// What the server supports.
    pub flags: HandshakeFlags,
}

/// C: the client's answer to the greeting.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be, size = 4)]
pub struct ClientHello {
    /// What the client asks for.
    pub flags: ClientFlags,
}

/// C: the header of an option; its data follows.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be, size = 16)]
pub struct OptionHeader {
    /// `IHAVEOPT`.
    #[wire(magic = 0x4948_4156_454f_5054)]
    pub magic: u64,
    /// The option code ([`NbdOption`]).
    pub option: u32,
    /// Bytes of option data after the header.
    #[wire(payload_len)]
    pub length: u32,
}

/// The data of `NBD_OPT_INFO` / `NBD_OPT_GO`: an export name and the
/// information items the client asks for.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be)]
pub struct InfoRequest {
    /// Bytes of the name.
    pub name_len: u32,
    /// The export name (empty: the default export).
    #[wire(len = name_len, max = 4096)]
    pub name: Bytes,
    /// Number of information items asked for.
    pub n_requests: u16,
    /// The information item codes.
    #[wire(count = n_requests)]
    pub requests: Vec<Be<u16>>,
}

/// The options, by their code: the option header's `option` selects the
/// variant, its data is the body.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(tag = u32, be, handler = OptionHandler, handler_ctx)]
pub enum NbdOption {
    /// NBD_OPT_EXPORT_NAME: the old way to pick an export; there is no
    /// error reply, an unknown name closes the connection.
    #[wire(opcode = 1)]
    ExportName {
        /// The export name.
        #[wire(rest)]
        name: Bytes,
    },
    /// NBD_OPT_ABORT: the client gives up.
    #[wire(opcode = 2)]
    Abort,
    /// NBD_OPT_LIST: list the exports.
    #[wire(opcode = 3)]
    List,
    /// NBD_OPT_INFO: describe an export.
    #[wire(opcode = 6)]
    Info(InfoRequest),
    /// NBD_OPT_GO: describe an export and start transmission on it.
    #[wire(opcode = 7)]
    Go(InfoRequest),
    /// NBD_OPT_STRUCTURED_REPLY: answer READs with structured replies.
    #[wire(opcode = 8)]
    StructuredReply,
    /// Any other option: refused with `NBD_REP_ERR_UNSUP`.
    #[wire(other)]
    Unsupported(u32),
}

/// The kinds of option reply.
pub mod rep {
    /// The option is done.
    pub const ACK: u32 = 1;
    /// One export, for `NBD_OPT_LIST`.
    pub const SERVER: u32 = 2;
    /// One information item, for `NBD_OPT_INFO`/`GO`.
    pub const INFO: u32 = 3;
    /// Unknown option.
    pub const ERR_UNSUP: u32 = (1 << 31) + 1;
    /// Malformed option.
    pub const ERR_INVALID: u32 = (1 << 31) + 3;
    /// No such export.
    pub const ERR_UNKNOWN: u32 = (1 << 31) + 6;
}

/// S: the header of an option reply; its data follows.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be, packed, size = 20)]
pub struct OptionReply {
    /// [`REPLY_MAGIC`].
    #[wire(magic = 0x0003_e889_0455_65a9)]
    pub magic: u64,
    /// The option answered.
    pub option: u32,
    /// The kind of reply ([`rep`]).
    pub reply: u32,
    /// Bytes of reply data after the header.
    #[wire(payload_len)]
    pub length: u32,
}

impl OptionReply {
    /// A reply of kind `reply` to `option`; the frame writer fills the length.
    pub fn new(option: u32, reply: u32) -> Self {
        OptionReply {
            magic: REPLY_MAGIC,
            option,
            reply,
            length: 0,
        }
    }
}

/// The data of an `NBD_REP_SERVER` reply: one export name.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be)]
pub struct ServerEntry {
    /// Bytes of the name.
    pub name_len: u32,
    /// The export name.
    #[wire(len = name_len)]
    pub name: Bytes,
}

/// `NBD_INFO_EXPORT`: the export's size and flags.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be, packed, size = 12)]
pub struct InfoExport {
    /// Information item code 0.
    #[wire(magic = 0)]
    pub info: u16,
    /// Export size in bytes.
    pub size: u64,
    /// What the export supports.
    pub flags: TransmissionFlags,
}

/// The information item code of [`InfoBlockSize`].
pub const INFO_BLOCK_SIZE: u16 = 3;

/// `NBD_INFO_BLOCK_SIZE`: the I/O sizes the server prefers.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be, packed, size = 14)]
pub struct InfoBlockSize {
    /// Information item code 3.
    #[wire(magic = 3)]
    pub info: u16,
    /// Smallest alignment the server accepts.
    pub minimum: u32,
    /// Alignment that avoids read-modify-write.
    pub preferred: u32,
    /// Largest READ or WRITE.
    pub maximum: u32,
}

/// S: the answer to `NBD_OPT_EXPORT_NAME`. The 124 zero bytes are left out
/// when the client set `NO_ZEROES`.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be)]
pub struct ExportNameReply {
    /// Export size in bytes.
    pub size: u64,
    /// What the export supports.
    pub flags: TransmissionFlags,
    /// The legacy padding.
    #[wire(optional)]
    pub zeroes: Option<Zeros<124>>,
}
