//! The NBD transmission phase: requests, commands and replies.

use bytes::Bytes;
use sdwire::codec::FrameHeader;
use sdwire::Wire;

/// Magic of a simple reply.
pub const SIMPLE_REPLY_MAGIC: u32 = 0x6744_6698;
/// Magic of a structured reply chunk.
pub const STRUCTURED_REPLY_MAGIC: u32 = 0x668e_33ef;
/// Bytes of a [`Request`].
pub const REQUEST_SIZE: usize = 28;
/// Largest READ or WRITE served (advertised as the maximum block size).
pub const MAX_IO: u32 = 32 << 20;

sdwire::bitflags::bitflags! {
    /// Flags of one request. Unknown bits are kept, so the server can
    /// answer the request with `EINVAL` instead of losing the connection.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
    pub struct CommandFlags: u16 {
        /// Force unit access: durable before the reply.
        const FUA = 1 << 0;
        /// WRITE_ZEROES must not leave a hole.
        const NO_HOLE = 1 << 1;
        /// Do not fragment a structured READ reply.
        const DF = 1 << 2;
        /// BLOCK_STATUS: one extent only.
        const REQ_ONE = 1 << 3;
        /// WRITE_ZEROES: fail rather than be slow.
        const FAST_ZERO = 1 << 4;
    }

    /// Flags of a structured reply chunk.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct ReplyFlags: u16 {
        /// The last chunk of the reply.
        const DONE = 1 << 0;
    }
}
sdwire::wire_flags!(CommandFlags, be, unknown = retain);
sdwire::wire_flags!(ReplyFlags, be, unknown = retain);

/// C: one transmission request; a WRITE's data follows it.
#[derive(Wire, Debug, Clone, PartialEq, Default)]
#[wire(be, packed, size = 28)]
pub struct Request {
    /// The request magic.
    #[wire(magic = 0x2560_9513)]
    pub magic: u32,
    /// Command flags.
    pub flags: CommandFlags,
    /// The command ([`Command`]).
    pub kind: u16,
    /// Echoed in the reply.
    pub cookie: u64,
    /// Byte offset in the export.
    pub offset: u64,
    /// Bytes the command acts on.
    pub length: u32,
}

/// Only a WRITE carries data: for every other command `length` is the size
/// of the range it acts on, so this header's payload length depends on two
/// fields and is written by hand.
impl FrameHeader for Request {
    fn payload_len(&self) -> u64 {
        if self.kind == Command::WRITE {
            u64::from(self.length)
        } else {
            0
        }
    }
}

/// The commands, by the request's `kind`; a WRITE's data is its body.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(tag = u16, be, handler = CommandHandler, handler_ctx)]
pub enum Command {
    /// NBD_CMD_READ.
    #[wire(opcode = 0)]
    Read,
    /// NBD_CMD_WRITE.
    #[wire(opcode = 1)]
    Write {
        /// The data to write.
        #[wire(rest)]
        data: Bytes,
    },
    /// NBD_CMD_DISC: disconnect, no reply.
    #[wire(opcode = 2)]
    Disc,
    /// NBD_CMD_FLUSH.
    #[wire(opcode = 3)]
    Flush,
    /// NBD_CMD_TRIM.
    #[wire(opcode = 4)]
    Trim,
    /// NBD_CMD_WRITE_ZEROES.
    #[wire(opcode = 6)]
    WriteZeroes,
    /// Any other command: answered `EINVAL`.
    #[wire(other)]
    Unknown(u16),
}

impl Command {
    /// The `kind` of a WRITE request.
    pub const WRITE: u16 = 1;
    /// The `kind` of a READ request.
    pub const READ: u16 = 0;
}

/// S: the reply to a request; a successful READ's data follows.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be, packed, size = 16)]
pub struct SimpleReply {
    /// [`SIMPLE_REPLY_MAGIC`].
    #[wire(magic = 0x6744_6698)]
    pub magic: u32,
    /// 0 or an [`errno`] value.
    pub error: u32,
    /// The request's cookie.
    pub cookie: u64,
}

/// The chunk types of structured replies.
pub mod reply_type {
    /// No data: the reply is complete.
    pub const NONE: u16 = 0;
    /// Data at an offset.
    pub const OFFSET_DATA: u16 = 1;
    /// An error with a message.
    pub const ERROR: u16 = (1 << 15) + 1;
}

/// S: the header of a structured reply chunk; its data follows.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be, packed, size = 20)]
pub struct StructuredReplyHeader {
    /// [`STRUCTURED_REPLY_MAGIC`].
    #[wire(magic = 0x668e_33ef)]
    pub magic: u32,
    /// Chunk flags.
    pub flags: ReplyFlags,
    /// The chunk type ([`reply_type`]).
    pub kind: u16,
    /// The request's cookie.
    pub cookie: u64,
    /// Bytes of chunk data after the header.
    #[wire(payload_len)]
    pub length: u32,
}

/// S: an `NBD_REPLY_TYPE_OFFSET_DATA` chunk's header with its offset
/// field; `length` counts the offset's 8 bytes plus the data after it, so
/// the data is sent without being copied into the chunk.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be, packed, size = 28)]
pub struct ReadChunkHeader {
    /// [`STRUCTURED_REPLY_MAGIC`].
    #[wire(magic = 0x668e_33ef)]
    pub magic: u32,
    /// Chunk flags.
    pub flags: ReplyFlags,
    /// Chunk type [`reply_type::OFFSET_DATA`].
    #[wire(magic = 1)]
    pub kind: u16,
    /// The request's cookie.
    pub cookie: u64,
    /// 8 + bytes of data.
    pub length: u32,
    /// Export offset of the data.
    pub offset: u64,
}

/// The data of an `NBD_REPLY_TYPE_ERROR` chunk.
#[derive(Wire, Debug, Clone, PartialEq)]
#[wire(be)]
pub struct ErrorChunk {
    /// An [`errno`] value.
    pub error: u32,
    /// Bytes of the message.
    pub message_len: u16,
    /// A human-readable message.
    #[wire(len = message_len, max = 4096)]
    pub message: Bytes,
}

/// Error numbers of replies (the NBD spec's values, not the host's).
pub mod errno {
    /// Operation not permitted (a write to a read-only export).
    pub const EPERM: u32 = 1;
    /// I/O error.
    pub const EIO: u32 = 5;
    /// Out of memory.
    pub const ENOMEM: u32 = 12;
    /// Invalid argument (out-of-range READ, unknown command or flag).
    pub const EINVAL: u32 = 22;
    /// No space left (a write past the end).
    pub const ENOSPC: u32 = 28;
    /// Not supported.
    pub const ENOTSUP: u32 = 95;
}
