//! The dog's only contact with the wire: requests are typed ops from
//! [`crate::proto::ops`] turned into [`ReqHeader`]s, answers are
//! [`RspHeader`]s whose union is read through the typed response arms, and
//! payloads are encoded/decoded with the `proto` payload types. No byte
//! offsets live here or in the verbs.

use bytes::Bytes;
use sdwire::Wire;

use super::DogError;
use crate::payload::Payload;
use crate::proto::{
    AdminOp, ClientOp, HashRsp, NodeRsp, ReqFlags, ReqHeader, Request, RspArm, RspHeader, VdiRsp,
};
use crate::{rsp_arm, Client, ClientError};

/// A client-protocol request header: `op`'s opcode and union arm, `flags`
/// and `data_length` (the reply size, or the payload size with WRITE).
pub(crate) fn client(op: ClientOp, flags: ReqFlags, len: u32) -> ReqHeader {
    Request::Client(op).to_header(flags, len)
}

/// An internal (admin) request header; see [`client`].
pub(crate) fn admin(op: AdminOp, flags: ReqFlags, len: u32) -> ReqHeader {
    Request::Admin(op).to_header(flags, len)
}

/// The `vdi` arm of an answer (zero for other kinds).
pub(crate) fn vdi_rsp(r: &RspHeader) -> VdiRsp {
    crate::vdi_rsp(r)
}

/// The `node` arm of an answer (zero for other kinds).
pub(crate) fn node_rsp(r: &RspHeader) -> NodeRsp {
    match rsp_arm(r) {
        RspArm::Node(n) => n,
        _ => NodeRsp::default(),
    }
}

/// The `hash` arm of an answer (zero for other kinds).
pub(crate) fn hash_rsp(r: &RspHeader) -> HashRsp {
    match rsp_arm(r) {
        RspArm::Hash(h) => h,
        _ => HashRsp::default(),
    }
}

/// The wire bytes of a payload value.
pub(crate) fn encode<T: Wire>(v: &T) -> Bytes {
    sdwire::to_vec(v, 0)
        .expect("encoding into a Vec cannot run out of room")
        .into()
}

/// Decodes a payload value from the start of `b`.
pub(crate) fn decode<T: Wire>(b: &[u8], what: &str) -> Result<T, DogError> {
    sdwire::from_slice(b, 0).map_err(|e| DogError::Other(format!("{what}: bad reply: {e}")))
}

pub(crate) use crate::proto::inode::IndexRun;

/// The wire bytes of an index run of `vids`.
pub(crate) fn index_run_bytes(vids: Vec<u32>) -> Bytes {
    encode(&IndexRun::new(vids))
}

/// Sends one request (WRITE and data_length are filled from a non-empty
/// payload, which may be a file range sent with sendfile) and returns the
/// answer whatever its result.
pub(crate) async fn send(
    c: &Client,
    h: ReqHeader,
    payload: impl Into<Payload>,
) -> Result<(RspHeader, Bytes), ClientError> {
    c.raw_payload(h, payload.into()).await
}
