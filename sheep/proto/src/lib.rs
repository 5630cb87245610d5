//! # sheep-proto
//!
//! Every sheepdog on-wire structure, defined with `#[derive(Wire)]`: the
//! bottom layer of sheep, shared by the client library, `dog` and the
//! daemon. No I/O happens here.
//!
//! One module per structure family:
//! * [`header`]: the 48-byte [`ReqHeader`] / [`RspHeader`], request flags
//!   ([`ReqFlags`]), cluster flags ([`ClusterFlags`]) and protocol versions;
//! * [`arms`]: the header union arms ([`ObjReq`], [`VdiReq`], ... and the
//!   response arms [`ObjRsp`], [`VdiRsp`], ...);
//! * [`result`]: result codes ([`SdResult`]);
//! * [`ops`]: the three opcode tables [`ClientOp`], [`PeerOp`], [`AdminOp`],
//!   [`classify`] and [`decode_request`];
//! * [`node`]: [`NodeId`] and [`SdNode`];
//! * [`cluster_info`]: [`ClusterInfo`], [`EpochLog`], [`VdiState`], [`VdiAttr`], ...;
//! * [`inode`]: [`InodeHeader`] and the full [`Inode`];
//! * [`payload`]: typed request/response payloads by opcode;
//! * [`oid`]: object ids;
//! * [`frame`]: the frame codecs (header + `data_length` payload) and the
//!   payload limit;
//! * [`time`]: sheepdog's timestamp encodings;
//! * [`cluster`]: the cluster protocol (driver records, join message and
//!   reply, cluster-wide notices), versioned on its own
//!   ([`CLUSTER_COMPAT`]..=[`CLUSTER_VERSION`]).
//! * [`nbd`]: the NBD protocol sheep serves with `--nbd` (big-endian).
//!
//! Byte order is little-endian everywhere (what the C sheep writes on
//! x86-64), except [`nbd`], which is big-endian like NBD itself.

#![warn(missing_docs)]

pub mod arms;
pub mod cluster;
pub mod cluster_info;
pub mod frame;
pub mod header;
pub mod inode;
pub mod nbd;
pub mod node;
pub mod oid;
pub mod ops;
pub mod payload;
pub mod result;
pub mod spec;
pub mod time;

pub use arms::{
    ClusterDefaultRsp, ClusterReq, ForwReq, HashRsp, InodeCoherenceReq, NoArgs, NoRsp, NodeRsp,
    ObjReq, ObjRsp, RawArgs, RefReq, RspArm, RspKind, VdiReq, VdiRsp, VdiStateCheckpointReq,
    VdiStateReq,
};
pub use cluster::{CLUSTER_COMPAT, CLUSTER_VERSION};
pub use cluster_info::{
    ClusterInfo, ClusterInfoHeader, EpochLog, LogLevel, RecoveryState, RecoveryThrottling, SdStat,
    SdStatus, SheepdogConfig, VdiAttr, VdiState,
};
pub use header::{
    accepts_version, proto_ver_for, ClusterFlags, ReqFlags, ReqHeader, RspHeader, SD_LISTEN_PORT,
    SD_PROTO_VER, SD_SHEEP_PROTO_VER,
};
pub use inode::{Inode, InodeHeader};
pub use node::{NodeId, SdNode};
pub use oid::Oid;
pub use ops::{
    classify, decode_op, decode_request, AdminHandler, AdminOp, ClientHandler, ClientOp,
    PeerHandler, PeerOp, Protocol, Request, RequestError, PEER_COMPAT, PEER_CRC_VERSION,
    PEER_VERSION,
};
pub use payload::{decode_req_payload, decode_rsp_payload, ReqPayload, RspPayload};
pub use result::SdResult;
