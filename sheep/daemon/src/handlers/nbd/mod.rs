//! The NBD front end (`sheep --nbd ADDR`): every VDI is an NBD export, on
//! every node (a gateway: the data moves through the same object paths as
//! a client's requests). Export name = VDI name; `NAME@TAG` or
//! `NAME@SNAPID` exports a snapshot read-only.
//!
//! One connection: the handshake's fixed messages, option haggling
//! ([`options`], dispatched through the generated `OptionHandler` with the
//! session as context), then transmission: each request is decoded by the
//! generated `Command` table and run in its own task on the [`Export`]
//! (many in flight; answers leave as they complete, matched by cookie).
//! Malformed input gets an error reply, or a clean close and a log line.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use futures::StreamExt;
use sdwire::codec::{FrameCodec, FrameWriter, MessageCodec};
use sdwire::OpTable;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, Semaphore};
use tokio_util::codec::FramedRead;

use crate::handlers::Services;
use crate::proto::nbd::{
    errno, rep, reply_type, ClientFlags, ClientHello, Command, CommandFlags, ErrorChunk, Greeting,
    HandshakeFlags, NbdOption, OptionHeader, ReadChunkHeader, ReplyFlags, Request, SimpleReply,
    StructuredReplyHeader, MAX_IO, MAX_OPTION, REQUEST_SIZE, SIMPLE_REPLY_MAGIC,
    STRUCTURED_REPLY_MAGIC,
};

pub mod export;
pub mod options;

pub use export::{Answer, Call, Export};
use options::{Next, Options, Session};

/// Boxed error of one connection (logged when it ends).
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Bytes of commands one connection runs at once (128 MiB, in 64 KiB
/// units): past it, the connection stops reading until answers are out.
const BUDGET_UNITS: u32 = 2048;
const UNIT: u32 = 64 << 10;

/// The NBD server of one daemon: the services and the exports open now.
#[derive(Debug)]
pub struct NbdServer {
    st: Arc<Services>,
    exports: Mutex<HashMap<Vec<u8>, Weak<Export>>>,
}

impl NbdServer {
    /// A server over the daemon's services.
    pub fn new(st: Arc<Services>) -> Arc<NbdServer> {
        Arc::new(NbdServer {
            st,
            exports: Mutex::new(HashMap::new()),
        })
    }

    /// The export `name` selects, shared with the connections that have it
    /// open (so object creation is serialized per VDI).
    ///
    /// # Errors
    ///
    /// A message for the client: no such VDI or snapshot.
    pub async fn export(&self, name: &[u8]) -> Result<Arc<Export>, String> {
        if let Some(e) = crate::sync::lock(&self.exports)
            .get(name)
            .and_then(Weak::upgrade)
        {
            return Ok(e);
        }
        let e = Arc::new(Export::open(self.st.clone(), name).await?);
        let mut map = crate::sync::lock(&self.exports);
        map.retain(|_, w| w.strong_count() > 0);
        if let Some(other) = map.get(name).and_then(Weak::upgrade) {
            return Ok(other);
        }
        map.insert(name.to_vec(), Arc::downgrade(&e));
        Ok(e)
    }

    /// The names of the live VDIs (what `NBD_OPT_LIST` shows).
    pub fn names(&self) -> Vec<Vec<u8>> {
        let t = crate::sync::read(&self.st.vdis);
        let mut names: Vec<Vec<u8>> = t
            .vdis
            .values()
            .filter(|m| !m.is_deleted() && !m.is_snapshot())
            .map(|m| m.name.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// Serves one connection until the client leaves, a framing error, or
    /// the daemon stops.
    pub async fn serve(self: Arc<Self>, stream: TcpStream, peer: String) {
        if let Err(e) = self.connection(stream).await {
            tracing::warn!(%peer, error = %e, "nbd connection closed");
        } else {
            tracing::debug!(%peer, "nbd connection ended");
        }
    }

    async fn connection(self: Arc<Self>, stream: TcpStream) -> Result<(), Error> {
        let _ = stream.set_nodelay(true);
        let (r, w) = stream.into_split();
        let mut stop = self.st.shutdown_tx.subscribe();
        let mut session = Session::new(FrameWriter::untyped(w, 0));

        // Phase 1: the greeting and the client's flags.
        let greeting = Greeting {
            nbdmagic: 0,
            ihaveopt: 0,
            flags: HandshakeFlags::FIXED_NEWSTYLE | HandshakeFlags::NO_ZEROES,
        };
        session.writer.send_message(&greeting).await?;
        session.writer.flush().await?;
        let mut reader = FramedRead::new(r, MessageCodec::<ClientHello>::new(0));
        let hello = tokio::select! {
            h = reader.next() => h,
            _ = stop.wait_for(|&s| s) => return Ok(()),
        };
        let Some(hello) = hello else { return Ok(()) };
        // Unknown client flags are refused by the flags type: the spec
        // says to close.
        let hello = hello?;
        session.no_zeroes = hello.flags.contains(ClientFlags::NO_ZEROES);

        // Phase 2: option haggling.
        let mut reader = reader.map_decoder(|_| FrameCodec::<OptionHeader>::new(0, MAX_OPTION));
        let options = Options::new(self.clone());
        let export = loop {
            let frame = tokio::select! {
                f = reader.next() => f,
                _ = stop.wait_for(|&s| s) => return Ok(()),
            };
            let Some(frame) = frame else { return Ok(()) };
            let frame = frame?;
            session.option = frame.header.option;
            let op = match NbdOption::decode_body(
                frame.header.option,
                &mut frame.payload.clone(),
                0,
            ) {
                Ok(op) => op,
                Err(e) => {
                    tracing::warn!(option = frame.header.option, error = %e, "nbd: malformed option");
                    options
                        .error(&mut session, rep::ERR_INVALID, &e.to_string())
                        .await?;
                    continue;
                }
            };
            match op.dispatch_with(&options, &mut session).await? {
                Next::Haggle => {}
                Next::Close => return Ok(()),
                Next::Transmit(e) => break e,
            }
        };

        // Phase 3: transmission.
        let reader = reader.map_decoder(|_| FrameCodec::<Request>::new(0, MAX_IO as usize));
        transmit(reader, session, export, stop).await
    }
}

/// One answer on its way out.
enum Out {
    Simple(SimpleReply, Bytes),
    Read(ReadChunkHeader, Bytes),
    Chunk(StructuredReplyHeader, Bytes),
}

/// The wire form of an answer to `req`.
fn reply_for(req: &Request, a: Answer, structured: bool) -> Result<Out, Error> {
    if !structured || req.kind != Command::READ {
        let r = SimpleReply {
            magic: SIMPLE_REPLY_MAGIC,
            error: a.error,
            cookie: req.cookie,
        };
        return Ok(Out::Simple(r, a.data));
    }
    let head = |kind, length| StructuredReplyHeader {
        magic: STRUCTURED_REPLY_MAGIC,
        flags: ReplyFlags::DONE,
        kind,
        cookie: req.cookie,
        length,
    };
    if a.error != 0 {
        let msg = Bytes::from(format!("sheep: error {} on read", a.error));
        let chunk = ErrorChunk {
            error: a.error,
            message_len: 0,
            message: msg,
        };
        let body = sdwire::to_bytes_unversioned(&ErrorChunk {
            message_len: chunk.message.len() as u16,
            ..chunk
        })?;
        return Ok(Out::Chunk(head(reply_type::ERROR, body.len() as u32), body));
    }
    if a.data.is_empty() {
        return Ok(Out::Chunk(head(reply_type::NONE, 0), Bytes::new()));
    }
    let h = ReadChunkHeader {
        magic: STRUCTURED_REPLY_MAGIC,
        flags: ReplyFlags::DONE,
        kind: reply_type::OFFSET_DATA,
        cookie: req.cookie,
        length: 8 + a.data.len() as u32,
        offset: req.offset,
    };
    Ok(Out::Read(h, a.data))
}

async fn transmit(
    mut reader: FramedRead<tokio::net::tcp::OwnedReadHalf, FrameCodec<Request>>,
    session: Session,
    export: Arc<Export>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Result<(), Error> {
    let structured = session.structured;
    let mut writer = session.writer;
    let (tx, mut rx) = mpsc::unbounded_channel::<Out>();
    let write_task = tokio::spawn(async move {
        while let Some(out) = rx.recv().await {
            let mut next = Some(out);
            while let Some(out) = next.take() {
                match out {
                    Out::Simple(h, d) => writer.send_with_payload(&h, d).await?,
                    Out::Read(h, d) => writer.send_with_payload(&h, d).await?,
                    Out::Chunk(h, d) => writer.send_frame(sdwire::codec::Frame::new(h, d)).await?,
                }
                next = rx.try_recv().ok();
            }
            writer.flush().await?;
        }
        writer.flush().await?;
        Ok::<(), sdwire::codec::FrameError>(())
    });
    let budget = Arc::new(Semaphore::new(BUDGET_UNITS as usize));
    let mut result = Ok(());
    loop {
        let frame = tokio::select! {
            f = reader.next() => f,
            _ = stop.wait_for(|&s| s) => break,
        };
        let frame = match frame {
            None => break,
            Some(Ok(f)) => f,
            Some(Err(e)) => {
                result = Err(e.into());
                break;
            }
        };
        let req = frame.header;
        if !CommandFlags::all().contains(req.flags) {
            tracing::warn!(
                cookie = req.cookie,
                flags = req.flags.bits(),
                "nbd: unknown command flags"
            );
            tx.send(reply_for(
                &req,
                Answer {
                    error: errno::EINVAL,
                    ..Answer::default()
                },
                structured,
            )?)?;
            continue;
        }
        let cmd = match Command::decode_body(req.kind, &mut frame.payload.clone(), 0) {
            Ok(cmd) => cmd,
            Err(e) => {
                tracing::warn!(cookie = req.cookie, error = %e, "nbd: malformed request");
                tx.send(reply_for(
                    &req,
                    Answer {
                        error: errno::EINVAL,
                        ..Answer::default()
                    },
                    structured,
                )?)?;
                continue;
            }
        };
        if matches!(cmd, Command::Disc) {
            break;
        }
        let units = (req.length.div_ceil(UNIT)).clamp(1, BUDGET_UNITS);
        let Ok(permit) = budget.clone().acquire_many_owned(units).await else {
            break;
        };
        let (export, tx) = (export.clone(), tx.clone());
        tokio::spawn(async move {
            let a = cmd.dispatch_with(export.as_ref(), Call { req: &req }).await;
            match reply_for(&req, a, structured) {
                Ok(out) => {
                    let _ = tx.send(out);
                }
                Err(e) => tracing::error!(error = %e, "nbd: encoding a reply failed"),
            }
            drop(permit);
        });
    }
    // Answers of the requests in flight go out before the close.
    drop(tx);
    match write_task.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(e.into()),
        Err(e) => return Err(e.into()),
    }
    // Commands read after the buffer ended are not lost silently.
    if reader.read_buffer().len() >= REQUEST_SIZE {
        tracing::debug!("nbd: requests left unread at close");
    }
    result
}
