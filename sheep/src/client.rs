//! An async sheepdog client: TCP or unix socket, typed helpers over raw
//! requests, many requests in flight on one connection (matched by id).
//!
//! ```no_run
//! # async fn f() -> Result<(), sheep::client::ClientError> {
//! use sheep::client::{Client, Target};
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
use futures::{SinkExt, StreamExt};
use tokio::io::AsyncWrite;
use tokio::sync::oneshot;
use tokio_util::codec::{FramedRead, FramedWrite};

use crate::net::frame::{self, flags, op, res, ver, Req, Rsp};
use crate::proto::oid::Oid;
use sdwire::codec::{Frame, FrameCodec};

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
    /// The daemon answered with a non-zero result.
    #[error("sheep answered result 0x{0:02x}")]
    Result(u32),
}

type Pending = Arc<Mutex<HashMap<u32, oneshot::Sender<(Rsp, Bytes)>>>>;
type Writer = FramedWrite<Box<dyn AsyncWrite + Send + Unpin>, FrameCodec<Req>>;

/// A connection to a sheep.
pub struct Client {
    writer: tokio::sync::Mutex<Writer>,
    pending: Pending,
    next_id: AtomicU32,
    reader: tokio::task::JoinHandle<()>,
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

/// A request header for `opcode` with the right proto_ver.
pub fn req(opcode: u8) -> Req {
    Req {
        proto_ver: if opcode >= 0x80 {
            ver::SD_SHEEP_PROTO_VER
        } else {
            ver::SD_PROTO_VER
        },
        opcode,
        ..Req::default()
    }
}

fn name_buf(name: &str, tag: &str, with_tag: bool) -> Vec<u8> {
    let mut b = vec![0u8; if with_tag { 512 } else { 256 }];
    let n = name.len().min(255);
    b[..n].copy_from_slice(&name.as_bytes()[..n]);
    if with_tag {
        let t = tag.len().min(255);
        b[256..256 + t].copy_from_slice(&tag.as_bytes()[..t]);
    }
    b
}

impl Client {
    /// Connects.
    ///
    /// # Errors
    ///
    /// Connect errors.
    pub async fn connect(t: &Target) -> Result<Client, ClientError> {
        let (r, w): (
            Box<dyn tokio::io::AsyncRead + Send + Unpin>,
            Box<dyn AsyncWrite + Send + Unpin>,
        ) = match t {
            Target::Tcp(a) => {
                let s = tokio::net::TcpStream::connect(a).await?;
                s.set_nodelay(true)?;
                let (r, w) = s.into_split();
                (Box::new(r), Box::new(w))
            }
            Target::Unix(p) => {
                let s = tokio::net::UnixStream::connect(p).await?;
                let (r, w) = s.into_split();
                (Box::new(r), Box::new(w))
            }
        };
        let pending: Pending = Arc::default();
        let p2 = pending.clone();
        let reader = tokio::spawn(async move {
            let mut fr = FramedRead::new(r, frame::rsp_codec());
            while let Some(Ok(f)) = fr.next().await {
                let tx = p2
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&f.header.id);
                if let Some(tx) = tx {
                    let _ = tx.send((f.header, f.payload));
                }
            }
            p2.lock().unwrap_or_else(|e| e.into_inner()).clear();
        });
        Ok(Client {
            writer: tokio::sync::Mutex::new(FramedWrite::new(w, frame::req_codec())),
            pending,
            next_id: AtomicU32::new(1),
            reader,
        })
    }

    /// Sends `hdr` (its id is replaced; WRITE and data_length are set from
    /// `payload` when it is non-empty) and waits for the answer, whatever
    /// its result.
    ///
    /// # Errors
    ///
    /// Transport errors.
    pub async fn raw(&self, mut hdr: Req, payload: Bytes) -> Result<(Rsp, Bytes), ClientError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        hdr.id = id;
        if !payload.is_empty() {
            hdr.flags |= flags::WRITE;
            hdr.data_length = payload.len() as u32;
        }
        let payload = if hdr.flags & flags::WRITE != 0 {
            payload
        } else {
            Bytes::new()
        };
        let (tx, rx) = oneshot::channel();
        self.pending
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, tx);
        {
            let mut w = self.writer.lock().await;
            if let Err(e) = w.send(Frame::new(hdr, payload)).await {
                self.pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .remove(&id);
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
    pub async fn call(&self, hdr: Req, payload: Bytes) -> Result<(Rsp, Bytes), ClientError> {
        let (h, p) = self.raw(hdr, payload).await?;
        match h.result() {
            res::SUCCESS => Ok((h, p)),
            r => Err(ClientError::Result(r)),
        }
    }

    /// MAKE_FS with the plain store.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn make_fs(&self, copies: u8, block_size_shift: u8) -> Result<(), ClientError> {
        let mut h = req(op::MAKE_FS);
        h.set_u64(24, crate::daemon::cluster::now_ctime())
            .set_u8(32, copies)
            .set_u16(34, 0x0004)
            .set_u8(44, block_size_shift);
        self.call(h, Bytes::from_static(b"plain\0"))
            .await
            .map(|_| ())
    }

    /// NEW_VDI; returns the vid.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn new_vdi(&self, name: &str, size: u64) -> Result<u32, ClientError> {
        let mut h = req(op::NEW_VDI);
        h.set_u64(16, size);
        let (r, _) = self.call(h, name_buf(name, "", false).into()).await?;
        Ok(r.u32_at(24))
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
        let mut h = req(op::NEW_VDI);
        h.set_u32(24, vid).set_u32(32, 1);
        let (r, _) = self.call(h, name_buf(name, "", false).into()).await?;
        Ok((vid, r.u32_at(24)))
    }

    /// Clones snapshot `base_vid` as `name`; returns the new vid.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn clone_vdi(&self, base_vid: u32, name: &str) -> Result<u32, ClientError> {
        let mut h = req(op::NEW_VDI);
        h.set_u32(24, base_vid);
        let (r, _) = self.call(h, name_buf(name, "", false).into()).await?;
        Ok(r.u32_at(24))
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
        let mut h = req(op::GET_VDI_INFO);
        h.set_u32(32, snapid);
        let (r, _) = self.call(h, name_buf(name, tag, true).into()).await?;
        Ok(r.u32_at(24))
    }

    /// LOCK_VDI of type `ty` (0 normal, 1 shared); returns the vid.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn lock_vdi(&self, name: &str, ty: u32) -> Result<u32, ClientError> {
        let mut h = req(op::LOCK_VDI);
        h.set_u32(36, ty);
        let (r, _) = self.call(h, name_buf(name, "", true).into()).await?;
        Ok(r.u32_at(24))
    }

    /// RELEASE_VDI.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn release_vdi(&self, vid: u32) -> Result<(), ClientError> {
        let mut h = req(op::RELEASE_VDI);
        h.set_u32(24, vid);
        self.call(h, Bytes::new()).await.map(|_| ())
    }

    /// DEL_VDI.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn del_vdi(&self, name: &str, tag: &str, snapid: u32) -> Result<(), ClientError> {
        let mut h = req(op::DEL_VDI);
        h.set_u32(32, snapid);
        self.call(h, name_buf(name, tag, true).into())
            .await
            .map(|_| ())
    }

    /// READ_OBJ.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn read_obj(&self, oid: u64, offset: u32, len: u32) -> Result<Bytes, ClientError> {
        let mut h = req(op::READ_OBJ);
        h.data_length = len;
        h.set_u64(16, oid).set_u32(40, offset);
        Ok(self.call(h, Bytes::new()).await?.1)
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
        let mut h = req(op::WRITE_OBJ);
        h.set_u64(16, oid).set_u32(40, offset);
        self.call(h, data.into()).await.map(|_| ())
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
        let mut h = req(op::CREATE_AND_WRITE_OBJ);
        h.set_u64(16, oid).set_u32(40, offset);
        if let Some(c) = cow {
            h.flags |= flags::COW;
            h.set_u64(24, c);
        }
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
        let osz = 1u64 << shift;
        let mut done = 0usize;
        while done < data.len() {
            let pos = offset + done as u64;
            let idx = (pos / osz) as u32;
            let inoff = pos % osz;
            let n = ((osz - inoff) as usize).min(data.len() - done);
            let chunk = Bytes::copy_from_slice(&data[done..done + n]);
            let owner = self.index_entry(vid, idx).await?;
            let oid = Oid::data(vid, idx).0;
            if owner == vid {
                self.write_obj(oid, inoff as u32, chunk).await?;
            } else {
                let cow = (owner != 0).then(|| Oid::data(owner, idx).0);
                self.create_and_write_obj(oid, cow, inoff as u32, chunk)
                    .await?;
                let ioff = crate::proto::oid::SD_INODE_DATA_VDI_ID_OFFSET as u32 + 4 * idx;
                self.write_obj(Oid::inode(vid).0, ioff, vid.to_le_bytes().to_vec())
                    .await?;
            }
            done += n;
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
        let osz = 1u64 << shift;
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let pos = offset + out.len() as u64;
            let idx = (pos / osz) as u32;
            let inoff = pos % osz;
            let n = ((osz - inoff) as usize).min(len - out.len());
            let owner = self.index_entry(vid, idx).await?;
            if owner == 0 {
                out.resize(out.len() + n, 0);
            } else {
                let b = self
                    .read_obj(Oid::data(owner, idx).0, inoff as u32, n as u32)
                    .await?;
                out.extend_from_slice(&b);
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
        let b = self.read_obj(Oid::inode(vid).0, 555, 1).await?;
        Ok(b.first().copied().unwrap_or(22))
    }

    /// `data_vdi_id[idx]` of VDI `vid`.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn index_entry(&self, vid: u32, idx: u32) -> Result<u32, ClientError> {
        let off = crate::proto::oid::SD_INODE_DATA_VDI_ID_OFFSET as u32 + 4 * idx;
        let b = self.read_obj(Oid::inode(vid).0, off, 4).await?;
        Ok(u32::from_le_bytes(
            b[..4].try_into().map_err(|_| ClientError::Closed)?,
        ))
    }

    /// SHUTDOWN.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub async fn shutdown(&self) -> Result<(), ClientError> {
        self.call(req(op::SHUTDOWN), Bytes::new()).await.map(|_| ())
    }
}
