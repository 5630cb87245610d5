//! The NBD protocol (fixed newstyle) that sheep serves with `--nbd`: every
//! message a `#[derive(Wire)]` type, big-endian like the protocol.
//!
//! Facts from the NBD protocol document (NetworkBlockDevice/nbd,
//! `doc/proto.md`): the handshake is a greeting ([`Greeting`]), the
//! client's flags ([`ClientHello`]), then option frames ([`OptionHeader`] +
//! data, decoded by [`NbdOption`]) each answered by option replies
//! ([`OptionReply`] + data). Transmission is 28-byte requests ([`Request`],
//! a WRITE's data follows, decoded by [`Command`]) answered by 16-byte
//! simple replies ([`SimpleReply`], a READ's data follows) or, once the
//! client negotiated structured replies, by chunks
//! ([`StructuredReplyHeader`], [`ReadChunkHeader`]).
//!
//! * [`handshake`]: greeting, options, option replies, information items;
//! * [`transmission`]: requests, commands, replies, error numbers.

pub mod handshake;
pub mod transmission;

pub use handshake::{
    rep, ClientFlags, ClientHello, ExportNameReply, Greeting, HandshakeFlags, InfoBlockSize,
    InfoExport, InfoRequest, NbdOption, OptionHandler, OptionHeader, OptionReply, ServerEntry,
    TransmissionFlags, INFO_BLOCK_SIZE, MAX_OPTION, REPLY_MAGIC,
};
pub use transmission::{
    errno, reply_type, Command, CommandFlags, CommandHandler, ErrorChunk, ReadChunkHeader,
    ReplyFlags, Request, SimpleReply, StructuredReplyHeader, MAX_IO, REQUEST_SIZE,
    SIMPLE_REPLY_MAGIC, STRUCTURED_REPLY_MAGIC,
};

/// Every NBD wire type, in documentation order (for the generated spec and
/// the layout snapshot).
pub fn layouts() -> Vec<&'static sdwire::Layout> {
    use sdwire::Wire;
    vec![
        Greeting::LAYOUT,
        HandshakeFlags::LAYOUT,
        ClientHello::LAYOUT,
        ClientFlags::LAYOUT,
        OptionHeader::LAYOUT,
        NbdOption::LAYOUT,
        InfoRequest::LAYOUT,
        OptionReply::LAYOUT,
        ServerEntry::LAYOUT,
        InfoExport::LAYOUT,
        TransmissionFlags::LAYOUT,
        InfoBlockSize::LAYOUT,
        ExportNameReply::LAYOUT,
        Request::LAYOUT,
        CommandFlags::LAYOUT,
        Command::LAYOUT,
        SimpleReply::LAYOUT,
        StructuredReplyHeader::LAYOUT,
        ReplyFlags::LAYOUT,
        ReadChunkHeader::LAYOUT,
        ErrorChunk::LAYOUT,
    ]
}
