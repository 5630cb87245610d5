//! From a decoded request to a reply: version check, op lookup, format
//! check, handler, and the response rules (fact sheet §1, §8).

use std::sync::Arc;

use crate::net::frame::{op, res, ver, Rsp};
use crate::{admin, gateway, peer, vdi};

use super::{Reply, Request, State};

/// How an opcode is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Client-facing object I/O.
    Gateway,
    /// Local-store object I/O with epoch checks.
    Peer,
    /// Node / cluster administration.
    Admin,
    /// VDI operations.
    Vdi,
}

/// The handler family of `opcode` and whether it runs before format
/// ("force"), or `None` when the daemon has no handler for it.
pub fn lookup(opcode: u8) -> Option<(Kind, bool)> {
    use Kind::*;
    Some(match opcode {
        op::CREATE_AND_WRITE_OBJ
        | op::READ_OBJ
        | op::WRITE_OBJ
        | op::REMOVE_OBJ
        | op::DISCARD_OBJ
        | op::FLUSH_VDI
        | op::GET_HASH => (Gateway, false),
        op::EXIST => (Gateway, true),
        op::CREATE_AND_WRITE_PEER | op::READ_PEER | op::WRITE_PEER | op::REMOVE_PEER => {
            (Peer, false)
        }
        op::GET_OBJ_LIST | op::GET_EPOCH => (Peer, false),
        op::NEW_VDI | op::LOCK_VDI | op::RELEASE_VDI | op::GET_VDI_INFO | op::DEL_VDI => {
            (Vdi, false)
        }
        op::GET_VDI_ATTR => (Vdi, false),
        op::READ_VDIS | op::READ_DEL_VDIS => (Vdi, true),
        op::GET_CLUSTER_DEFAULT
        | op::GET_NODE_LIST
        | op::MAKE_FS
        | op::SHUTDOWN
        | op::STAT_CLUSTER
        | op::CLUSTER_INFO
        | op::KILL_NODE => (Admin, true),
        op::STAT_SHEEP | op::STAT_RECOVERY => (Admin, false),
        _ => return None,
    })
}

/// Whether `proto_ver` is acceptable for `opcode` (fact sheet §8).
pub fn version_ok(opcode: u8, proto_ver: u8) -> bool {
    if opcode >= 0x80 {
        proto_ver == ver::SD_SHEEP_PROTO_VER
    } else {
        proto_ver <= ver::SD_PROTO_VER
    }
}

/// Handles one request and builds the response header and payload.
pub async fn handle(st: &Arc<State>, req: Request) -> (Rsp, bytes::Bytes) {
    let h = req.hdr;
    let reply = if !version_ok(h.opcode, h.proto_ver) {
        Reply::code(res::VER_MISMATCH)
    } else {
        match lookup(h.opcode) {
            None => Reply::code(res::INVALID_PARMS),
            Some((_, false)) if st.format().is_none() => Reply::code(res::WAIT_FOR_FORMAT),
            Some((kind, _)) => {
                let st2 = st.clone();
                // A handler panic must not take the connection (or daemon)
                // down: run it as its own task and map a panic to an error.
                let task = tokio::spawn(async move {
                    match kind {
                        Kind::Gateway => gateway::handle(&st2, &req).await,
                        Kind::Peer => peer::handle(&st2, &req).await,
                        Kind::Admin => admin::handle(&st2, &req).await,
                        Kind::Vdi => vdi::ops::handle(&st2, &req).await,
                    }
                });
                match task.await {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(opcode = h.opcode, error = %e, "op handler failed");
                        Reply::code(res::SYSTEM_ERROR)
                    }
                }
            }
        }
    };
    finish(st, &h, reply)
}

/// Applies the response rules: proto_ver 0, echoed opcode and id, flags 0,
/// server epoch, no payload on errors, never more than asked for.
pub fn finish(st: &State, h: &crate::net::frame::Req, reply: Reply) -> (Rsp, bytes::Bytes) {
    let mut payload = reply.payload.clone();
    if reply.result() != res::SUCCESS {
        payload = bytes::Bytes::new();
    }
    if payload.len() > h.data_length as usize {
        payload.truncate(h.data_length as usize);
    }
    let rsp = Rsp {
        proto_ver: 0,
        opcode: h.opcode,
        flags: 0,
        epoch: st.epoch(),
        id: h.id,
        data_length: payload.len() as u32,
        body: reply.body,
    };
    (rsp, payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        assert!(version_ok(0x02, 0));
        assert!(version_ok(0x02, 1));
        assert!(version_ok(0x02, 2));
        assert!(!version_ok(0x02, 3));
        assert!(version_ok(0x82, 0x0a));
        assert!(!version_ok(0x82, 0));
        assert!(!version_ok(0x82, 0x0b));
    }

    #[test]
    fn unknown_opcodes() {
        assert!(lookup(0x00).is_none());
        assert!(lookup(0x7e).is_none());
        assert!(lookup(0x91).is_none());
        assert!(lookup(0xee).is_none());
        assert!(lookup(0xff).is_none());
        assert!(lookup(op::READ_OBJ).is_some());
    }
}
