//! Peer ops (CREATE_AND_WRITE/READ/WRITE/REMOVE_PEER, GET_OBJ_LIST,
//! GET_EPOCH): act on the local store only, under the epoch rules of fact
//! sheet §9.

use crate::daemon::{lock, Ctx, Reply, State};
use crate::gateway::{self, cow_source, store_err, Via};
use crate::proto::payload::{NodeList, OidList};
use crate::proto::{ObjReq, Oid, ReqFlags, SdNode, SdResult};

/// Applies the epoch rules to a peer request carrying `epoch`: an older
/// epoch answers OLD_NODE_VER at once; a newer one waits (at most the
/// configured park timeout) for this node to reach it, then NEW_NODE_VER.
pub async fn check_epoch(st: &State, epoch: u32) -> Result<(), SdResult> {
    let mine = st.epoch();
    if epoch < mine {
        return Err(SdResult::OldNodeVer);
    }
    if epoch > mine {
        let mut rx = st.epoch_tx.subscribe();
        let reached = tokio::time::timeout(st.cfg.park_timeout, async {
            rx.wait_for(|&e| e >= epoch).await.is_ok()
        })
        .await;
        if reached != Ok(true) {
            return Err(SdResult::NewNodeVer);
        }
    }
    Ok(())
}

/// The epoch check of a peer request about an object (recovery requests
/// and requests without an oid skip it).
async fn epoch_ok(cx: &Ctx, a: &ObjReq) -> Result<(), SdResult> {
    if a.oid.0 != 0 && !cx.hdr.flags.contains(ReqFlags::RECOVERY) {
        check_epoch(&cx.st, cx.hdr.epoch).await?;
    }
    Ok(())
}

/// CREATE_AND_WRITE_PEER.
pub async fn create_and_write_peer(cx: &Ctx, a: ObjReq) -> Reply {
    if let Err(c) = epoch_ok(cx, &a).await {
        return Reply::code(c);
    }
    let cow = cow_source(&cx.hdr, &a);
    gateway::create_and_write(&cx.st, a, cx.payload.clone(), cow, Via::Local).await
}

/// READ_PEER.
pub async fn read_peer(cx: &Ctx, a: ObjReq) -> Reply {
    if let Err(c) = epoch_ok(cx, &a).await {
        return Reply::code(c);
    }
    gateway::read(&cx.st, a, cx.hdr.data_length as usize, Via::Local).await
}

/// WRITE_PEER.
pub async fn write_peer(cx: &Ctx, a: ObjReq) -> Reply {
    if let Err(c) = epoch_ok(cx, &a).await {
        return Reply::code(c);
    }
    gateway::write(&cx.st, a, cx.payload.clone(), Via::Local).await
}

/// REMOVE_PEER.
pub async fn remove_peer(cx: &Ctx, a: ObjReq) -> Reply {
    if let Err(c) = epoch_ok(cx, &a).await {
        return Reply::code(c);
    }
    gateway::remove(&cx.st, a.oid, Via::Local).await
}

/// GET_OBJ_LIST: every oid stored here, as an [`OidList`].
pub async fn get_obj_list(cx: &Ctx, a: ObjReq) -> Reply {
    if let Err(c) = epoch_ok(cx, &a).await {
        return Reply::code(c);
    }
    let s = cx.st.store.clone();
    match tokio::task::spawn_blocking(move || s.list()).await {
        Ok(Ok(oids)) => {
            if oids.len() * 8 > cx.hdr.data_length as usize {
                return Reply::code(SdResult::BufferSmall);
            }
            Reply::encoded(&OidList {
                oids: oids.into_iter().map(Oid).collect(),
            })
        }
        Ok(Err(e)) => Reply::code(store_err(&e)),
        Err(_) => Reply::code(SdResult::SystemError),
    }
}

/// GET_EPOCH: the node list of `obj.tgt_epoch`, as a [`NodeList`].
pub async fn get_epoch(cx: &Ctx, a: ObjReq) -> Reply {
    if let Err(c) = epoch_ok(cx, &a).await {
        return Reply::code(c);
    }
    let c = lock(&cx.st.cluster);
    if !c.has_epoch(a.tgt_epoch) {
        return Reply::code(SdResult::NoObj);
    }
    if (cx.hdr.data_length as usize) < SdNode::SIZE {
        return Reply::code(SdResult::BufferSmall);
    }
    Reply::encoded(&NodeList {
        nodes: vec![c.node.sd_node()],
    })
}
