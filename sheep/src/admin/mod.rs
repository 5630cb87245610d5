//! Node and cluster administration: MAKE_FS, SHUTDOWN, CLUSTER_INFO,
//! STAT_CLUSTER, GET_NODE_LIST, STAT_SHEEP, STAT_RECOVERY,
//! GET_CLUSTER_DEFAULT, KILL_NODE.

use sdwire::Wire;

use crate::daemon::cluster::Format;
use crate::daemon::{lock, Ctx, Reply};
use crate::proto::cluster_info::SD_MAX_NODES;
use crate::proto::oid::DEFAULT_BLOCK_SIZE_SHIFT;
use crate::proto::payload::{EpochRecord, MakeFsPayload, NodeList, StatClusterReply};
use crate::proto::{
    ClusterDefaultRsp, ClusterReq, EpochLog, NodeRsp, RecoveryState, RspArm, SdNode, SdResult,
};

/// SHUTDOWN and KILL_NODE: answer, then stop the daemon.
pub fn shutdown(cx: &Ctx) -> Reply {
    tracing::info!(opcode = cx.hdr.opcode, "shutdown requested by a client");
    let st = cx.st.clone();
    tokio::spawn(async move {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        st.request_shutdown();
    });
    Reply::ok()
}

/// CLUSTER_INFO: the full `cluster_info`.
pub fn cluster_info(cx: &Ctx) -> Reply {
    let ci = lock(&cx.st.cluster).cluster_info();
    Reply::encoded(&ci)
}

/// STAT_CLUSTER: the logged epochs, newest first, each with
/// `cluster.nodes_nr` node slots, as many as fit in `data_length`.
pub fn stat_cluster(cx: &Ctx, a: ClusterReq) -> Reply {
    let c = lock(&cx.st.cluster);
    if c.format.is_none() {
        return Reply::code(SdResult::WaitForFormat);
    }
    let slots = (a.nodes_nr as usize).min(SD_MAX_NODES);
    let rec = EpochLog::FIXED_SIZE.unwrap_or(48) + slots * SdNode::SIZE;
    let fit = cx.hdr.data_length as usize / rec;
    let records: Vec<EpochRecord> = (1..=c.epoch)
        .rev()
        .filter(|&e| c.has_epoch(e))
        .take(fit)
        .map(|e| EpochRecord {
            log: c.epoch_log(e, c.epoch_time(e)),
            nodes: vec![c.node.sd_node()],
        })
        .collect();
    if records.is_empty() && c.epoch > 0 {
        return Reply::code(SdResult::BufferSmall);
    }
    Reply::data(
        StatClusterReply {
            slots: slots as u32,
            records,
        }
        .encode(),
    )
}

/// GET_NODE_LIST: this node, `rsp.node.nr_nodes` = 1.
pub fn get_node_list(cx: &Ctx) -> Reply {
    let node = lock(&cx.st.cluster).node.sd_node();
    Reply::encoded(&NodeList { nodes: vec![node] }).arm(RspArm::Node(NodeRsp {
        nr_nodes: 1,
        ..NodeRsp::default()
    }))
}

/// STAT_SHEEP: store size and free space in `rsp.node`.
pub fn stat_sheep(cx: &Ctx) -> Reply {
    let (used, cap) = cx.st.store.stats();
    Reply::ok().arm(RspArm::Node(NodeRsp {
        store_size: cap,
        store_free: cap.saturating_sub(used),
        ..NodeRsp::default()
    }))
}

/// STAT_RECOVERY: never recovering.
pub fn stat_recovery(_: &Ctx) -> Reply {
    Reply::encoded(&RecoveryState::default())
}

/// GET_CLUSTER_DEFAULT: the format's copies, policy and object size.
pub fn get_cluster_default(cx: &Ctx) -> Reply {
    let f = cx.st.format().unwrap_or_default();
    let shift = if f.block_size_shift == 0 {
        DEFAULT_BLOCK_SIZE_SHIFT
    } else {
        f.block_size_shift
    };
    Reply::ok().arm(RspArm::ClusterDefault(ClusterDefaultRsp {
        nr_copies: f.copies,
        copy_policy: f.copy_policy,
        block_size_shift: shift,
        ..ClusterDefaultRsp::default()
    }))
}

/// MAKE_FS: (re)formats the cluster, wiping every object.
pub async fn make_fs(cx: &Ctx, a: ClusterReq) -> Reply {
    let st = &cx.st;
    let store = String::from_utf8_lossy(&MakeFsPayload::decode(&cx.payload).store).into_owned();
    let store = if store.is_empty() {
        "plain".to_string()
    } else {
        store
    };
    if store != "plain" {
        return Reply::code(SdResult::NoStore);
    }
    let shift = match a.block_size_shift {
        0 => DEFAULT_BLOCK_SIZE_SHIFT,
        s if (20..=31).contains(&s) => s,
        _ => return Reply::code(SdResult::InvalidParms),
    };
    if a.copies > 31 {
        return Reply::code(SdResult::InvalidParms);
    }
    let f = Format {
        ctime: a.ctime,
        flags: a.flags.bits(),
        copies: a.copies.max(1),
        copy_policy: a.copy_policy,
        block_size_shift: shift,
        store,
    };
    // Re-formatting wipes the cluster, like sheepdog: no VDI op may run
    // concurrently.
    let _g = st.vdi_ops.lock().await;
    let s = st.store.clone();
    let wiped = tokio::task::spawn_blocking(move || -> crate::store::Result<()> {
        for oid in s.list()? {
            s.remove(oid)?;
        }
        Ok(())
    })
    .await;
    if !matches!(wiped, Ok(Ok(()))) {
        return Reply::code(SdResult::Eio);
    }
    st.vdis
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .vdis
        .clear();
    lock(&st.locks).clear();
    let r = lock(&st.cluster).make_fs(f);
    match r {
        Ok(()) => {
            st.epoch_tx.send_replace(1);
            tracing::info!("cluster formatted");
            Reply::ok()
        }
        Err(e) => {
            tracing::error!(error = %e, "MAKE_FS failed");
            Reply::code(SdResult::Eio)
        }
    }
}
