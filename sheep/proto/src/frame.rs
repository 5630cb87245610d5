//! How sheep frames the sheepdog protocol: the header types are
//! [`ReqHeader`] / [`RspHeader`] from this crate (their
//! [`FrameHeader`](sdwire::codec::FrameHeader) impls say how many payload
//! bytes follow), read and written by [`FrameCodec`] with the daemon's
//! payload limit. Nothing here knows a byte offset of the protocol.

use sdwire::codec::FrameCodec;

use crate::{ReqHeader, RspHeader};

/// Largest payload the daemon accepts or answers with (32 MiB). The largest
/// legitimate message is a full inode, 12,587,576 bytes.
pub const MAX_PAYLOAD: usize = 32 << 20;

/// Codec for requests (server side decode, client side encode).
pub fn req_codec() -> FrameCodec<ReqHeader> {
    FrameCodec::new(0, MAX_PAYLOAD)
}

/// Codec for responses (server side encode, client side decode).
pub fn rsp_codec() -> FrameCodec<RspHeader> {
    FrameCodec::new(0, MAX_PAYLOAD)
}

/// The request header, under the name existing callers use.
pub type Req = ReqHeader;

/// The response header, under the name existing callers use.
pub type Rsp = RspHeader;
