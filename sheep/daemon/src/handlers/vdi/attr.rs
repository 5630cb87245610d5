//! VDI attributes (GET_VDI_ATTR), kept as sheepdog 1.0 keeps them, so an
//! attribute set through either implementation is found by the other:
//! `sheepdog_vdi_attr` records (66,320 B) in attribute objects
//! `vid<<32 | 1<<61 | attr_id`, where `vid` is the hash of the VDI *name*
//! (not the current vid, which a snapshot changes) and `attr_id` starts at
//! the FNV-1a hash of the record's name, tag, snap_id and key (the full
//! fixed-size fields) and is probed upwards, wrapping, until a free slot or
//! the matching record (sheep/vdi.c `get_vdi_attr`, ops.c
//! `cluster_get_vdi_attr`).

use sdwire::Wire;

use crate::handlers::{Ctx, Reply};
use crate::proto::cluster_info::c_str;
use crate::proto::oid::{vdi_name_hash, Oid, SD_ATTR_OBJ_SIZE};
use crate::proto::{InodeHeader, ReqFlags, SdResult, VdiAttr, VdiReq, VdiRsp};

/// Offset of `field` in the `sheepdog_vdi_attr` record.
fn offset(field: &str) -> usize {
    VdiAttr::LAYOUT
        .field(field)
        .and_then(|f| f.offset)
        .expect("a field of sheepdog_vdi_attr")
}

/// sheepdog's `hash_vdi_attr`: 64-bit FNV-1a over the encoded name, tag,
/// snap_id and key fields of `rec` (an encoded record), low 32 bits.
fn attr_hash(rec: &[u8]) -> u32 {
    let fields = [("name", 256), ("tag", 256), ("snap_id", 4), ("key", 256)];
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (f, len) in fields {
        let at = offset(f);
        for &b in &rec[at..at + len] {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h as u32
}

/// Whether two records name the same attribute (sheepdog compares name,
/// tag and key as C strings, and snap_id).
fn same_attr(a: &VdiAttr, b: &VdiAttr) -> bool {
    c_str(&a.name) == c_str(&b.name)
        && c_str(&a.tag) == c_str(&b.tag)
        && a.snap_id == b.snap_id
        && c_str(&a.key) == c_str(&b.key)
}

/// Handles GET_VDI_ATTR: set with CREAT (EXCL: only if absent), delete
/// with DEL, else look up. Answers the name-hash vid and the slot found.
pub async fn get_vdi_attr(cx: &Ctx, a: VdiReq) -> Reply {
    crate::replication::recovery::wait_metadata(&cx.st).await;
    let _g = cx.st.vdi_ops.lock().await;
    let st = &cx.st;
    let p = &cx.payload;
    if p.len() != SD_ATTR_OBJ_SIZE {
        return Reply::code(SdResult::InvalidParms);
    }
    let Ok(mut attr) = sdwire::from_slice::<VdiAttr>(p, 0) else {
        return Reply::code(SdResult::InvalidParms);
    };
    if c_str(&attr.key).is_empty() {
        return Reply::code(SdResult::InvalidParms);
    }
    // The VDI must exist; the record carries its creation time.
    let (found, copies) = {
        let t = crate::sync::read(&st.vdis);
        let found = t.lookup(c_str(&attr.name), c_str(&attr.tag), a.snapid);
        let vid = vdi_name_hash(c_str(&attr.name));
        (found, t.vdis.get(&vid).map_or(0, |m| m.copies))
    };
    let found = match found {
        Ok(v) => v,
        Err(c) => return Reply::code(c),
    };
    let header_len = InodeHeader::SIZE as u64;
    attr.ctime = match st
        .replicas
        .read(st, Oid::inode(found).0, 0, header_len as usize)
        .await
    {
        Ok(b) => match InodeHeader::from_prefix(&b) {
            Ok(h) => h.create_time,
            Err(_) => return Reply::code(SdResult::Eio),
        },
        Err(e) => return Reply::code(e.result()),
    };
    let rec = match sdwire::to_vec(&attr, 0) {
        Ok(r) => bytes::Bytes::from(r),
        Err(_) => return Reply::code(SdResult::InvalidParms),
    };
    let vid = vdi_name_hash(c_str(&attr.name));
    let f = cx.hdr.flags;
    let (wr, excl, del) = (
        f.contains(ReqFlags::CREAT),
        f.contains(ReqFlags::EXCL),
        f.contains(ReqFlags::DEL),
    );
    let answer = |r: SdResult, id: u32| {
        Reply::code(r).vdi(VdiRsp {
            vdi_id: vid,
            attr_id: id,
            copies,
            ..VdiRsp::default()
        })
    };
    let start = attr_hash(&rec);
    let mut id = start;
    loop {
        let oid = Oid::attr(vid, id).0;
        // Like sheepdog, a plain set writes the first slot without looking.
        let held = if excl || !wr {
            match st.replicas.read(st, oid, 0, SD_ATTR_OBJ_SIZE).await {
                Ok(b) => match sdwire::from_slice::<VdiAttr>(&b, 0) {
                    Ok(x) => Some(x),
                    Err(_) => return answer(SdResult::Eio, id),
                },
                Err(e) if e.is_no_obj() => None,
                Err(e) => return answer(e.result(), id),
            }
        } else {
            None
        };
        let Some(held) = held else {
            if !wr {
                return answer(SdResult::NoObj, id);
            }
            let r = st
                .replicas
                .create_and_write(st, oid, SD_ATTR_OBJ_SIZE, 0, rec.clone(), None)
                .await;
            return match r {
                Ok(()) => answer(SdResult::Success, id),
                Err(_) => answer(SdResult::Eio, id),
            };
        };
        if same_attr(&held, &attr) {
            if excl {
                return answer(SdResult::VdiExist, id);
            }
            let r = if del {
                // sheepdog empties the name (one NUL byte).
                let nul = bytes::Bytes::from_static(&[0]);
                st.replicas.write(st, oid, offset("name") as u64, nul).await
            } else if wr {
                st.replicas.write(st, oid, 0, rec.clone()).await
            } else {
                Ok(())
            };
            return match r {
                Ok(()) => answer(SdResult::Success, id),
                Err(_) => answer(SdResult::Eio, id),
            };
        }
        id = id.wrapping_add(1);
        if id == start {
            return answer(SdResult::FullVdi, id);
        }
    }
}
