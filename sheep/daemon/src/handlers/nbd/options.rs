//! Option haggling: the generated `OptionHandler` implemented with the
//! session as each call's context.

use std::sync::Arc;

use bytes::Bytes;
use sdwire::codec::FrameWriter;
use sdwire::Zeros;
use tokio::net::tcp::OwnedWriteHalf;

use super::{Error, Export, NbdServer};
use crate::proto::nbd::{
    rep, ExportNameReply, InfoBlockSize, InfoExport, InfoRequest, OptionHandler, OptionReply,
    ServerEntry, TransmissionFlags, MAX_IO,
};

/// The state of one connection while it haggles.
pub struct Session {
    /// Every reply of the connection goes through this writer.
    pub writer: FrameWriter<OwnedWriteHalf>,
    /// The client asked to leave out EXPORT_NAME's padding.
    pub no_zeroes: bool,
    /// The client negotiated structured replies.
    pub structured: bool,
    /// The code of the option being handled, for its replies.
    pub option: u32,
}

impl Session {
    /// A session writing to `writer`.
    pub fn new(writer: FrameWriter<OwnedWriteHalf>) -> Session {
        Session {
            writer,
            no_zeroes: false,
            structured: false,
            option: 0,
        }
    }
}

/// What the connection does after an option.
pub enum Next {
    /// More options.
    Haggle,
    /// The client left.
    Close,
    /// Transmission on this export.
    Transmit(Arc<Export>),
}

/// The option handlers over the server's exports.
pub struct Options(Arc<NbdServer>);

fn flags_of(e: &Export) -> TransmissionFlags {
    let mut f = TransmissionFlags::HAS_FLAGS
        | TransmissionFlags::SEND_FLUSH
        | TransmissionFlags::SEND_FUA
        | TransmissionFlags::SEND_TRIM
        | TransmissionFlags::SEND_WRITE_ZEROES
        | TransmissionFlags::CAN_MULTI_CONN;
    if e.read_only {
        f |= TransmissionFlags::READ_ONLY;
    }
    f
}

impl Options {
    /// Handlers over `server`.
    pub fn new(server: Arc<NbdServer>) -> Options {
        Options(server)
    }

    async fn reply(&self, s: &mut Session, kind: u32, data: Bytes) -> Result<(), Error> {
        s.writer
            .send_filled(OptionReply::new(s.option, kind), data)
            .await?;
        Ok(())
    }

    /// An error reply of `kind` with a message; haggling goes on.
    ///
    /// # Errors
    ///
    /// Write errors.
    pub async fn error(&self, s: &mut Session, kind: u32, msg: &str) -> Result<Next, Error> {
        self.reply(s, kind, Bytes::copy_from_slice(msg.as_bytes()))
            .await?;
        s.writer.flush().await?;
        Ok(Next::Haggle)
    }

    /// INFO and GO: the export's size and flags, its block sizes, an ACK.
    async fn describe(
        &self,
        s: &mut Session,
        req: InfoRequest,
    ) -> Result<Option<Arc<Export>>, Error> {
        let e = match self.0.export(&req.name).await {
            Ok(e) => e,
            Err(msg) => {
                tracing::info!(export = %String::from_utf8_lossy(&req.name), %msg, "nbd: export refused");
                self.error(s, rep::ERR_UNKNOWN, &msg).await?;
                return Ok(None);
            }
        };
        let info = InfoExport {
            info: 0,
            size: e.size,
            flags: flags_of(&e),
        };
        self.reply(s, rep::INFO, sdwire::to_bytes_unversioned(&info)?)
            .await?;
        // Block sizes are sent whether asked or not: the minimum is 1, so
        // a client that did not ask is not constrained.
        let bs = InfoBlockSize {
            info: 0,
            minimum: 1,
            preferred: 4096,
            maximum: MAX_IO,
        };
        self.reply(s, rep::INFO, sdwire::to_bytes_unversioned(&bs)?)
            .await?;
        self.reply(s, rep::ACK, Bytes::new()).await?;
        s.writer.flush().await?;
        Ok(Some(e))
    }
}

impl<'s> OptionHandler<&'s mut Session> for Options {
    type Output = Result<Next, Error>;

    async fn export_name(&self, s: &'s mut Session, name: Bytes) -> Self::Output {
        // This option has no error reply: an unknown export closes.
        let e = self.0.export(&name).await?;
        let reply = ExportNameReply {
            size: e.size,
            flags: flags_of(&e),
            zeroes: (!s.no_zeroes).then_some(Zeros),
        };
        s.writer.send_message(&reply).await?;
        s.writer.flush().await?;
        Ok(Next::Transmit(e))
    }

    async fn abort(&self, s: &'s mut Session) -> Self::Output {
        self.reply(s, rep::ACK, Bytes::new()).await?;
        s.writer.flush().await?;
        Ok(Next::Close)
    }

    async fn list(&self, s: &'s mut Session) -> Self::Output {
        for name in self.0.names() {
            let entry = ServerEntry {
                name_len: name.len() as u32,
                name: name.into(),
            };
            self.reply(s, rep::SERVER, sdwire::to_bytes_unversioned(&entry)?)
                .await?;
        }
        self.reply(s, rep::ACK, Bytes::new()).await?;
        s.writer.flush().await?;
        Ok(Next::Haggle)
    }

    async fn info(&self, s: &'s mut Session, req: InfoRequest) -> Self::Output {
        self.describe(s, req).await?;
        Ok(Next::Haggle)
    }

    async fn go(&self, s: &'s mut Session, req: InfoRequest) -> Self::Output {
        Ok(match self.describe(s, req).await? {
            Some(e) => Next::Transmit(e),
            None => Next::Haggle,
        })
    }

    async fn structured_reply(&self, s: &'s mut Session) -> Self::Output {
        s.structured = true;
        self.reply(s, rep::ACK, Bytes::new()).await?;
        s.writer.flush().await?;
        Ok(Next::Haggle)
    }

    async fn unknown_op(&self, s: &'s mut Session, option: u32) -> Self::Output {
        tracing::info!(option, "nbd: option not supported");
        self.error(s, rep::ERR_UNSUP, "option not supported").await
    }
}
