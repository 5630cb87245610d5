//! The NBD protocol (fixed newstyle handshake, simple replies) as sdwire
//! types. Facts from the NBD protocol document (NetworkBlockDevice/nbd,
//! `doc/proto.md`): every number is big-endian; the handshake is a greeting,
//! the client's flags, then option frames (`IHAVEOPT`, option, length,
//! data) answered by option replies; transmission is 28-byte requests (a
//! WRITE carries `length` bytes after it) answered by 16-byte simple
//! replies (a READ's data follows, as long as the request asked).

use bytes::Bytes;
use sdwire::codec::FrameHeader;
use sdwire::{Be, Wire, Zeros};

// The magic numbers sit in `#[wire(magic = ..)]` on the fields below:
// `NBDMAGIC` and `IHAVEOPT` in the greeting, `IHAVEOPT` before every option,
// the request magic before every request.

/// Magic of an option reply.
pub const REPLY_MAGIC: u64 = 0x0003_e889_0455_65a9;
/// Magic of a simple reply.
pub const SIMPLE_REPLY_MAGIC: u32 = 0x6744_6698;

/// Largest option payload the server accepts (the spec bounds strings at 4 KiB).
pub const MAX_OPTION: usize = 64 << 10;
/// Largest READ or WRITE the server serves (advertised as the maximum block size).
pub const MAX_IO: u32 = 32 << 20;

sdwire::bitflags::bitflags! {
    /// Flags of the server's greeting.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct HandshakeFlags: u16 {
        const FIXED_NEWSTYLE = 1 << 0;
        const NO_ZEROES = 1 << 1;
    }

    /// Flags the client answers the greeting with; a bit the server does not
    /// know must end the connection, so unknown bits are refused.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ClientFlags: u32 {
        const FIXED_NEWSTYLE = 1 << 0;
        const NO_ZEROES = 1 << 1;
    }

    /// What an export supports, sent with its size.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct TransmissionFlags: u16 {
        const HAS_FLAGS = 1 << 0;
        const READ_ONLY = 1 << 1;
        const SEND_FLUSH = 1 << 2;
        const SEND_FUA = 1 << 3;
        const ROTATIONAL = 1 << 4;
        const SEND_TRIM = 1 << 5;
        const SEND_WRITE_ZEROES = 1 << 6;
        const SEND_DF = 1 << 7;
        const CAN_MULTI_CONN = 1 << 8;
    }

    /// Flags of one request. Unknown bits are kept, so the server can answer
    /// the request with `EINVAL` instead of losing the connection.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct CommandFlags: u16 {
        const FUA = 1 << 0;
        const NO_HOLE = 1 << 1;
        const DF = 1 << 2;
        const REQ_ONE = 1 << 3;
        const FAST_ZERO = 1 << 4;
    }
}
sdwire::wire_flags!(HandshakeFlags, be, unknown = retain);
sdwire::wire_flags!(ClientFlags, be, unknown = reject);
sdwire::wire_flags!(TransmissionFlags, be, unknown = retain);
sdwire::wire_flags!(CommandFlags, be, unknown = retain);

/// S: the first message of the handshake.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be, packed, size = 18)]
pub struct Greeting {
    #[wire(magic = 0x4e42_444d_4147_4943)]
    pub nbdmagic: u64,
    #[wire(magic = 0x4948_4156_454f_5054)]
    pub ihaveopt: u64,
    pub flags: HandshakeFlags,
}

/// C: the client's answer to the greeting.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be, size = 4)]
pub struct ClientHello {
    pub flags: ClientFlags,
}

/// C: the header of an option; its data follows.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be, size = 16)]
pub struct OptionHeader {
    #[wire(magic = 0x4948_4156_454f_5054)]
    pub magic: u64,
    pub option: u32,
    #[wire(payload_len)]
    pub length: u32,
}

/// The data of `NBD_OPT_INFO` / `NBD_OPT_GO`: an export name and the
/// information items the client asks for.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be)]
pub struct InfoRequest {
    pub name_len: u32,
    #[wire(len = name_len, max = 4096)]
    pub name: Bytes,
    pub n_requests: u16,
    #[wire(count = n_requests)]
    pub requests: Vec<Be<u16>>,
}

/// The options, by their code: the option header's `option` selects the
/// variant, its data is the body (`OpTable::decode_body`). The generated
/// `OptionHandler<Ctx>` trait gets the connection as its context.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(tag = u32, be, handler = OptionHandler, handler_ctx)]
pub enum NbdOption {
    /// Old way to pick an export: no reply on error, the server just closes.
    #[wire(opcode = 1)]
    ExportName {
        #[wire(rest)]
        name: Bytes,
    },
    /// The client gives up.
    #[wire(opcode = 2)]
    Abort,
    /// List the exports.
    #[wire(opcode = 3)]
    List,
    /// Describe an export.
    #[wire(opcode = 6)]
    Info(InfoRequest),
    /// Describe an export and start transmission on it.
    #[wire(opcode = 7)]
    Go(InfoRequest),
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
    #[wire(magic = 0x0003_e889_0455_65a9)]
    pub magic: u64,
    pub option: u32,
    pub reply: u32,
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

/// The data of an `NBD_REP_SERVER` reply.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be)]
pub struct ServerEntry {
    pub name_len: u32,
    #[wire(len = name_len)]
    pub name: Bytes,
}

/// `NBD_INFO_EXPORT`: the export's size and flags.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be, packed, size = 12)]
pub struct InfoExport {
    #[wire(magic = 0)]
    pub info: u16,
    pub size: u64,
    pub flags: TransmissionFlags,
}

/// The information item code of [`InfoBlockSize`].
pub const INFO_BLOCK_SIZE: u16 = 3;

/// `NBD_INFO_BLOCK_SIZE`: the sizes the server prefers.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be, packed, size = 14)]
pub struct InfoBlockSize {
    #[wire(magic = 3)]
    pub info: u16,
    pub minimum: u32,
    pub preferred: u32,
    pub maximum: u32,
}

/// S: the answer to `NBD_OPT_EXPORT_NAME`. The 124 zero bytes are left out
/// when the client set `NO_ZEROES`.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be)]
pub struct ExportNameReply {
    pub size: u64,
    pub flags: TransmissionFlags,
    #[wire(optional)]
    pub zeroes: Option<Zeros<124>>,
}

/// C: one transmission request; a WRITE's data follows it.
#[derive(Wire, Debug, Clone, PartialEq, Default)]
#[wire(be, packed, size = 28)]
pub struct Request {
    #[wire(magic = 0x2560_9513)]
    pub magic: u32,
    pub flags: CommandFlags,
    pub kind: u16,
    pub cookie: u64,
    pub offset: u64,
    pub length: u32,
}

impl Default for CommandFlags {
    fn default() -> Self {
        CommandFlags::empty()
    }
}

/// Only a WRITE carries data: for every other command `length` is the
/// size of the range it acts on. So this header's payload length depends
/// on two fields, and `FrameHeader` is written by hand.
impl FrameHeader for Request {
    fn payload_len(&self) -> u64 {
        if self.kind == Command::WRITE {
            u64::from(self.length)
        } else {
            0
        }
    }
}

/// The commands, by the request's `kind`. The request header is the
/// handler's context; a WRITE's data is its body.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(tag = u16, be, handler = CommandHandler, handler_ctx)]
pub enum Command {
    #[wire(opcode = 0)]
    Read,
    #[wire(opcode = 1)]
    Write {
        #[wire(rest)]
        data: Bytes,
    },
    /// Disconnect: no reply.
    #[wire(opcode = 2)]
    Disc,
    #[wire(opcode = 3)]
    Flush,
    #[wire(opcode = 4)]
    Trim,
    #[wire(opcode = 6)]
    WriteZeroes,
    #[wire(other)]
    Unknown(u16),
}

impl Command {
    /// The `kind` of a WRITE request.
    pub const WRITE: u16 = 1;
}

/// S: the reply to a request; a successful READ's data follows.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be, packed, size = 16)]
pub struct SimpleReply {
    #[wire(magic = 0x6744_6698)]
    pub magic: u32,
    pub error: u32,
    pub cookie: u64,
}

/// A simple reply with its data, as a client decodes it: the data's length
/// is the READ request's, given to `sdwire::decode_with_len`.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be)]
pub struct ReadReply {
    #[wire(magic = 0x6744_6698)]
    pub magic: u32,
    pub error: u32,
    pub cookie: u64,
    #[wire(rest)]
    pub data: Bytes,
}

/// Error numbers of replies (the NBD spec's values, not the host's).
pub mod errno {
    pub const EPERM: u32 = 1;
    pub const EINVAL: u32 = 22;
    pub const ENOSPC: u32 = 28;
}
