//! Node and cluster administration: MAKE_FS, SHUTDOWN, CLUSTER_INFO,
//! STAT_CLUSTER, GET_NODE_LIST, STAT_SHEEP, STAT_RECOVERY,
//! GET_CLUSTER_DEFAULT, KILL_NODE.

use std::sync::Arc;

use crate::daemon::cluster::{Format, EPOCH_LOG_SIZE, SD_NODE_SIZE};
use crate::daemon::{lock, Reply, Request, State};
use crate::net::frame::{op, res};
use crate::proto::oid::DEFAULT_BLOCK_SIZE_SHIFT;
use crate::vdi::cstr;

/// Handles an admin op.
pub async fn handle(st: &Arc<State>, req: &Request) -> Reply {
    let h = &req.hdr;
    match h.opcode {
        op::MAKE_FS => make_fs(st, req).await,
        op::SHUTDOWN | op::KILL_NODE => {
            tracing::info!(opcode = h.opcode, "shutdown requested by a client");
            let st2 = st.clone();
            // Answer first, then stop.
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                st2.request_shutdown();
            });
            Reply::ok()
        }
        op::CLUSTER_INFO => Reply::data(lock(&st.cluster).cluster_info()),
        op::STAT_CLUSTER => {
            let c = lock(&st.cluster);
            if c.format.is_none() {
                return Reply::code(res::WAIT_FOR_FORMAT);
            }
            let nodes_nr = h.u32_at(40) as usize;
            let rec = EPOCH_LOG_SIZE + nodes_nr.min(6144) * SD_NODE_SIZE;
            let mut out = Vec::new();
            for e in (1..=c.epoch).rev() {
                if out.len() + rec > h.data_length as usize {
                    break;
                }
                if !c.has_epoch(e) {
                    continue;
                }
                let start = out.len();
                out.extend_from_slice(&c.epoch_log(e, c.epoch_time(e)));
                out.resize(start + rec, 0);
                if nodes_nr >= 1 {
                    out[start + EPOCH_LOG_SIZE..start + EPOCH_LOG_SIZE + SD_NODE_SIZE]
                        .copy_from_slice(&c.node.sd_node());
                }
            }
            if out.is_empty() && c.epoch > 0 {
                return Reply::code(res::BUFFER_SMALL);
            }
            Reply::data(out)
        }
        op::GET_NODE_LIST => {
            let c = lock(&st.cluster);
            Reply::data(c.node.sd_node().to_vec()).u32_at(20, 1)
        }
        op::STAT_SHEEP => {
            let (used, cap) = st.store.stats();
            Reply::ok()
                .u64_at(32, cap)
                .u64_at(40, cap.saturating_sub(used))
        }
        op::STAT_RECOVERY => Reply::data(vec![0u8; 24]),
        op::GET_CLUSTER_DEFAULT => {
            let f = st.format().unwrap_or_default();
            let shift = if f.block_size_shift == 0 {
                DEFAULT_BLOCK_SIZE_SHIFT
            } else {
                f.block_size_shift
            };
            Reply::ok()
                .u8_at(20, f.copies)
                .u8_at(21, f.copy_policy)
                .u8_at(22, shift)
        }
        _ => Reply::code(res::INVALID_PARMS),
    }
}

async fn make_fs(st: &Arc<State>, req: &Request) -> Reply {
    let h = &req.hdr;
    let store = String::from_utf8_lossy(cstr(&req.payload)).into_owned();
    let store = if store.is_empty() {
        "plain".to_string()
    } else {
        store
    };
    if store != "plain" {
        return Reply::code(res::NO_STORE);
    }
    let copies = h.u8_at(32);
    let shift = match h.u8_at(44) {
        0 => DEFAULT_BLOCK_SIZE_SHIFT,
        s if (20..=31).contains(&s) => s,
        _ => return Reply::code(res::INVALID_PARMS),
    };
    if copies > 31 {
        return Reply::code(res::INVALID_PARMS);
    }
    let f = Format {
        ctime: h.u64_at(24),
        flags: h.u16_at(34),
        copies: copies.max(1),
        copy_policy: h.u8_at(33),
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
        return Reply::code(res::EIO);
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
            Reply::code(res::EIO)
        }
    }
}
