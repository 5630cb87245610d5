//! Peer ops (CREATE_AND_WRITE/READ/WRITE/REMOVE_PEER, GET_OBJ_LIST,
//! GET_EPOCH): act on the local store only, under the epoch rules of
//! docs/sheepdog-facts.md §9.

use crate::handlers::gateway::{self, cow_source, Via};
use crate::handlers::{Ctx, Reply};
use crate::proto::payload::{NodeList, OidList};
use crate::proto::{ObjReq, Oid, ReqFlags, SdNode, SdResult};
use crate::replication::recovery::IoKind;
use crate::sync::lock;

/// The epoch check of a peer request about an object (recovery requests
/// and requests without an oid skip it).
async fn epoch_ok(cx: &Ctx, a: &ObjReq) -> Result<(), SdResult> {
    if a.oid.0 != 0 && !cx.hdr.flags.contains(ReqFlags::RECOVERY) {
        cx.st.check_epoch(cx.hdr.epoch).await?;
    }
    Ok(())
}

/// The recovery guard of a peer op's local access (see
/// [`crate::replication::recovery::guard`]): recovers the object on demand, holds its
/// lock, and refuses the op if the epoch moved on meanwhile.
async fn io_guard(
    cx: &Ctx,
    a: &ObjReq,
    kind: IoKind,
) -> Result<crate::replication::recovery::IoGuard, SdResult> {
    crate::replication::recovery::guard(&cx.st, a.oid.0, a.copies, kind, Some(cx.hdr.epoch)).await
}

/// CREATE_AND_WRITE_PEER.
pub async fn create_and_write_peer(cx: &Ctx, a: ObjReq) -> Reply {
    if let Err(c) = epoch_ok(cx, &a).await {
        return Reply::code(c);
    }
    let cow = cow_source(&cx.hdr, &a);
    // A copy-on-write create reads its source here: recover it first.
    let _src = match cow {
        Some(src) => {
            let r = crate::replication::recovery::guard(
                &cx.st,
                src,
                a.copies,
                IoKind::Read,
                Some(cx.hdr.epoch),
            );
            match r.await {
                Ok(g) => Some(g),
                Err(c) => return Reply::code(c),
            }
        }
        None => None,
    };
    let _g = match io_guard(cx, &a, IoKind::Create).await {
        Ok(g) => g,
        Err(c) => return Reply::code(c),
    };
    gateway::create_and_write(&cx.st, a, cx.payload.clone(), cow, Via::Local).await
}

/// READ_PEER (with RECOVERY: a recovering member's fetch, see
/// [`crate::replication::recovery::serve_read`]).
pub async fn read_peer(cx: &Ctx, a: ObjReq) -> Reply {
    if cx.hdr.flags.contains(ReqFlags::RECOVERY) && cx.st.clustered() {
        let epoch = if a.tgt_epoch != 0 {
            a.tgt_epoch
        } else {
            cx.hdr.epoch
        };
        let max = u64::from(cx.hdr.data_length);
        let wildcard = cx.hdr.flags.contains(ReqFlags::WILDCARD);
        return match crate::replication::recovery::serve_read(&cx.st, a, epoch, max, wildcard).await
        {
            Ok(d) => Reply::data(d),
            Err(c) => Reply::code(c),
        };
    }
    if let Err(c) = epoch_ok(cx, &a).await {
        return Reply::code(c);
    }
    let _g = match io_guard(cx, &a, IoKind::Read).await {
        Ok(g) => g,
        Err(c) => return Reply::code(c),
    };
    // From 0x0b the answer carries the CRC32C of its bytes: read them.
    let file_ok = cx.hdr.proto_ver < crate::proto::PEER_CRC_VERSION;
    gateway::read(&cx.st, a, cx.hdr.data_length as usize, Via::Local, file_ok).await
}

/// WRITE_PEER.
pub async fn write_peer(cx: &Ctx, a: ObjReq) -> Reply {
    if let Err(c) = epoch_ok(cx, &a).await {
        return Reply::code(c);
    }
    let _g = match io_guard(cx, &a, IoKind::Write).await {
        Ok(g) => g,
        Err(c) => return Reply::code(c),
    };
    gateway::write(&cx.st, a, cx.payload.clone(), Via::Local).await
}

/// REMOVE_PEER.
pub async fn remove_peer(cx: &Ctx, a: ObjReq) -> Reply {
    if let Err(c) = epoch_ok(cx, &a).await {
        return Reply::code(c);
    }
    let _g = match io_guard(cx, &a, IoKind::Remove).await {
        Ok(g) => g,
        Err(c) => return Reply::code(c),
    };
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
        Ok(Err(e)) => Reply::code(e.result()),
        Err(_) => Reply::code(SdResult::SystemError),
    }
}

/// GET_EPOCH: the node list of `obj.tgt_epoch`, as a [`NodeList`] (the
/// members of that epoch as logged here; NO_OBJ for an epoch this node did
/// not live through).
pub async fn get_epoch(cx: &Ctx, a: ObjReq) -> Reply {
    if let Err(c) = epoch_ok(cx, &a).await {
        return Reply::code(c);
    }
    let c = lock(&cx.st.cluster);
    if !c.has_epoch(a.tgt_epoch) {
        return Reply::code(SdResult::NoObj);
    }
    let nodes = c
        .nodes_of_epoch(a.tgt_epoch)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| vec![c.node.sd_node()]);
    if (cx.hdr.data_length as usize) < SdNode::SIZE * nodes.len() {
        return Reply::code(SdResult::BufferSmall);
    }
    Reply::encoded(&NodeList { nodes })
}
