//! VDI attributes (GET_VDI_ATTR): `sheepdog_vdi_attr` records (66,320 B)
//! kept in attribute objects `vid<<32 | 1<<61 | attr_id`, probed linearly
//! from a hash of the key.

use crate::daemon::{Reply, Request, State};
use crate::net::frame::{flags, res};
use crate::proto::oid::{vdi_name_hash, Oid, SD_ATTR_OBJ_SIZE};
use crate::store::StoreError;

use super::cstr;

/// Offset of the key in the record.
const KEY: usize = 528;
/// Number of attribute slots probed per VDI.
const MAX_PROBE: u32 = 1 << 16;

/// Handles GET_VDI_ATTR (set with CREAT, exclusive with EXCL, delete with
/// DEL, else get). The caller holds the VDI op lock.
pub async fn get_vdi_attr(st: &State, req: &Request) -> Reply {
    let p = &req.payload;
    if p.len() != SD_ATTR_OBJ_SIZE {
        return Reply::code(res::INVALID_PARMS);
    }
    let name = cstr(&p[..256]);
    let tag = cstr(&p[256..512]);
    let snapid = u32::from_le_bytes(p[520..524].try_into().unwrap());
    let key = cstr(&p[KEY..KEY + 256]).to_vec();
    if key.is_empty() {
        return Reply::code(res::INVALID_PARMS);
    }
    let vid = match st
        .vdis
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .lookup(name, tag, snapid)
    {
        Ok(v) => v,
        Err(c) => return Reply::code(c),
    };
    let f = req.hdr.flags;
    let start = vdi_name_hash(&key) & (MAX_PROBE - 1);
    let mut free_slot = None;
    for i in 0..MAX_PROBE {
        let id = (start + i) & (MAX_PROBE - 1);
        let oid = Oid::attr(vid, id).0;
        let found = match st.replicas.read(oid, KEY as u64, 256).await {
            Ok(k) => Some(cstr(&k) == key.as_slice()),
            Err(StoreError::NoObj(_)) => None,
            Err(e) => return Reply::code(crate::gateway::store_err(&e)),
        };
        match found {
            Some(true) => {
                let r = Reply::ok().u32_at(24, vid).u32_at(28, id);
                if f & flags::DEL != 0 {
                    let zero = bytes::Bytes::from(vec![0u8; 256]);
                    return match st.replicas.write(oid, KEY as u64, zero).await {
                        Ok(()) => r,
                        Err(e) => Reply::code(crate::gateway::store_err(&e)),
                    };
                }
                if f & flags::CREAT != 0 {
                    if f & flags::EXCL != 0 {
                        return Reply::code(res::VDI_EXIST).u32_at(24, vid).u32_at(28, id);
                    }
                    return match st.replicas.write(oid, 0, p.clone()).await {
                        Ok(()) => r,
                        Err(e) => Reply::code(crate::gateway::store_err(&e)),
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
    if f & flags::CREAT == 0 || f & flags::DEL != 0 {
        return Reply::code(res::NO_OBJ);
    }
    let Some(id) = free_slot else {
        return Reply::code(res::FULL_VDI);
    };
    let oid = Oid::attr(vid, id).0;
    match st
        .replicas
        .create_and_write(oid, SD_ATTR_OBJ_SIZE, 0, p.clone(), None)
        .await
    {
        Ok(()) => Reply::ok().u32_at(24, vid).u32_at(28, id),
        Err(e) => Reply::code(crate::gateway::store_err(&e)),
    }
}
