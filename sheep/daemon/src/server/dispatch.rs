//! From a request frame to a response frame: the version check and opcode
//! lookup of [`proto::decode_request`], then the generated `dispatch` of the
//! op table into the handler traits implemented here on [`Ctx`] (one method
//! per opcode, so the compiler refuses a forgotten one), and the response
//! rules (docs/sheepdog-facts.md §1, §8).
//!
//! Every method routes to the handler family ([`gateway`], [`peer`],
//! [`admin`], [`vdi`]); the ones wrapped in [`Ctx::formatted`] answer
//! WAIT_FOR_FORMAT before MAKE_FS. Opcodes the C sheep defines without a
//! handler, and the ones this daemon does not implement, answer
//! INVALID_PARMS, like opcodes no table defines.
//!
//! Peer protocol 0x0b's payload CRCs are handled here, around the peer
//! handlers: a CREATE_AND_WRITE_PEER / WRITE_PEER whose payload does not
//! match its `payload_crc32c` is answered EIO before its handler runs, and
//! every successful READ_PEER answer at 0x0b gets the CRC32C of the payload
//! it carries. A node capped below the build's peer version refuses newer
//! peer requests with VER_MISMATCH.

use std::future::Future;
use std::sync::Arc;

use bytes::Bytes;

use crate::handlers::{admin, gateway, peer, vdi};
use crate::proto::{
    self, AdminHandler, ClientHandler, ClusterReq, ForwReq, InodeCoherenceReq, NoArgs, ObjReq,
    ObjRsp, PeerHandler, RawArgs, RefReq, ReqHeader, Request, RequestError, RspArm, RspHeader,
    SdResult, VdiReq, VdiStateCheckpointReq, VdiStateReq,
};

use super::State;
use crate::handlers::{Ctx, Reply};
use crate::server::net::Payload;

/// Handles one request and builds the response header and payload.
pub async fn handle(st: &Arc<State>, hdr: ReqHeader, payload: Bytes) -> (RspHeader, Payload) {
    let decoded = match proto::classify(hdr.opcode) {
        // A node capped below the build's peer version (`--peer-version`)
        // behaves like an older sheep: newer peer requests are refused.
        Some(proto::Protocol::Peer) if !st.cfg.versions.peer.contains(hdr.proto_ver) => {
            Err(RequestError::VersionMismatch {
                opcode: hdr.opcode,
                proto_ver: hdr.proto_ver,
            })
        }
        _ => proto::decode_request(&hdr),
    };
    let reply = match decoded {
        Err(e @ RequestError::VersionMismatch { .. }) => {
            tracing::debug!(error = %e, "request refused");
            Reply::code(SdResult::VerMismatch)
        }
        Err(e) => {
            tracing::debug!(error = %e, "request refused");
            Reply::code(SdResult::InvalidParms)
        }
        Ok(op) => {
            let cx = Ctx {
                st: st.services.clone(),
                hdr: hdr.clone(),
                payload,
            };
            // A handler panic must not take the connection (or daemon)
            // down: run it as its own task and map a panic to an error.
            let task = tokio::spawn(async move {
                match op {
                    Request::Client(o) => o.dispatch(&cx).await,
                    Request::Peer(o) => o.dispatch(&cx).await,
                    Request::Admin(o) => o.dispatch(&cx).await,
                }
            });
            match task.await {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(opcode = hdr.opcode, error = %e, "op handler failed");
                    Reply::code(SdResult::SystemError)
                }
            }
        }
    };
    finish(st, &hdr, reply)
}

/// Applies the response rules: proto_ver 0, echoed opcode and id, flags 0,
/// server epoch, no payload on errors, never more than asked for.
pub fn finish(st: &State, h: &ReqHeader, reply: Reply) -> (RspHeader, Payload) {
    let mut payload = reply.payload;
    let mut file = reply.file.filter(|_| reply.result.is_success());
    if !reply.result.is_success() {
        payload = Bytes::new();
    }
    if let Some(f) = &mut file {
        f.len = f.len.min(h.data_length as usize);
        if h.opcode == READ_PEER && h.proto_ver >= proto::PEER_CRC_VERSION {
            // The CRC needs the bytes (no handler answers READ_PEER from a
            // file today; this keeps the rule if one does).
            match f.read() {
                Ok(v) => payload = v.into(),
                Err(e) => {
                    tracing::error!(opcode = h.opcode, error = %e, "reading the reply payload failed");
                    let rsp = RspHeader::for_request(h, SdResult::Eio, st.epoch());
                    return (rsp, Payload::Bytes(Bytes::new()));
                }
            }
            file = None;
        }
    }
    payload.truncate(h.data_length as usize);
    let mut rsp = RspHeader::for_request(h, reply.result, st.epoch());
    rsp.data_length = file.as_ref().map_or(payload.len(), |f| f.len) as u32;
    let mut arm = reply.arm;
    if reply.result.is_success() && h.opcode == READ_PEER && h.proto_ver >= proto::PEER_CRC_VERSION
    {
        // Peer 0x0b: every READ_PEER answer (whichever handler path built
        // it) carries the CRC32C of the payload actually sent.
        let mut o = match arm {
            Some(RspArm::Obj(o)) => o,
            _ => ObjRsp::default(),
        };
        o.payload_crc32c = crc32c::crc32c(&payload);
        arm = Some(RspArm::Obj(o));
    }
    if let Some(arm) = arm {
        // The answer speaks the request's version (a READ_PEER answered at
        // peer 0x0b carries its payload CRC).
        let v = proto::classify(h.opcode).map_or(0, |p| p.wire_version(h.proto_ver));
        rsp.body = match arm.encode_at(v) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(opcode = h.opcode, error = %e, "encoding the response arm failed");
                rsp.result = SdResult::SystemError;
                rsp.data_length = 0;
                return (rsp, Payload::Bytes(Bytes::new()));
            }
        };
    }
    match file {
        Some(f) => (rsp, Payload::File(f)),
        None => (rsp, Payload::Bytes(payload)),
    }
}

/// READ_PEER's opcode.
const READ_PEER: u8 = 0xA4;

/// At peer 0x0b and later, checks the payload of a CREATE_AND_WRITE_PEER /
/// WRITE_PEER against the CRC32C the sender put in the obj arm: a mismatch
/// (corruption on the way) is logged and answered EIO before anything is
/// stored.
fn payload_crc_ok(cx: &Ctx, a: &ObjReq) -> Result<(), SdResult> {
    if cx.hdr.proto_ver < proto::PEER_CRC_VERSION {
        return Ok(());
    }
    let got = crc32c::crc32c(&cx.payload);
    if got != a.payload_crc32c {
        tracing::warn!(
            opcode = cx.hdr.opcode,
            oid = format_args!("{:016x}", a.oid.0),
            sent = format_args!("{:#010x}", a.payload_crc32c),
            computed = format_args!("{got:#010x}"),
            len = cx.payload.len(),
            "peer payload CRC32C mismatch, nothing stored"
        );
        return Err(SdResult::Eio);
    }
    Ok(())
}

impl Ctx {
    /// Runs `op` once the cluster is formatted, else answers WAIT_FOR_FORMAT.
    pub async fn formatted(&self, op: impl Future<Output = Reply>) -> Reply {
        if self.st.format().is_none() {
            return Reply::code(SdResult::WaitForFormat);
        }
        op.await
    }

    /// The answer to an opcode this daemon has no handler for.
    pub fn no_handler(&self) -> Reply {
        tracing::debug!(opcode = self.hdr.opcode, "no handler");
        Reply::code(SdResult::InvalidParms)
    }
}

impl ClientHandler for Ctx {
    type Output = Reply;

    async fn create_and_write_obj(&self, a: ObjReq) -> Reply {
        self.formatted(gateway::create_and_write_obj(self, a)).await
    }
    async fn read_obj(&self, a: ObjReq) -> Reply {
        self.formatted(gateway::read_obj(self, a)).await
    }
    async fn write_obj(&self, a: ObjReq) -> Reply {
        self.formatted(gateway::write_obj(self, a)).await
    }
    async fn remove_obj(&self, a: ObjReq) -> Reply {
        self.formatted(gateway::remove_obj(self, a)).await
    }
    async fn discard_obj(&self, a: ObjReq) -> Reply {
        self.formatted(gateway::discard_obj(self, a)).await
    }
    async fn new_vdi(&self, a: VdiReq) -> Reply {
        self.formatted(vdi::ops::new_vdi(self, a)).await
    }
    async fn lock_vdi(&self, a: VdiReq) -> Reply {
        self.formatted(vdi::ops::lock_vdi(self, a)).await
    }
    async fn release_vdi(&self, a: VdiReq) -> Reply {
        self.formatted(vdi::ops::release_vdi(self, a)).await
    }
    async fn get_vdi_info(&self, a: VdiReq) -> Reply {
        self.formatted(vdi::ops::get_vdi_info(self, a)).await
    }
    async fn read_vdis(&self, _: NoArgs) -> Reply {
        vdi::ops::read_vdis(self)
    }
    async fn flush_vdi(&self, _: ObjReq) -> Reply {
        self.formatted(gateway::flush_vdi(self)).await
    }
    async fn del_vdi(&self, a: VdiReq) -> Reply {
        self.formatted(vdi::ops::del_vdi(self, a)).await
    }
    async fn get_cluster_default(&self, _: NoArgs) -> Reply {
        admin::get_cluster_default(self)
    }
}

impl PeerHandler for Ctx {
    type Output = Reply;

    async fn notify_vdi_del(&self, _: RawArgs) -> Reply {
        self.no_handler()
    }
    async fn get_obj_list(&self, a: ObjReq) -> Reply {
        self.formatted(peer::get_obj_list(self, a)).await
    }
    async fn get_epoch(&self, a: ObjReq) -> Reply {
        self.formatted(peer::get_epoch(self, a)).await
    }
    async fn create_and_write_peer(&self, a: ObjReq) -> Reply {
        if let Err(c) = payload_crc_ok(self, &a) {
            return Reply::code(c);
        }
        self.formatted(peer::create_and_write_peer(self, a)).await
    }
    async fn read_peer(&self, a: ObjReq) -> Reply {
        self.formatted(peer::read_peer(self, a)).await
    }
    async fn write_peer(&self, a: ObjReq) -> Reply {
        if let Err(c) = payload_crc_ok(self, &a) {
            return Reply::code(c);
        }
        self.formatted(peer::write_peer(self, a)).await
    }
    async fn remove_peer(&self, a: ObjReq) -> Reply {
        self.formatted(peer::remove_peer(self, a)).await
    }
    async fn get_vdi_copies(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn complete_recovery(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn flush_peer(&self, _: RawArgs) -> Reply {
        self.no_handler()
    }
    async fn notify_vdi_add(&self, _: VdiStateReq) -> Reply {
        self.no_handler()
    }
    async fn decref_obj(&self, _: RefReq) -> Reply {
        self.no_handler()
    }
    async fn decref_peer(&self, _: RefReq) -> Reply {
        self.no_handler()
    }
    async fn vdi_state_checkpoint_ctl(&self, _: VdiStateCheckpointReq) -> Reply {
        self.no_handler()
    }
}

impl AdminHandler for Ctx {
    type Output = Reply;

    async fn get_node_list(&self, _: NoArgs) -> Reply {
        admin::get_node_list(self)
    }
    async fn make_fs(&self, a: ClusterReq) -> Reply {
        admin::make_fs(self, a).await
    }
    async fn shutdown(&self, _: NoArgs) -> Reply {
        admin::cluster_shutdown(self).await
    }
    async fn stat_sheep(&self, _: NoArgs) -> Reply {
        self.formatted(admin::stat_sheep(self)).await
    }
    async fn stat_cluster(&self, a: ClusterReq) -> Reply {
        admin::stat_cluster(self, a)
    }
    async fn get_vdi_attr(&self, _: VdiReq) -> Reply {
        self.formatted(vdi::attr::get_vdi_attr(self)).await
    }
    async fn force_recover(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn get_store_list(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn snapshot(&self, _: RawArgs) -> Reply {
        self.no_handler()
    }
    async fn restore(&self, _: RawArgs) -> Reply {
        self.no_handler()
    }
    async fn get_snap_file(&self, _: RawArgs) -> Reply {
        self.no_handler()
    }
    async fn cleanup(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn trace_status(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn trace_read_buf(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn stat_recovery(&self, _: NoArgs) -> Reply {
        self.formatted(async { admin::stat_recovery(self) }).await
    }
    async fn flush_del_cache(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn kill_node(&self, _: NoArgs) -> Reply {
        admin::shutdown(self)
    }
    async fn trace_enable(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn trace_disable(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn enable_recover(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn disable_recover(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn flush_nodes(&self, _: RawArgs) -> Reply {
        self.no_handler()
    }
    async fn delete_cache(&self, _: ObjReq) -> Reply {
        self.no_handler()
    }
    async fn md_info(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn md_plug(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn md_unplug(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn get_hash(&self, a: ObjReq) -> Reply {
        self.formatted(gateway::get_hash(self, a)).await
    }
    async fn reweight(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn get_cache_info(&self, _: RawArgs) -> Reply {
        self.no_handler()
    }
    async fn cache_purge(&self, _: RawArgs) -> Reply {
        self.no_handler()
    }
    async fn stat(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn get_loglevel(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn set_loglevel(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn nfs_create(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn nfs_delete(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn exist(&self, a: ObjReq) -> Reply {
        gateway::exist(self, a).await
    }
    async fn cluster_info(&self, _: NoArgs) -> Reply {
        admin::cluster_info(self)
    }
    async fn alter_cluster_copy(&self, _: ClusterReq) -> Reply {
        self.no_handler()
    }
    async fn alter_vdi_copy(&self, _: VdiStateReq) -> Reply {
        self.no_handler()
    }
    async fn prevent_inode_update(&self, _: RawArgs) -> Reply {
        self.no_handler()
    }
    async fn allow_inode_update(&self, _: RawArgs) -> Reply {
        self.no_handler()
    }
    async fn repair_replica(&self, _: ForwReq) -> Reply {
        self.no_handler()
    }
    async fn oids_exist(&self, _: RawArgs) -> Reply {
        self.no_handler()
    }
    async fn inode_coherence(&self, _: InodeCoherenceReq) -> Reply {
        self.no_handler()
    }
    async fn read_del_vdis(&self, _: NoArgs) -> Reply {
        vdi::ops::read_del_vdis(self)
    }
    async fn get_recovery(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn set_recovery(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn set_vnodes(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
    async fn get_vnodes(&self, _: NoArgs) -> Reply {
        self.no_handler()
    }
}
