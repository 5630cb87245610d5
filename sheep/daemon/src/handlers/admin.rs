//! Node and cluster administration: MAKE_FS, SHUTDOWN, CLUSTER_INFO,
//! STAT_CLUSTER, GET_NODE_LIST, STAT_SHEEP, STAT_RECOVERY,
//! GET_CLUSTER_DEFAULT, KILL_NODE.

use sdwire::Wire;

use crate::cluster::state::Format;
use crate::handlers::{Ctx, Reply};
use crate::proto::cluster::ShutdownNotice;
use crate::proto::cluster_info::SD_MAX_NODES;
use crate::proto::oid::DEFAULT_BLOCK_SIZE_SHIFT;
use crate::proto::payload::{EpochRecord, MakeFsPayload, NodeList, StatClusterReply};
use crate::proto::{
    ClusterDefaultRsp, ClusterReq, EpochLog, NodeRsp, RecoveryState, RspArm, SdNode, SdResult,
    CLUSTER_VERSION,
};
use crate::sync::lock;

/// KILL_NODE (and SHUTDOWN outside a cluster): answer, then stop this
/// daemon.
pub fn shutdown(cx: &Ctx) -> Reply {
    tracing::info!(opcode = cx.hdr.opcode, "shutdown requested by a client");
    shutdown_soon(&cx.st);
    Reply::ok()
}

/// Whether a driver notification is a cluster-wide shutdown
/// ([`ShutdownNotice`]).
pub fn is_shutdown_notify(msg: &[u8]) -> bool {
    ShutdownNotice::matches(msg)
}

/// Stops this daemon. The answers in flight still go out, this request's
/// among them: connections stop reading at the signal, and the daemon waits
/// for them to write what their requests answer (see `server::serve`).
pub fn shutdown_soon(st: &std::sync::Arc<crate::handlers::Services>) {
    st.request_shutdown();
}

/// SHUTDOWN: like sheepdog's cluster operation, stops every member. In a
/// cluster the request travels as a driver notification, which every member
/// (this one included) applies by stopping; a node outside a cluster stops
/// itself. KILL_NODE stops only the node that receives it
/// ([`shutdown`]).
pub async fn cluster_shutdown(cx: &Ctx) -> Reply {
    let Some(m) = cx.st.membership.get() else {
        return shutdown(cx);
    };
    tracing::info!("cluster shutdown requested by a client");
    let notice = sdwire::to_bytes(&ShutdownNotice::new(), CLUSTER_VERSION)
        .expect("a fixed-size notice encodes");
    match m.driver().notify(notice).await {
        Ok(()) => Reply::ok(),
        Err(e) => {
            tracing::error!(error = %e, "broadcasting SHUTDOWN failed");
            Reply::code(SdResult::SystemError)
        }
    }
}

/// GET_LOGLEVEL: the most verbose level this daemon logs, as a syslog
/// level (sheepdog's scale: 3 error, 4 warning, 6 info, 7 debug).
pub fn get_loglevel() -> Reply {
    use tracing::level_filters::LevelFilter;
    let level = match LevelFilter::current() {
        LevelFilter::OFF => 0,
        LevelFilter::ERROR => 3,
        LevelFilter::WARN => 4,
        LevelFilter::INFO => 6,
        _ => 7,
    };
    Reply::encoded(&crate::proto::LogLevel { level })
}

/// GET_RECOVERY: the recovery throttling. This daemon does not throttle
/// recovery, which is what sheepdog reports when throttling is off (all
/// zero, `dog node recovery get-throttle` prints "max (0), interval (0)").
pub fn get_recovery() -> Reply {
    Reply::encoded(&crate::proto::RecoveryThrottling::default())
}

/// CLUSTER_INFO: the full `cluster_info`.
pub fn cluster_info(cx: &Ctx) -> Reply {
    let ci = cx.st.cluster_info();
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
    let records: Vec<EpochRecord> = if cx.st.clustered() {
        // Clustered: every epoch this node logged with its members, newest
        // first (a node does not know the epochs before it first joined).
        c.logged_epochs()
            .into_iter()
            .filter_map(|e| {
                let nodes = c.nodes_of_epoch(e)?;
                let mut log = c.epoch_log(e, c.epoch_time(e));
                log.nr_nodes = nodes.len().min(slots) as u32;
                let n = nodes.len().min(slots);
                Some(EpochRecord {
                    log,
                    nodes: nodes[..n].to_vec(),
                })
            })
            .take(fit)
            .collect()
    } else {
        (1..=c.epoch)
            .rev()
            .filter(|&e| c.has_epoch(e))
            .take(fit)
            .map(|e| EpochRecord {
                log: c.epoch_log(e, c.epoch_time(e)),
                nodes: vec![c.node.sd_node()],
            })
            .collect()
    };
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

/// GET_NODE_LIST: the members (this node alone when not clustered).
pub fn get_node_list(cx: &Ctx) -> Reply {
    let nodes = cx.st.nodes();
    let nr = nodes.len() as u32;
    Reply::encoded(&NodeList { nodes }).arm(RspArm::Node(NodeRsp {
        nr_nodes: nr,
        ..NodeRsp::default()
    }))
}

/// STAT_SHEEP: store size and free space in `rsp.node`.
pub async fn stat_sheep(cx: &Ctx) -> Reply {
    // A store scan (a stat per object) must not hold up the runtime thread.
    let store = cx.st.store.clone();
    let Ok((used, cap)) = tokio::task::spawn_blocking(move || store.stats()).await else {
        return Reply::code(SdResult::SystemError);
    };
    Reply::ok().arm(RspArm::Node(NodeRsp {
        store_size: cap,
        store_free: cap.saturating_sub(used),
        ..NodeRsp::default()
    }))
}

/// STAT_RECOVERY: the progress of the recovery of the current epoch
/// (`in_recovery` until this node has dropped the objects it no longer
/// holds; `state` 2 once its own objects are recovered).
pub fn stat_recovery(cx: &Ctx) -> Reply {
    if !cx.st.clustered() {
        return Reply::encoded(&RecoveryState::default());
    }
    Reply::encoded(&cx.st.recovery.state())
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
    if let Some(m) = st.membership.get() {
        // Clustered: every member formats, in the driver's order, with the
        // same parameters; answer once this node has applied it.
        let mut f = f;
        if f.ctime == 0 {
            f.ctime = crate::cluster::state::now_ctime();
        }
        let mut epochs = st.epoch_tx.subscribe();
        let _ = epochs.borrow_and_update();
        if let Err(e) = m
            .driver()
            .notify(crate::cluster::state::encode_make_fs(&f))
            .await
        {
            tracing::error!(error = %e, "broadcasting MAKE_FS failed");
            return Reply::code(SdResult::SystemError);
        }
        let applied = tokio::time::timeout(std::time::Duration::from_secs(30), async {
            loop {
                // Registered before the check: an apply right after it
                // still wakes us.
                let woken = st.format_applied.notified();
                tokio::pin!(woken);
                woken.as_mut().enable();
                if st.format().as_ref() == Some(&f) {
                    return;
                }
                woken.await;
            }
        })
        .await;
        if applied.is_err() {
            return Reply::code(SdResult::SystemError);
        }
        // Answer only once every member applied it, so that a VDI op sent
        // to any gateway right after cannot race a member's wipe.
        return if formatted_everywhere(st, f.ctime).await {
            Reply::ok()
        } else {
            Reply::code(SdResult::SystemError)
        };
    }
    apply_make_fs(st, f).await
}

/// Waits (at most 30 s) until every other member reports the format `ctime`
/// in its CLUSTER_INFO.
async fn formatted_everywhere(st: &crate::handlers::Services, ctime: u64) -> bool {
    let Some(v) = st.replicas.view() else {
        return true;
    };
    let t0 = std::time::Instant::now();
    for (i, n) in v.nodes.iter().enumerate() {
        if v.me == Some(i) {
            continue;
        }
        loop {
            let h = crate::proto::Request::Admin(crate::proto::AdminOp::ClusterInfo(
                crate::proto::NoArgs::default(),
            ))
            .to_header(
                crate::proto::ReqFlags::EMPTY,
                crate::proto::ClusterInfo::SIZE as u32,
            );
            let got = match st.replicas.client(n.socket_addr()).await {
                Ok(c) => match c.raw(h, bytes::Bytes::new()).await {
                    Ok((_, p)) => sdwire::from_slice::<crate::proto::ClusterInfo>(&p, 0)
                        .map(|ci| ci.header.ctime)
                        .ok(),
                    Err(_) => None,
                },
                Err(_) => None,
            };
            if got == Some(ctime) {
                break;
            }
            if t0.elapsed() > std::time::Duration::from_secs(30) {
                tracing::error!(node = %n.socket_addr(), "member did not apply the format");
                return false;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
    true
}

/// Formats this node with `f`: wipes every object, persists the format.
pub async fn apply_make_fs(st: &crate::handlers::Services, f: Format) -> Reply {
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
    crate::sync::write(&st.vdis).vdis.clear();
    lock(&st.locks).clear();
    let copies = f.copies;
    let r = lock(&st.cluster).make_fs(f);
    match r {
        Ok(()) => {
            st.replicas
                .fan
                .default_copies
                .store(copies, std::sync::atomic::Ordering::Relaxed);
            if !st.clustered() {
                st.epoch_tx.send_replace(1);
            } else {
                st.recovery.formatted();
                if let Some(v) = st.replicas.view() {
                    if let Err(e) = lock(&st.cluster).record_epoch(v.epoch, &v.nodes) {
                        tracing::error!(error = %e, "logging the epoch failed");
                    }
                }
            }
            st.format_applied.notify_waiters();
            tracing::info!("cluster formatted");
            Reply::ok()
        }
        Err(e) => {
            tracing::error!(error = %e, "MAKE_FS failed");
            Reply::code(SdResult::Eio)
        }
    }
}
