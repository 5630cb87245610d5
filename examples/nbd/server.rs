//! An NBD server over in-memory disks, built only from sdwire pieces: the
//! handshake's fixed messages through `MessageCodec`, option frames through
//! `FrameCodec<OptionHeader>`, requests through `FrameCodec<Request>` (one
//! `FramedRead` whose decoder is swapped at each phase), every reply through
//! one untyped `FrameWriter`, and the options and commands dispatched to the
//! generated handler traits with the connection as context.

use crate::proto::{
    errno, rep, ClientFlags, ClientHello, Command, CommandFlags, CommandHandler, ExportNameReply,
    Greeting, HandshakeFlags, InfoBlockSize, InfoExport, InfoRequest, NbdOption, OptionHandler,
    OptionHeader, OptionReply, Request, ServerEntry, SimpleReply, TransmissionFlags,
    INFO_BLOCK_SIZE, MAX_IO, MAX_OPTION, SIMPLE_REPLY_MAGIC,
};
use bytes::Bytes;
use futures::StreamExt;
use sdwire::codec::{FrameCodec, FrameError, FrameWriter, MessageCodec};
use sdwire::{OpTable, Zeros};
use std::collections::BTreeMap;
use std::future::Future;
use std::sync::{Arc, RwLock};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::codec::FramedRead;

/// Boxed error for the example.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// One in-memory disk.
pub struct Disk {
    pub data: RwLock<Vec<u8>>,
    pub read_only: bool,
}

/// The exports, by name. The empty name (a client's default) is the first.
pub struct Exports {
    pub disks: BTreeMap<String, Arc<Disk>>,
}

impl Exports {
    /// Disks of the given sizes, named as given.
    pub fn new(disks: &[(&str, usize, bool)]) -> Self {
        let disks = disks
            .iter()
            .map(|(name, size, read_only)| {
                let d = Disk {
                    data: RwLock::new(vec![0; *size]),
                    read_only: *read_only,
                };
                (name.to_string(), Arc::new(d))
            })
            .collect();
        Exports { disks }
    }

    fn find(&self, name: &[u8]) -> Option<(String, Arc<Disk>)> {
        if name.is_empty() {
            let (n, d) = self.disks.iter().next()?;
            return Some((n.clone(), d.clone()));
        }
        let name = std::str::from_utf8(name).ok()?;
        self.disks.get(name).map(|d| (name.to_string(), d.clone()))
    }
}

fn flags_of(disk: &Disk) -> TransmissionFlags {
    let mut f = TransmissionFlags::HAS_FLAGS
        | TransmissionFlags::SEND_FLUSH
        | TransmissionFlags::SEND_FUA
        | TransmissionFlags::SEND_TRIM
        | TransmissionFlags::SEND_WRITE_ZEROES
        | TransmissionFlags::CAN_MULTI_CONN;
    if disk.read_only {
        f |= TransmissionFlags::READ_ONLY;
    }
    f
}

/// Accepts connections until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    exports: Arc<Exports>,
    shutdown: impl Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let exports = exports.clone();
                tokio::spawn(async move {
                    if let Err(e) = connection(stream, exports).await {
                        eprintln!("nbd: connection from {peer} closed: {e}");
                    }
                });
            }
        }
    }
}

/// The state of one connection during option haggling: the context of the
/// option handlers.
pub struct Session {
    writer: FrameWriter<OwnedWriteHalf>,
    no_zeroes: bool,
    /// The code of the option being handled, for its replies.
    option: u32,
}

/// What an option handler tells the connection to do next.
pub enum Next {
    Haggle,
    Close,
    Transmit(Arc<Disk>),
}

/// The option handlers: the export table is shared, the session is the
/// per-call context.
struct Options(Arc<Exports>);

impl Options {
    async fn reply(s: &mut Session, kind: u32, data: Bytes) -> Result<(), FrameError> {
        s.writer
            .send_filled(OptionReply::new(s.option, kind), data)
            .await
    }

    async fn error(s: &mut Session, kind: u32, msg: &str) -> Result<Next, Error> {
        Self::reply(s, kind, Bytes::copy_from_slice(msg.as_bytes())).await?;
        s.writer.flush().await?;
        Ok(Next::Haggle)
    }

    /// `NBD_OPT_INFO` and `NBD_OPT_GO`: the export's size and flags, its
    /// block sizes if asked, then an ACK.
    async fn describe(
        &self,
        s: &mut Session,
        req: InfoRequest,
    ) -> Result<Option<Arc<Disk>>, Error> {
        let Some((_, disk)) = self.0.find(&req.name) else {
            let msg = format!("no export named {:?}", String::from_utf8_lossy(&req.name));
            Self::error(s, rep::ERR_UNKNOWN, &msg).await?;
            return Ok(None);
        };
        let size = disk.data.read().unwrap().len() as u64;
        let info = InfoExport {
            info: 0,
            size,
            flags: flags_of(&disk),
        };
        Self::reply(s, rep::INFO, sdwire::to_bytes_unversioned(&info)?).await?;
        if req.requests.iter().any(|r| r.get() == INFO_BLOCK_SIZE) {
            let bs = InfoBlockSize {
                info: 0,
                minimum: 1,
                preferred: 4096,
                maximum: MAX_IO,
            };
            Self::reply(s, rep::INFO, sdwire::to_bytes_unversioned(&bs)?).await?;
        }
        Self::reply(s, rep::ACK, Bytes::new()).await?;
        s.writer.flush().await?;
        Ok(Some(disk))
    }
}

impl<'s> OptionHandler<&'s mut Session> for Options {
    type Output = Result<Next, Error>;

    async fn export_name(&self, s: &'s mut Session, name: Bytes) -> Self::Output {
        // No error reply exists for this option: an unknown export closes.
        let Some((_, disk)) = self.0.find(&name) else {
            return Err(format!("no export named {:?}", String::from_utf8_lossy(&name)).into());
        };
        let size = disk.data.read().unwrap().len() as u64;
        let zeroes = (!s.no_zeroes).then_some(Zeros);
        let reply = ExportNameReply {
            size,
            flags: flags_of(&disk),
            zeroes,
        };
        s.writer.send_message(&reply).await?;
        s.writer.flush().await?;
        Ok(Next::Transmit(disk))
    }

    async fn abort(&self, s: &'s mut Session) -> Self::Output {
        Self::reply(s, rep::ACK, Bytes::new()).await?;
        s.writer.flush().await?;
        Ok(Next::Close)
    }

    async fn list(&self, s: &'s mut Session) -> Self::Output {
        for name in self.0.disks.keys() {
            let name = Bytes::copy_from_slice(name.as_bytes());
            let entry = ServerEntry { name_len: 0, name };
            Self::reply(s, rep::SERVER, sdwire::to_bytes_unversioned(&entry)?).await?;
        }
        Self::reply(s, rep::ACK, Bytes::new()).await?;
        s.writer.flush().await?;
        Ok(Next::Haggle)
    }

    async fn info(&self, s: &'s mut Session, req: InfoRequest) -> Self::Output {
        self.describe(s, req).await?;
        Ok(Next::Haggle)
    }

    async fn go(&self, s: &'s mut Session, req: InfoRequest) -> Self::Output {
        Ok(match self.describe(s, req).await? {
            Some(disk) => Next::Transmit(disk),
            None => Next::Haggle,
        })
    }

    async fn unknown_op(&self, s: &'s mut Session, _option: u32) -> Self::Output {
        Self::error(s, rep::ERR_UNSUP, "option not supported").await
    }
}

/// The context of one command: its request header.
pub struct Call<'r> {
    pub req: &'r Request,
}

/// What a command answers: an error number and, for a READ, the data.
pub struct Answer {
    pub error: u32,
    pub data: Bytes,
    pub disconnect: bool,
}

impl Answer {
    fn ok() -> Self {
        Answer {
            error: 0,
            data: Bytes::new(),
            disconnect: false,
        }
    }
    fn err(error: u32) -> Self {
        Answer {
            error,
            data: Bytes::new(),
            disconnect: false,
        }
    }
}

/// The byte range of a request, if it lies inside a disk of `size` bytes.
fn range(req: &Request, size: usize) -> Option<std::ops::Range<usize>> {
    let start = usize::try_from(req.offset).ok()?;
    let end = start.checked_add(req.length as usize)?;
    (end <= size).then_some(start..end)
}

impl Disk {
    fn modify(&self, req: &Request, out_of_range: u32, f: impl FnOnce(&mut [u8])) -> Answer {
        if self.read_only {
            return Answer::err(errno::EPERM);
        }
        let mut data = self.data.write().unwrap();
        match range(req, data.len()) {
            Some(r) => {
                f(&mut data[r]);
                Answer::ok()
            }
            None => Answer::err(out_of_range),
        }
    }
}

impl<'r> CommandHandler<Call<'r>> for Disk {
    type Output = Answer;

    async fn read(&self, c: Call<'r>) -> Answer {
        let data = self.data.read().unwrap();
        match range(c.req, data.len()) {
            Some(r) if c.req.length <= MAX_IO => Answer {
                error: 0,
                data: Bytes::copy_from_slice(&data[r]),
                disconnect: false,
            },
            _ => Answer::err(errno::EINVAL),
        }
    }

    async fn write(&self, c: Call<'r>, data: Bytes) -> Answer {
        // The spec prefers ENOSPC for a write past the end.
        self.modify(c.req, errno::ENOSPC, |dst| dst.copy_from_slice(&data))
    }

    async fn disc(&self, _: Call<'r>) -> Answer {
        Answer {
            disconnect: true,
            ..Answer::ok()
        }
    }

    async fn flush(&self, _: Call<'r>) -> Answer {
        // In memory: every acknowledged write is already as durable as it gets.
        Answer::ok()
    }

    async fn trim(&self, c: Call<'r>) -> Answer {
        self.modify(c.req, errno::EINVAL, |dst| dst.fill(0))
    }

    async fn write_zeroes(&self, c: Call<'r>) -> Answer {
        self.modify(c.req, errno::ENOSPC, |dst| dst.fill(0))
    }

    async fn unknown_op(&self, _: Call<'r>, _kind: u16) -> Answer {
        Answer::err(errno::EINVAL)
    }
}

async fn connection(stream: TcpStream, exports: Arc<Exports>) -> Result<(), Error> {
    stream.set_nodelay(true)?;
    let (r, w) = stream.into_split();
    let mut session = Session {
        writer: FrameWriter::untyped(w, 0),
        no_zeroes: false,
        option: 0,
    };

    // Phase 1: fixed messages.
    let greeting = Greeting {
        nbdmagic: 0,
        ihaveopt: 0,
        flags: HandshakeFlags::FIXED_NEWSTYLE | HandshakeFlags::NO_ZEROES,
    };
    session.writer.send_message(&greeting).await?;
    session.writer.flush().await?;
    let mut reader = FramedRead::new(r, MessageCodec::<ClientHello>::new(0));
    let Some(hello) = reader.next().await else {
        return Ok(());
    };
    let hello = hello?; // unknown client flags: refused by the flags type
    session.no_zeroes = hello.flags.contains(ClientFlags::NO_ZEROES);

    // Phase 2: option frames, each dispatched with the session as context.
    let mut reader = reader.map_decoder(|_| FrameCodec::<OptionHeader>::new(0, MAX_OPTION));
    let options = Options(exports);
    let disk = loop {
        let Some(frame) = reader.next().await else {
            return Ok(());
        };
        let frame = frame?;
        let option = frame.header.option;
        session.option = option;
        let op = match NbdOption::decode_body(option, &mut frame.payload.clone(), 0) {
            Ok(op) => op,
            Err(e) => {
                eprintln!("nbd: malformed option {option}: {e}");
                Options::error(&mut session, rep::ERR_INVALID, &e.to_string()).await?;
                continue;
            }
        };
        match op.dispatch_with(&options, &mut session).await? {
            Next::Haggle => {}
            Next::Close => return Ok(()),
            Next::Transmit(disk) => break disk,
        }
    };

    // Phase 3: requests, each dispatched with its header as context.
    let mut reader = reader.map_decoder(|_| FrameCodec::<Request>::new(0, MAX_IO as usize));
    let mut writer = session.writer;
    while let Some(frame) = reader.next().await {
        let frame = frame?;
        let req = frame.header;
        let answer = if !CommandFlags::all().contains(req.flags) {
            Answer::err(errno::EINVAL)
        } else {
            let mut body = frame.payload;
            match Command::decode_body(req.kind, &mut body, 0) {
                Ok(cmd) => cmd.dispatch_with(disk.as_ref(), Call { req: &req }).await,
                Err(e) => {
                    eprintln!("nbd: bad request {}: {e}", req.cookie);
                    Answer::err(errno::EINVAL)
                }
            }
        };
        if answer.disconnect {
            break;
        }
        let reply = SimpleReply {
            magic: SIMPLE_REPLY_MAGIC,
            error: answer.error,
            cookie: req.cookie,
        };
        writer.send_with_payload(&reply, answer.data).await?;
        // Answer every request the client has sent before waiting for more.
        if reader.read_buffer().len() < 28 {
            writer.flush().await?;
        }
    }
    writer.flush().await?;
    Ok(())
}
