//! Peer ops (CREATE_AND_WRITE/READ/WRITE/REMOVE_PEER, GET_OBJ_LIST,
//! GET_EPOCH): act on the local store only, under the epoch rules of fact
//! sheet §9.

use std::sync::Arc;

use crate::daemon::{Reply, Request, State};
use crate::gateway::{self, store_err, ObjArgs};
use crate::net::frame::{flags, op, res};

/// Applies the epoch rules to a peer request carrying `epoch`: an older
/// epoch answers OLD_NODE_VER at once; a newer one waits (at most the
/// configured park timeout) for this node to reach it, then NEW_NODE_VER.
pub async fn check_epoch(st: &State, epoch: u32) -> Result<(), u32> {
    let mine = st.epoch();
    if epoch < mine {
        return Err(res::OLD_NODE_VER);
    }
    if epoch > mine {
        let mut rx = st.epoch_tx.subscribe();
        let reached = tokio::time::timeout(st.cfg.park_timeout, async {
            rx.wait_for(|&e| e >= epoch).await.is_ok()
        })
        .await;
        if reached != Ok(true) {
            return Err(res::NEW_NODE_VER);
        }
    }
    Ok(())
}

/// Handles a peer op.
pub async fn handle(st: &Arc<State>, req: &Request) -> Reply {
    let h = &req.hdr;
    let a = ObjArgs::of(h);
    if a.oid.0 != 0 && h.flags & flags::RECOVERY == 0 {
        if let Err(c) = check_epoch(st, h.epoch).await {
            return Reply::code(c);
        }
    }
    match h.opcode {
        op::CREATE_AND_WRITE_PEER => {
            let cow = (h.flags & flags::COW != 0 && a.cow_oid != 0).then_some(a.cow_oid);
            gateway::create_and_write(st, a, req.payload.clone(), cow).await
        }
        op::READ_PEER => gateway::read(st, a, h.data_length as usize).await,
        op::WRITE_PEER => gateway::write(st, a, req.payload.clone()).await,
        op::REMOVE_PEER => gateway::remove(st, a.oid).await,
        op::GET_OBJ_LIST => {
            let s = st.store.clone();
            let list = tokio::task::spawn_blocking(move || s.list()).await;
            match list {
                Ok(Ok(oids)) => {
                    if oids.len() * 8 > h.data_length as usize {
                        return Reply::code(res::BUFFER_SMALL);
                    }
                    let mut b = Vec::with_capacity(oids.len() * 8);
                    for o in oids {
                        b.extend_from_slice(&o.to_le_bytes());
                    }
                    Reply::data(b)
                }
                Ok(Err(e)) => Reply::code(store_err(&e)),
                Err(_) => Reply::code(res::SYSTEM_ERROR),
            }
        }
        op::GET_EPOCH => {
            let c = crate::daemon::lock(&st.cluster);
            if !c.has_epoch(a.tgt_epoch) {
                return Reply::code(res::NO_OBJ);
            }
            if (h.data_length as usize) < crate::daemon::cluster::SD_NODE_SIZE {
                return Reply::code(res::BUFFER_SMALL);
            }
            Reply::data(c.node.sd_node().to_vec())
        }
        _ => Reply::code(res::INVALID_PARMS),
    }
}
