//! VDI attributes (GET_VDI_ATTR): `sheepdog_vdi_attr` records (66,320 B)
//! kept in attribute objects `vid<<32 | 1<<61 | attr_id`, probed linearly
//! from a hash of the key.

use sdwire::Wire;

use crate::handlers::{Ctx, Reply};
use crate::proto::cluster_info::c_str;
use crate::proto::oid::{vdi_name_hash, Oid, SD_ATTR_OBJ_SIZE};
use crate::proto::{ReqFlags, SdResult, VdiAttr, VdiRsp};

/// Offset of the key in the stored record.
fn key_offset() -> u64 {
    VdiAttr::LAYOUT
        .field("key")
        .and_then(|f| f.offset)
        .unwrap_or(528) as u64
}
/// Number of attribute slots probed per VDI.
const MAX_PROBE: u32 = 1 << 16;

/// Handles GET_VDI_ATTR (set with CREAT, exclusive with EXCL, delete with
/// DEL, else get). The caller holds the VDI op lock.
pub async fn get_vdi_attr(cx: &Ctx) -> Reply {
    crate::replication::recovery::wait_metadata(&cx.st).await;
    let _g = cx.st.vdi_ops.lock().await;
    let st = &cx.st;
    let p = &cx.payload;
    if p.len() != SD_ATTR_OBJ_SIZE {
        return Reply::code(SdResult::InvalidParms);
    }
    let Ok(attr) = sdwire::from_slice::<VdiAttr>(p, 0) else {
        return Reply::code(SdResult::InvalidParms);
    };
    let key = c_str(&attr.key).to_vec();
    if key.is_empty() {
        return Reply::code(SdResult::InvalidParms);
    }
    let vid =
        match crate::sync::read(&st.vdis).lookup(c_str(&attr.name), c_str(&attr.tag), attr.snap_id)
        {
            Ok(v) => v,
            Err(c) => return Reply::code(c),
        };
    let found_rsp = |id: u32| VdiRsp {
        vdi_id: vid,
        attr_id: id,
        ..VdiRsp::default()
    };
    let f = cx.hdr.flags;
    let start = vdi_name_hash(&key) & (MAX_PROBE - 1);
    let mut free_slot = None;
    for i in 0..MAX_PROBE {
        let id = (start + i) & (MAX_PROBE - 1);
        let oid = Oid::attr(vid, id).0;
        let found = match st.replicas.read(st, oid, key_offset(), 256).await {
            Ok(k) => Some(c_str(&k) == key.as_slice()),
            Err(e) if e.is_no_obj() => None,
            Err(e) => return Reply::code(e.result()),
        };
        match found {
            Some(true) => {
                let r = Reply::ok().vdi(found_rsp(id));
                if f.contains(ReqFlags::DEL) {
                    let zero = bytes::Bytes::from(vec![0u8; 256]);
                    return match st.replicas.write(st, oid, key_offset(), zero).await {
                        Ok(()) => r,
                        Err(e) => Reply::code(e.result()),
                    };
                }
                if f.contains(ReqFlags::CREAT) {
                    if f.contains(ReqFlags::EXCL) {
                        return Reply::code(SdResult::VdiExist).vdi(found_rsp(id));
                    }
                    return match st.replicas.write(st, oid, 0, p.clone()).await {
                        Ok(()) => r,
                        Err(e) => Reply::code(e.result()),
                    };
                }
                return r;
            }
            Some(false) => {}
            None => {
                free_slot = Some(id);
                break;
            }
        }
    }
    if !f.contains(ReqFlags::CREAT) || f.contains(ReqFlags::DEL) {
        return Reply::code(SdResult::NoObj);
    }
    let Some(id) = free_slot else {
        return Reply::code(SdResult::FullVdi);
    };
    let oid = Oid::attr(vid, id).0;
    match st
        .replicas
        .create_and_write(st, oid, SD_ATTR_OBJ_SIZE, 0, p.clone(), None)
        .await
    {
        Ok(()) => Reply::ok().vdi(found_rsp(id)),
        Err(e) => Reply::code(e.result()),
    }
}
