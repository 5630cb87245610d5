//! # sheep-client
//!
//! An async sheepdog client: TCP or unix socket, typed helpers over raw
//! requests, many requests in flight on one connection (matched by id).
//! Built on [`sheep_proto`] only: `dog` ([`dog`]) and the `sheep-bench`
//! tool use it, and so does the daemon for its links to peers.
//!
//! ```no_run
//! # async fn f() -> Result<(), sheep_client::ClientError> {
//! use sheep_client::{Client, Target};
//! let c = Client::connect(&Target::Tcp("127.0.0.1:7000".parse().unwrap())).await?;
//! c.make_fs(1, 22).await?;
//! let vid = c.new_vdi("test", 64 << 20).await?;
//! # let _ = vid; Ok(()) }
//! ```

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt;
use tokio::io::AsyncWrite;
use tokio::sync::oneshot;
use tokio_util::codec::FramedRead;

pub mod alloc;
pub mod dog;
pub mod payload;
pub mod sendfile;
pub mod sync;
pub mod vdi_io;

/// The protocol crate, under the name this crate's modules use.
pub(crate) use sheep_proto as proto;

use crate::payload::{FileRange, Payload};
use crate::proto::frame;
use crate::proto::inode::data_vdi_id_offset;
use crate::proto::oid::Oid;
use crate::proto::payload::{VdiName, VdiNameTag};
use crate::proto::{
    AdminOp, ClientOp, ClusterFlags, ClusterReq, InodeHeader, NoArgs, ObjReq, ReqFlags, ReqHeader,
    Request, RspArm, RspHeader, SdResult, VdiReq, VdiRsp,
};
use crate::sendfile::SendFile;
use sdwire::codec::{Frame, FrameWriter};
use sdwire::Wire;

/// Where the daemon listens.
#[derive(Debug, Clone)]
pub enum Target {
    /// TCP address.
    Tcp(SocketAddr),
    /// Unix socket path.
    Unix(PathBuf),
}

/// Client errors.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// Transport error.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    /// The connection closed before the answer came.
    #[error("connection closed")]
    Closed,
    /// The daemon answered with a result other than SUCCESS: the raw
    /// [`SdResult`] code (see [`ClientError::sd_result`]).
    #[error("sheep answered {}", SdResult::from_code(*.0))]
    Result(u32),
}

impl ClientError {
    /// The result the daemon answered, for [`ClientError::Result`].
    pub fn sd_result(&self) -> Option<SdResult> {
        match self {
            ClientError::Result(c) => Some(SdResult::from_code(*c)),
            _ => None,
        }
    }
}

type Pending = Arc<Mutex<HashMap<u32, oneshot::Sender<(RspHeader, Bytes)>>>>;
/// Requests are written without copying object payloads (see [`FrameWriter`]).
type Writer = FrameWriter<WriteHalf, ReqHeader>;

/// The sending half of a connection: a byte stream that can also send a
/// file range with `sendfile(2)`.
enum WriteHalf {
    Tcp(tokio::net::tcp::OwnedWriteHalf),
    Unix(tokio::net::unix::OwnedWriteHalf),
}

impl AsyncWrite for WriteHalf {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            WriteHalf::Tcp(w) => std::pin::Pin::new(w).poll_write(cx, buf),
            WriteHalf::Unix(w) => std::pin::Pin::new(w).poll_write(cx, buf),
        }
    }
    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            WriteHalf::Tcp(w) => std::pin::Pin::new(w).poll_write_vectored(cx, bufs),
            WriteHalf::Unix(w) => std::pin::Pin::new(w).poll_write_vectored(cx, bufs),
        }
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Tcp(w) => std::pin::Pin::new(w).poll_flush(cx),
            WriteHalf::Unix(w) => std::pin::Pin::new(w).poll_flush(cx),
        }
    }
    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            WriteHalf::Tcp(w) => std::pin::Pin::new(w).poll_shutdown(cx),
            WriteHalf::Unix(w) => std::pin::Pin::new(w).poll_shutdown(cx),
        }
    }
}

impl WriteHalf {
    async fn send_file(&mut self, r: &FileRange) -> std::io::Result<()> {
        match self {
            WriteHalf::Tcp(w) => w.send_file(r).await,
            WriteHalf::Unix(w) => w.send_file(r).await,
        }
    }
}

/// A connection to a sheep.
pub struct Client {
    writer: tokio::sync::Mutex<Writer>,
    pending: Pending,
    next_id: AtomicU32,
    reader: tokio::task::JoinHandle<()>,
    /// Set when the connection's reader ended: no answer can come any more.
    closed: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Client")
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// A request header for `opcode` with the right proto_ver, no flags and a
/// zeroed union (see [`ReqHeader::new`]).
pub fn req(opcode: u8) -> ReqHeader {
    ReqHeader::new(opcode, ReqFlags::EMPTY, 0)
}

/// A request header for a typed op: its opcode, proto_ver and union arm.
pub fn req_for(op: Request) -> ReqHeader {
    op.to_header(ReqFlags::EMPTY, 0)
}

/// The typed response arm of `h` (chosen by its opcode).
pub fn rsp_arm(h: &RspHeader) -> RspArm {
    // Every arm is plain integers: decoding 28 bytes cannot fail.
    RspArm::decode(h.opcode, &h.body).unwrap_or(RspArm::None(Default::default()))
}

/// The `vdi` response arm of `h` (zero if `h` answers another kind of op).
pub fn vdi_rsp(h: &RspHeader) -> VdiRsp {
    match rsp_arm(h) {
        RspArm::Vdi(v) => v,
        _ => VdiRsp::default(),
    }
}

fn obj(oid: u64, offset: u32) -> ObjReq {
    ObjReq {
        oid: Oid(oid),
        offset,
        ..ObjReq::default()
    }
}

fn name_buf(name: &str, tag: &str, with_tag: bool) -> Bytes {
    let b = if with_tag {
        sdwire::to_vec(&VdiNameTag::new(name.as_bytes(), tag.as_bytes()), 0)
    } else {
        sdwire::to_vec(&VdiName::new(name.as_bytes()), 0)
    };
    b.expect("fixed-size name").into()
}

impl Client {
    /// Connects.
    ///
    /// # Errors
    ///
    /// Connect errors.
    pub async fn connect(t: &Target) -> Result<Client, ClientError> {
        let (r, w): (Box<dyn tokio::io::AsyncRead + Send + Unpin>, WriteHalf) = match t {
            Target::Tcp(a) => {
                let s = tokio::net::TcpStream::connect(a).await?;
                s.set_nodelay(true)?;
                let (r, w) = s.into_split();
                (Box::new(r), WriteHalf::Tcp(w))
            }
            Target::Unix(p) => {
                let s = tokio::net::UnixStream::connect(p).await?;
                let (r, w) = s.into_split();
                (Box::new(r), WriteHalf::Unix(w))
            }
        };
        let pending: Pending = Arc::default();
        let p2 = pending.clone();
        let closed = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let closed2 = closed.clone();
        let reader = tokio::spawn(async move {
            let mut fr = FramedRead::new(r, frame::rsp_codec());
            while let Some(Ok(f)) = fr.next().await {
                let tx = crate::sync::lock(&p2).remove(&f.header.id);
                if let Some(tx) = tx {
                    let _ = tx.send((f.header, f.payload));
                }
            }
            closed2.store(true, Ordering::SeqCst);
            crate::sync::lock(&p2).clear();
        });
        Ok(Client {
            writer: tokio::sync::Mutex::new(FrameWriter::new(w, 0)),
            pending,
            next_id: AtomicU32::new(1),
            reader,
            closed,
        })
    }

    /// Sends `hdr` (its id is replaced; WRITE and data_length are set from
    /// `payload` when it is non-empty) and waits for the answer, whatever
    /// its result.
    ///
    /// # Errors
    ///
    /// Transport errors.
    pub async fn raw(
        &self,
        hdr: ReqHeader,
        payload: Bytes,
    ) -> Result<(RspHeader, Bytes), ClientError> {
        self.raw_payload(hdr, Payload::Bytes(payload)).await
    }

    /// [`raw`](Self::raw) with a payload that may be a file range, sent
    /// with `sendfile(2)` (the bytes go from the file's page cache to the
    /// socket without passing through this process).
    ///
    /// # Errors
    ///
    /// Transport errors; a file range the file ends inside is
    /// `UnexpectedEof`, and the connection is shut down (the frame it began
    /// cannot be finished).
    pub async fn raw_payload(
        &self,
        mut hdr: ReqHeader,
        payload: Payload,
    ) -> Result<(RspHeader, Bytes), ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        hdr.id = id;
        if !payload.is_empty() {
            hdr.flags |= ReqFlags::WRITE;
            hdr.data_length = payload.len() as u32;
        }
        let payload = if hdr.has_payload() {
            payload
        } else {
            Payload::Bytes(Bytes::new())
        };
        let (tx, rx) = oneshot::channel();
        crate::sync::lock(&self.pending).insert(id, tx);
        // A request sent after the reader ended would wait forever.
        if self.closed.load(Ordering::SeqCst) {
            crate::sync::lock(&self.pending).remove(&id);
            return Err(ClientError::Closed);
        }
        {
            let mut w = self.writer.lock().await;
            let sent = match payload {
                Payload::Bytes(b) => match w.send(Frame::new(hdr, b)).await {
                    Ok(()) => w.flush().await.map_err(sdwire::codec::FrameError::Io),
                    Err(e) => Err(e),
                },
                Payload::File(f) => match w.send_header(hdr).await {
                    Ok(()) => match w.get_mut().send_file(&f).await {
                        Ok(()) => Ok(()),
                        Err(e) => {
                            // Half a frame is on the wire: nothing after it
                            // could be understood.
                            use tokio::io::AsyncWriteExt as _;
                            let _ = w.get_mut().shutdown().await;
                            Err(sdwire::codec::FrameError::Io(e))
                        }
                    },
                    Err(e) => Err(e),
                },
            };
            if let Err(e) = sent {
                crate::sync::lock(&self.pending).remove(&id);
                return Err(match e {
                    sdwire::codec::FrameError::Io(e) => ClientError::Io(e),
                    other => ClientError::Io(std::io::Error::other(other.to_string())),
                });
            }
        }
        rx.await.map_err(|_| ClientError::Closed)
    }

    /// Like [`raw`](Self::raw) but a non-zero result is an error.
    ///
    /// # Errors
    ///
    /// Transport errors and [`ClientError::Result`].
    pub async fn call(
        &self,
        hdr: ReqHeader,
        payload: Bytes,
    ) -> Result<(RspHeader, Bytes), ClientError> {
        let (h, p) = self.raw(hdr, payload).await?;
        if h.result.is_success() {
            Ok((h, p))
        } else {
            Err(ClientError::Result(h.result.code()))
        }
    }

    /// Sends a typed op (its union arm filled in) with `data_length` and
    /// `payload` (WRITE is set when it is non-empty); a result other than
    /// SUCCESS is an error.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn op(
        &self,
        op: Request,
        data_length: u32,
        payload: Bytes,
    ) -> Result<(RspHeader, Bytes), ClientError> {
        self.call(op.to_header(ReqFlags::EMPTY, data_length), payload)
            .await
    }

    /// MAKE_FS with the plain store.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn make_fs(&self, copies: u8, block_size_shift: u8) -> Result<(), ClientError> {
        let a = ClusterReq {
            ctime: crate::proto::time::now_ctime(),
            copies,
            flags: ClusterFlags::AUTO_VNODES,
            block_size_shift,
            ..ClusterReq::default()
        };
        let store = crate::proto::payload::MakeFsPayload {
            store: b"plain".to_vec(),
        };
        self.op(Request::Admin(AdminOp::MakeFs(a)), 0, store.encode().into())
            .await
            .map(|_| ())
    }

    /// NEW_VDI; returns the vid.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn new_vdi(&self, name: &str, size: u64) -> Result<u32, ClientError> {
        let a = VdiReq {
            vdi_size: size,
            ..VdiReq::default()
        };
        let (r, _) = self
            .op(
                Request::Client(ClientOp::NewVdi(a)),
                0,
                name_buf(name, "", false),
            )
            .await?;
        Ok(vdi_rsp(&r).vdi_id)
    }

    /// Snapshots the working VDI `name` with `tag`; returns (frozen vid,
    /// new working vid).
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn snapshot(&self, name: &str, tag: &str) -> Result<(u32, u32), ClientError> {
        let vid = self.get_vdi_info(name, "", 0).await?;
        let mut tagb = vec![0u8; 256];
        tagb[..tag.len().min(255)].copy_from_slice(&tag.as_bytes()[..tag.len().min(255)]);
        self.write_obj(Oid::inode(vid).0, 256, tagb).await?;
        let a = VdiReq {
            base_vdi_id: vid,
            snapid: 1,
            ..VdiReq::default()
        };
        let (r, _) = self
            .op(
                Request::Client(ClientOp::NewVdi(a)),
                0,
                name_buf(name, "", false),
            )
            .await?;
        Ok((vid, vdi_rsp(&r).vdi_id))
    }

    /// Clones snapshot `base_vid` as `name`; returns the new vid.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn clone_vdi(&self, base_vid: u32, name: &str) -> Result<u32, ClientError> {
        let a = VdiReq {
            base_vdi_id: base_vid,
            ..VdiReq::default()
        };
        let (r, _) = self
            .op(
                Request::Client(ClientOp::NewVdi(a)),
                0,
                name_buf(name, "", false),
            )
            .await?;
        Ok(vdi_rsp(&r).vdi_id)
    }

    /// GET_VDI_INFO; returns the vid.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn get_vdi_info(
        &self,
        name: &str,
        tag: &str,
        snapid: u32,
    ) -> Result<u32, ClientError> {
        let a = VdiReq {
            snapid,
            ..VdiReq::default()
        };
        let (r, _) = self
            .op(
                Request::Client(ClientOp::GetVdiInfo(a)),
                0,
                name_buf(name, tag, true),
            )
            .await?;
        Ok(vdi_rsp(&r).vdi_id)
    }

    /// LOCK_VDI of type `ty` (0 normal, 1 shared); returns the vid.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn lock_vdi(&self, name: &str, ty: u32) -> Result<u32, ClientError> {
        let a = VdiReq {
            lock_type: ty,
            ..VdiReq::default()
        };
        let (r, _) = self
            .op(
                Request::Client(ClientOp::LockVdi(a)),
                0,
                name_buf(name, "", true),
            )
            .await?;
        Ok(vdi_rsp(&r).vdi_id)
    }

    /// RELEASE_VDI.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn release_vdi(&self, vid: u32) -> Result<(), ClientError> {
        let a = VdiReq {
            base_vdi_id: vid,
            ..VdiReq::default()
        };
        self.op(Request::Client(ClientOp::ReleaseVdi(a)), 0, Bytes::new())
            .await
            .map(|_| ())
    }

    /// DEL_VDI.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn del_vdi(&self, name: &str, tag: &str, snapid: u32) -> Result<(), ClientError> {
        let a = VdiReq {
            snapid,
            ..VdiReq::default()
        };
        self.op(
            Request::Client(ClientOp::DelVdi(a)),
            0,
            name_buf(name, tag, true),
        )
        .await
        .map(|_| ())
    }

    /// READ_OBJ.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn read_obj(&self, oid: u64, offset: u32, len: u32) -> Result<Bytes, ClientError> {
        let op = Request::Client(ClientOp::ReadObj(obj(oid, offset)));
        Ok(self.op(op, len, Bytes::new()).await?.1)
    }

    /// WRITE_OBJ.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn write_obj(
        &self,
        oid: u64,
        offset: u32,
        data: impl Into<Bytes>,
    ) -> Result<(), ClientError> {
        let op = Request::Client(ClientOp::WriteObj(obj(oid, offset)));
        self.op(op, 0, data.into()).await.map(|_| ())
    }

    /// CREATE_AND_WRITE_OBJ, copying `cow` first when given.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn create_and_write_obj(
        &self,
        oid: u64,
        cow: Option<u64>,
        offset: u32,
        data: impl Into<Bytes>,
    ) -> Result<(), ClientError> {
        let a = ObjReq {
            cow_oid: Oid(cow.unwrap_or(0)),
            ..obj(oid, offset)
        };
        let flags = if cow.is_some() {
            ReqFlags::COW
        } else {
            ReqFlags::EMPTY
        };
        let h = Request::Client(ClientOp::CreateAndWriteObj(a)).to_header(flags, 0);
        self.call(h, data.into()).await.map(|_| ())
    }

    /// Writes `data` at byte `offset` of VDI `vid` the way dog and tgtd do:
    /// creating missing objects (COW from an ancestor's) and updating the
    /// inode index. Needs the VDI's current `data_vdi_id` entries, so it
    /// reads them per object.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn vdi_write(&self, vid: u32, offset: u64, data: &[u8]) -> Result<(), ClientError> {
        let shift = self.vdi_shift(vid).await?;
        for p in vdi_io::pieces(offset, data.len() as u64, 1u64 << shift) {
            let at = p.at as usize;
            let chunk = Bytes::copy_from_slice(&data[at..at + p.len as usize]);
            let owner = self.index_entry(vid, p.idx).await?;
            match vdi_io::WritePlan::new(vid, p.idx, owner) {
                vdi_io::WritePlan::InPlace { oid } => self.write_obj(oid, p.offset, chunk).await?,
                vdi_io::WritePlan::Create { oid, cow } => {
                    self.create_and_write_obj(oid, cow, p.offset, chunk).await?;
                    let ioff = data_vdi_id_offset(p.idx) as u32;
                    let run = sdwire::to_bytes(&crate::proto::inode::IndexRun::new(vec![vid]), 0)
                        .map_err(|e| ClientError::Io(std::io::Error::other(e)))?;
                    self.write_obj(Oid::inode(vid).0, ioff, run).await?;
                }
            }
        }
        Ok(())
    }

    /// Reads `len` bytes at `offset` of VDI `vid` (holes read as zeros).
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn vdi_read(
        &self,
        vid: u32,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>, ClientError> {
        let shift = self.vdi_shift(vid).await?;
        let mut out = Vec::with_capacity(len);
        for p in vdi_io::pieces(offset, len as u64, 1u64 << shift) {
            let owner = self.index_entry(vid, p.idx).await?;
            match vdi_io::read_source(p.idx, owner) {
                None => out.resize(out.len() + p.len as usize, 0),
                Some(oid) => out.extend_from_slice(&self.read_obj(oid, p.offset, p.len).await?),
            }
        }
        Ok(out)
    }

    /// The block_size_shift of VDI `vid`.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn vdi_shift(&self, vid: u32) -> Result<u8, ClientError> {
        let off = InodeHeader::LAYOUT
            .field("block_size_shift")
            .and_then(|f| f.offset)
            .unwrap_or(555);
        let b = self.read_obj(Oid::inode(vid).0, off as u32, 1).await?;
        Ok(b.first().copied().unwrap_or(22))
    }

    /// `data_vdi_id[idx]` of VDI `vid`.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn index_entry(&self, vid: u32, idx: u32) -> Result<u32, ClientError> {
        let off = data_vdi_id_offset(idx) as u32;
        let b = self.read_obj(Oid::inode(vid).0, off, 4).await?;
        let e: crate::proto::inode::IndexEntry =
            sdwire::from_slice(&b, 0).map_err(|e| ClientError::Io(std::io::Error::other(e)))?;
        Ok(e.0)
    }

    /// SHUTDOWN.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn shutdown(&self) -> Result<(), ClientError> {
        self.op(
            Request::Admin(AdminOp::Shutdown(NoArgs::default())),
            0,
            Bytes::new(),
        )
        .await
        .map(|_| ())
    }
}
