//! A `tokio_util::codec` for "fixed header + length field + payload" frames.
//!
//! The header type says how many payload bytes follow it
//! ([`FrameHeader::payload_len`]); the codec waits for the whole frame,
//! refuses frames above a maximum payload size before allocating anything
//! for them, and hands the payload out as `Bytes` split off the read buffer
//! (no copy).
//!
//! ```
//! use bytes::BytesMut;
//! use sdwire::codec::{Frame, FrameCodec, FrameHeader};
//! use sdwire::Wire;
//! use tokio_util::codec::{Decoder, Encoder};
//!
//! #[derive(Wire, Debug, Clone, PartialEq)]
//! #[wire(le, size = 8)]
//! struct Hdr { opcode: u32, len: u32 }
//! impl FrameHeader for Hdr {
//!     fn payload_len(&self) -> u64 { u64::from(self.len) }
//! }
//!
//! let mut codec = FrameCodec::<Hdr>::new(0, 1 << 20);
//! let mut wire = BytesMut::new();
//! codec.encode(Frame::new(Hdr { opcode: 1, len: 3 }, &b"abc"[..]), &mut wire).unwrap();
//! // Fed one byte at a time, it answers Ok(None) until the frame is whole.
//! let mut input = BytesMut::new();
//! let mut out = None;
//! for b in wire.iter() {
//!     assert!(out.is_none());
//!     input.extend_from_slice(&[*b]);
//!     out = codec.decode(&mut input).unwrap();
//! }
//! let frame = out.unwrap();
//! assert_eq!(frame.header.opcode, 1);
//! assert_eq!(&frame.payload[..], b"abc");
//! ```

use crate::{DecodeError, EncodeError, Version, Wire};
use bytes::{Buf, Bytes, BytesMut};
use core::marker::PhantomData;
use tokio_util::codec::{Decoder, Encoder};

/// A fixed-size header that announces the length of the payload after it.
///
/// Derived for a struct with a `#[wire(payload_len)]` field (together with
/// [`FillPayloadLen`]); write it by hand when the length depends on more
/// than one field (NBD: only a WRITE request carries its `length` bytes).
pub trait FrameHeader: Wire {
    /// Payload bytes that follow this header on the wire.
    fn payload_len(&self) -> u64;
}

/// The empty header: no bytes, no payload. It is the header type of
/// [`FrameWriter::untyped`], which writes frames of other header types.
impl FrameHeader for () {
    fn payload_len(&self) -> u64 {
        0
    }
}

/// A header whose length field can be set from the payload, so a sender
/// never computes it by hand: [`Frame::filled`],
/// [`FrameWriter::send_filled`]. Derived with `#[wire(payload_len)]`.
pub trait FillPayloadLen: FrameHeader {
    /// Sets the length field to `len`.
    ///
    /// # Errors
    /// [`EncodeErrorKind::LengthOverflow`](crate::EncodeErrorKind::LengthOverflow)
    /// when `len` does not fit the field.
    fn set_payload_len(&mut self, len: usize) -> Result<(), EncodeError>;
}

/// One frame: a header and its payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame<H> {
    /// The decoded header.
    pub header: H,
    /// The payload (exactly `header.payload_len()` bytes).
    pub payload: Bytes,
}

impl<H> Frame<H> {
    /// A frame from a header and payload.
    pub fn new(header: H, payload: impl Into<Bytes>) -> Self {
        Frame {
            header,
            payload: payload.into(),
        }
    }

    /// A frame whose header's length field is set from the payload.
    ///
    /// ```
    /// use sdwire::codec::{FrameHeader, Frame};
    /// use sdwire::Wire;
    ///
    /// #[derive(Wire, Debug, Clone, PartialEq)]
    /// #[wire(be)]
    /// struct OptHeader {
    ///     #[wire(magic = 0x49484156454F5054)]
    ///     magic: u64,
    ///     option: u32,
    ///     #[wire(payload_len)]   // derives FrameHeader + FillPayloadLen
    ///     length: u32,
    /// }
    ///
    /// let f = Frame::filled(OptHeader { magic: 0, option: 7, length: 0 }, &b"disk"[..]).unwrap();
    /// assert_eq!((f.header.length, f.header.payload_len()), (4, 4));
    /// ```
    ///
    /// # Errors
    /// The payload's length does not fit the header's length field.
    pub fn filled(mut header: H, payload: impl Into<Bytes>) -> Result<Self, EncodeError>
    where
        H: FillPayloadLen,
    {
        let payload = payload.into();
        header.set_payload_len(payload.len())?;
        Ok(Frame { header, payload })
    }
}

/// Errors of [`FrameCodec`]. After any of them the stream is out of sync and
/// the connection should be closed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The transport failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// The header did not decode.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// The header did not encode.
    #[error("{0}")]
    Encode(#[from] EncodeError),
    /// The header announced a payload above the codec's maximum.
    #[error("frame payload of {len} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// Announced payload length.
        len: u64,
        /// The codec's maximum.
        max: usize,
    },
    /// The payload length on an outgoing frame does not match its header.
    #[error("frame payload is {actual} bytes but its header announces {announced}")]
    LengthMismatch {
        /// What the header says.
        announced: u64,
        /// What the payload is.
        actual: usize,
    },
}

/// Decoder/Encoder of [`Frame`]s with header type `H` spoken at one version.
#[derive(Debug)]
pub struct FrameCodec<H> {
    version: Version,
    max_payload: usize,
    pending: Option<(H, usize)>,
    _h: PhantomData<fn() -> H>,
}

impl<H: FrameHeader> FrameCodec<H> {
    const HEADER_SIZE: usize = match H::FIXED_SIZE {
        Some(n) => n,
        None => panic!("FrameCodec needs a header type with a fixed size"),
    };

    /// A codec speaking `version`, refusing payloads above `max_payload` bytes.
    pub fn new(version: Version, max_payload: usize) -> Self {
        let _ = Self::HEADER_SIZE;
        FrameCodec {
            version,
            max_payload,
            pending: None,
            _h: PhantomData,
        }
    }

    /// The version used for headers.
    pub fn version(&self) -> Version {
        self.version
    }

    /// Changes the version used for the following headers.
    pub fn set_version(&mut self, version: Version) {
        self.version = version;
    }

    /// The maximum payload size.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }
}

impl<H: FrameHeader> Decoder for FrameCodec<H> {
    type Item = Frame<H>;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame<H>>, FrameError> {
        let hs = Self::HEADER_SIZE;
        if self.pending.is_none() {
            if src.len() < hs {
                src.reserve(hs - src.len());
                return Ok(None);
            }
            let header = H::decode(&mut &src[..hs], self.version)?;
            let len = header.payload_len();
            if len > self.max_payload as u64 {
                return Err(FrameError::TooLarge {
                    len,
                    max: self.max_payload,
                });
            }
            src.advance(hs);
            // Checked against max_payload (a usize) just above.
            self.pending = Some((header, len as usize));
        }
        let need = self.pending.as_ref().map_or(0, |p| p.1);
        if src.len() < need {
            src.reserve(need - src.len());
            return Ok(None);
        }
        let (header, len) = self.pending.take().expect("pending header set above");
        let payload = src.split_to(len).freeze();
        Ok(Some(Frame { header, payload }))
    }

    /// At end of stream: a frame cut anywhere (even right after its header,
    /// when no payload byte is buffered yet) is an error, not a clean end.
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Frame<H>>, FrameError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() && self.pending.is_none() => Ok(None),
            None => Err(FrameError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "stream ended in the middle of a frame",
            ))),
        }
    }
}

impl<H: FrameHeader> Encoder<Frame<H>> for FrameCodec<H> {
    type Error = FrameError;

    fn encode(&mut self, frame: Frame<H>, dst: &mut BytesMut) -> Result<(), FrameError> {
        let announced = frame.header.payload_len();
        if announced != frame.payload.len() as u64 {
            return Err(FrameError::LengthMismatch {
                announced,
                actual: frame.payload.len(),
            });
        }
        dst.reserve(Self::HEADER_SIZE + frame.payload.len());
        frame.header.encode(dst, self.version)?;
        dst.extend_from_slice(&frame.payload);
        Ok(())
    }
}

/// Writes [`Frame`]s to an [`AsyncWrite`](tokio::io::AsyncWrite) without copying large payloads.
///
/// A [`FrameCodec`] behind `FramedWrite` copies every payload into its
/// write buffer. `FrameWriter` copies only headers and small payloads
/// (below [`copy_limit`](Self::with_copy_limit), 64 KiB by default) into its
/// buffer, so consecutive small frames still leave in one write; a large
/// payload is written straight from its `Bytes`, together with whatever is
/// buffered before it, as one vectored write.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use sdwire::codec::{Frame, FrameHeader, FrameWriter};
/// use sdwire::Wire;
///
/// #[derive(Wire, Debug, Clone, PartialEq)]
/// #[wire(le, size = 8)]
/// struct Hdr { opcode: u32, len: u32 }
/// impl FrameHeader for Hdr {
///     fn payload_len(&self) -> u64 { u64::from(self.len) }
/// }
///
/// let mut w = FrameWriter::<_, Hdr>::new(Vec::new(), 0);
/// w.send(Frame::new(Hdr { opcode: 1, len: 3 }, &b"abc"[..])).await.unwrap();
/// w.send(Frame::new(Hdr { opcode: 2, len: 0 }, &b""[..])).await.unwrap();
/// assert_eq!(w.buffered(), 19); // small frames wait for flush
/// w.flush().await.unwrap();
/// let out = w.into_inner();
/// assert_eq!(out.len(), 19);
/// assert_eq!(&out[8..11], b"abc");
/// # });
/// ```
#[derive(Debug)]
pub struct FrameWriter<W, H = ()> {
    io: W,
    buf: BytesMut,
    version: Version,
    copy_limit: usize,
    _h: PhantomData<fn(H)>,
}

impl<W: tokio::io::AsyncWrite + Unpin> FrameWriter<W, ()> {
    /// A writer with no main header type, for protocols that send several
    /// (use [`send_frame`](Self::send_frame), [`send_filled`](Self::send_filled),
    /// [`send_message`](Self::send_message), [`send_with_payload`](Self::send_with_payload)).
    pub fn untyped(io: W, version: Version) -> Self {
        FrameWriter::new(io, version)
    }
}

impl<W, H> FrameWriter<W, H>
where
    W: tokio::io::AsyncWrite + Unpin,
    H: FrameHeader,
{
    const HEADER_SIZE: usize = FrameCodec::<H>::HEADER_SIZE;

    /// A writer of headers spoken at `version`.
    pub fn new(io: W, version: Version) -> Self {
        let _ = Self::HEADER_SIZE;
        FrameWriter {
            io,
            buf: BytesMut::with_capacity(8 << 10),
            version,
            copy_limit: 64 << 10,
            _h: PhantomData,
        }
    }

    /// Payloads of at least `n` bytes are written without copying; smaller
    /// ones are buffered behind their header.
    pub fn with_copy_limit(mut self, n: usize) -> Self {
        self.copy_limit = n;
        self
    }

    /// Changes the version used for the following headers.
    pub fn set_version(&mut self, version: Version) {
        self.version = version;
    }

    /// Bytes buffered and not yet written.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        &self.io
    }

    /// The underlying writer, mutably: for a payload the caller writes
    /// itself after [`send_header`](Self::send_header).
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.io
    }

    /// The underlying writer; buffered bytes are dropped (flush first).
    pub fn into_inner(self) -> W {
        self.io
    }

    /// Queues `frame`, writing out at once if its payload is large or the
    /// buffer has grown past the copy limit. Call [`flush`](Self::flush)
    /// when no more frames are ready.
    ///
    /// # Errors
    ///
    /// [`FrameError::LengthMismatch`] if the header does not announce the
    /// payload's length, an encode error of the header, or an I/O error.
    pub async fn send(&mut self, frame: Frame<H>) -> Result<(), FrameError> {
        self.send_frame(frame).await
    }

    /// [`send`](Self::send) for a frame of any header type, on the same
    /// stream: a protocol whose phases or directions use different headers
    /// (a handshake, then requests; requests in, replies out) needs one
    /// writer, not one per header type.
    ///
    /// # Errors
    ///
    /// As [`send`](Self::send).
    pub async fn send_frame<H2: FrameHeader>(
        &mut self,
        frame: Frame<H2>,
    ) -> Result<(), FrameError> {
        let announced = frame.header.payload_len();
        if announced != frame.payload.len() as u64 {
            return Err(FrameError::LengthMismatch {
                announced,
                actual: frame.payload.len(),
            });
        }
        self.write_parts(&frame.header, frame.payload).await
    }

    /// Sets `header`'s length field from `payload` ([`FillPayloadLen`]) and
    /// queues the frame, so the length is never computed by hand.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use sdwire::codec::FrameWriter;
    /// use sdwire::Wire;
    ///
    /// #[derive(Wire, Debug)]
    /// #[wire(be, packed)]
    /// struct OptReply {
    ///     #[wire(magic = 0x3e889045565a9)]
    ///     magic: u64,
    ///     option: u32,
    ///     reply: u32,
    ///     #[wire(payload_len)]
    ///     length: u32,
    /// }
    ///
    /// let mut w = FrameWriter::untyped(Vec::new(), 0);
    /// w.send_filled(OptReply { magic: 0, option: 3, reply: 2, length: 0 }, &b"disk"[..]).await.unwrap();
    /// w.flush().await.unwrap();
    /// let out = w.into_inner();
    /// assert_eq!(&out[12..20], &[0, 0, 0, 2, 0, 0, 0, 4]); // reply type, then the length filled in
    /// assert_eq!(&out[20..], b"disk");
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// The payload does not fit the length field, an encode error of the
    /// header, or an I/O error.
    pub async fn send_filled<H2: FillPayloadLen>(
        &mut self,
        header: H2,
        payload: impl Into<Bytes>,
    ) -> Result<(), FrameError> {
        let frame = Frame::filled(header, payload)?;
        self.send_frame(frame).await
    }

    /// Queues any `Wire` value (a greeting, a reply without payload).
    ///
    /// # Errors
    ///
    /// An encode error of the value, or an I/O error.
    pub async fn send_message<M: Wire>(&mut self, msg: &M) -> Result<(), FrameError> {
        self.write_parts(msg, Bytes::new()).await
    }

    /// Queues any `Wire` value followed by `payload`, whose length the
    /// value does not carry because the peer knows it from elsewhere (NBD's
    /// READ reply: as many bytes as the request asked for). A large payload
    /// is not copied, as with [`send`](Self::send).
    ///
    /// # Errors
    ///
    /// An encode error of the value, or an I/O error.
    pub async fn send_with_payload<M: Wire>(
        &mut self,
        head: &M,
        payload: Bytes,
    ) -> Result<(), FrameError> {
        self.write_parts(head, payload).await
    }

    async fn write_parts<M: Wire>(&mut self, head: &M, payload: Bytes) -> Result<(), FrameError> {
        use bytes::Buf as _;
        use tokio::io::AsyncWriteExt as _;
        let mark = self.buf.len();
        self.buf.reserve(head.wire_size(self.version));
        if let Err(e) = head.encode(&mut self.buf, self.version) {
            self.buf.truncate(mark);
            return Err(e.into());
        }
        if payload.len() >= self.copy_limit {
            let mut out = (&mut self.buf).chain(payload);
            self.io.write_all_buf(&mut out).await?;
            self.buf.clear();
        } else {
            self.buf.extend_from_slice(&payload);
            if self.buf.len() >= self.copy_limit {
                self.io.write_all_buf(&mut self.buf).await?;
                self.buf.clear();
            }
        }
        Ok(())
    }

    /// Writes out everything buffered and then `header`, whose payload the
    /// caller writes next to [`get_mut`](Self::get_mut), exactly
    /// `header.payload_len()` bytes, before any other frame: for payloads
    /// that do not pass through memory (e.g. `sendfile(2)` from a file).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// use sdwire::codec::{Frame, FrameHeader, FrameWriter};
    /// use sdwire::Wire;
    /// use tokio::io::AsyncWriteExt;
    ///
    /// #[derive(Wire, Debug, Clone, PartialEq)]
    /// #[wire(le, size = 8)]
    /// struct Hdr { opcode: u32, len: u32 }
    /// impl FrameHeader for Hdr {
    ///     fn payload_len(&self) -> u64 { u64::from(self.len) }
    /// }
    ///
    /// let mut w = FrameWriter::<_, Hdr>::new(Vec::new(), 0);
    /// w.send(Frame::new(Hdr { opcode: 1, len: 0 }, &b""[..])).await.unwrap();
    /// w.send_header(Hdr { opcode: 2, len: 4 }).await.unwrap();
    /// assert_eq!(w.buffered(), 0); // both headers are out, in order
    /// w.get_mut().write_all(b"data").await.unwrap();
    /// let out = w.into_inner();
    /// assert_eq!(out.len(), 20);
    /// assert_eq!(&out[8..12], &2u32.to_le_bytes());
    /// assert_eq!(&out[16..], b"data");
    /// # });
    /// ```
    ///
    /// # Errors
    ///
    /// An encode error of the header, or an I/O error.
    pub async fn send_header(&mut self, header: H) -> Result<(), FrameError> {
        use tokio::io::AsyncWriteExt as _;
        let mark = self.buf.len();
        self.buf.reserve(Self::HEADER_SIZE);
        if let Err(e) = header.encode(&mut self.buf, self.version) {
            self.buf.truncate(mark);
            return Err(e.into());
        }
        self.io.write_all_buf(&mut self.buf).await?;
        self.buf.clear();
        Ok(())
    }

    /// Writes out everything buffered and flushes the underlying writer.
    ///
    /// # Errors
    ///
    /// I/O errors of the underlying writer.
    pub async fn flush(&mut self) -> std::io::Result<()> {
        use tokio::io::AsyncWriteExt as _;
        if !self.buf.is_empty() {
            self.io.write_all_buf(&mut self.buf).await?;
            self.buf.clear();
        }
        self.io.flush().await
    }
}

/// Decoder of one fixed-size `Wire` message type `T` with no length field
/// (a greeting, a flags word), and encoder of any `Wire` value.
///
/// Protocols often change framing between phases: NBD's handshake is fixed
/// messages, then option frames with a length, then transmission requests.
/// Keep one [`Framed`](tokio_util::codec::Framed) (or `FramedRead`) and
/// swap its codec at the phase boundary with `map_codec` (`map_decoder`):
/// bytes the peer already sent for the next phase stay in the read buffer
/// and are decoded by the new codec.
///
/// ```
/// use futures::{SinkExt, StreamExt};
/// use sdwire::codec::{FrameCodec, MessageCodec};
/// use sdwire::Wire;
/// use tokio_util::codec::Framed;
///
/// #[derive(Wire, Debug, Clone, PartialEq)]
/// #[wire(be)]
/// struct ClientFlags { flags: u32 }
///
/// #[derive(Wire, Debug, Clone, PartialEq)]
/// #[wire(be)]
/// struct OptHeader { option: u32, #[wire(payload_len)] length: u32 }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (client, server) = tokio::io::duplex(256);
/// let mut client = Framed::new(client, MessageCodec::<ClientFlags>::new(0));
/// // The client sends its flags and, at once, an option frame.
/// client.send(ClientFlags { flags: 1 }).await.unwrap();
/// client.send(OptHeader { option: 1, length: 4 }).await.unwrap();
/// client.send(*b"disk").await.unwrap();
///
/// let mut server = Framed::new(server, MessageCodec::<ClientFlags>::new(0));
/// assert_eq!(server.next().await.unwrap().unwrap(), ClientFlags { flags: 1 });
/// // Phase switch: the option frame's bytes are already buffered.
/// let mut server = server.map_codec(|_| FrameCodec::<OptHeader>::new(0, 4096));
/// let opt = server.next().await.unwrap().unwrap();
/// assert_eq!((opt.header.option, &opt.payload[..]), (1, &b"disk"[..]));
/// # });
/// ```
#[derive(Debug)]
pub struct MessageCodec<T> {
    version: Version,
    _t: PhantomData<fn() -> T>,
}

impl<T: Wire> MessageCodec<T> {
    const SIZE: usize = match T::FIXED_SIZE {
        Some(n) => n,
        None => panic!("MessageCodec decodes a type with a fixed size"),
    };

    /// A codec speaking `version`.
    pub fn new(version: Version) -> Self {
        let _ = Self::SIZE;
        MessageCodec {
            version,
            _t: PhantomData,
        }
    }

    /// The version used.
    pub fn version(&self) -> Version {
        self.version
    }
}

impl<T: Wire> Decoder for MessageCodec<T> {
    type Item = T;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<T>, FrameError> {
        let n = Self::SIZE;
        if src.len() < n {
            src.reserve(n - src.len());
            return Ok(None);
        }
        let v = T::decode(&mut &src[..n], self.version)?;
        src.advance(n);
        Ok(Some(v))
    }
}

impl<T: Wire, M: Wire> Encoder<M> for MessageCodec<T> {
    type Error = FrameError;

    fn encode(&mut self, msg: M, dst: &mut BytesMut) -> Result<(), FrameError> {
        dst.reserve(msg.wire_size(self.version));
        msg.encode(dst, self.version)?;
        Ok(())
    }
}
