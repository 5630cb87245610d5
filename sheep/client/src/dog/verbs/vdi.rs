//! The VDI verbs that change or list VDIs: create, list, delete,
//! snapshot, clone, resize.

use super::*;

impl Dog<'_> {
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn vdi_create(
        &mut self,
        name: &str,
        size: u64,
        copies: u8,
        policy: u8,
        store_policy: u8,
        shift: u8,
        prealloc: bool,
    ) -> Result<(), DogError> {
        if name.is_empty() || name.len() > 255 {
            return Err(DogError::Usage(format!("Invalid VDI name '{name}'")));
        }
        if size == 0 {
            return Err(DogError::Usage("VDI size must not be zero".into()));
        }
        let c = self.conn(self.gw).await?;
        self.nodes(&c).await?;
        let h = admin(
            AdminOp::ClusterInfo(NoArgs::default()),
            NONE,
            CLUSTER_INFO_SIZE,
        );
        call(&c, h, Bytes::new(), "Failed to get cluster info").await?;
        let a = VdiReq {
            vdi_size: size,
            copies,
            copy_policy: policy,
            store_policy,
            block_size_shift: shift,
            ..VdiReq::default()
        };
        let h = client(ClientOp::NewVdi(a), NONE, 0);
        let (r, _) = call(
            &c,
            h,
            name_buf(name, None),
            &format!("Failed to create VDI {name}"),
        )
        .await?;
        if prealloc {
            let vid = wire::vdi_rsp(&r).vdi_id;
            let b = read_obj(&c, inode_oid(vid), 0, INODE_SIZE, DIRECT).await?;
            let ino = Inode::full(&b)?;
            self.write_stream(Arc::new(c), ino, 0, size, true).await?;
        }
        Ok(())
    }

    pub(crate) async fn vdi_list(&mut self, only: Option<&str>) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let mut vdis = self.all_vdis(&c).await?;
        vdis.retain(|v| only.is_none_or(|n| n == v.name));
        vdis.sort_by(|a, b| (&a.name, a.snap_id).cmp(&(&b.name, b.snap_id)));
        // As the C dog: a clone is the first generation of a VDI with a
        // parent (a VDI snapshotted since has a parent too, and a later
        // snapshot id).
        let is_clone = |v: &Inode| v.snap_ctime == 0 && v.snap_id == 1 && v.parent != 0;
        let usage = |v: &Inode| {
            let mine = v.index.iter().filter(|&&x| x == v.vid).count() as u64;
            let shared = v.index.iter().filter(|&&x| x != 0 && x != v.vid).count() as u64;
            (mine * v.obj_size(), shared * v.obj_size())
        };
        if self.json {
            let arr: Vec<_> = vdis
                .iter()
                .map(|v| {
                    let (u, sh) = usage(v);
                    json!({"name": v.name, "snapshot": v.snap_ctime != 0, "clone": is_clone(v),
                        "id": v.snap_id, "size": v.size, "used": u, "shared": sh, "ctime": v.ctime >> 32,
                        "vid": v.vid, "copies": v.copies, "copy_policy": v.copy_policy, "tag": v.tag,
                        "block_size_shift": v.shift, "parent": v.parent})
                })
                .collect();
            return self.out_json(arr.into()).await;
        }
        let mut s = String::new();
        if !self.raw {
            s += "  Name        Id    Size    Used  Shared    Creation time   VDI id  Copies  Tag   Block Size Shift\n";
        }
        for v in &vdis {
            let (u, sh) = usage(v);
            let kind = if v.snap_ctime != 0 {
                's'
            } else if is_clone(v) {
                'c'
            } else if self.raw {
                '='
            } else {
                ' '
            };
            let red = if v.copy_policy == 0 {
                v.copies.to_string()
            } else {
                format!("{}:{}", (v.copy_policy >> 4) * 2, v.copy_policy & 0xf)
            };
            if self.raw {
                // Fields split on spaces: a space or backslash in the name
                // is escaped with a backslash, as the C dog does.
                let mut name = String::new();
                for ch in v.name.chars() {
                    if ch.is_ascii_whitespace() || ch == '\\' {
                        name.push('\\');
                    }
                    name.push(ch);
                }
                s += &format!(
                    "{kind} {name} {} {} {u} {sh} {} {:x} {red} {} {}\n",
                    v.snap_id,
                    v.size,
                    v.ctime >> 32,
                    v.vid,
                    v.tag,
                    v.shift
                );
                continue;
            }
            s += &format!(
                "{kind} {:<8} {:5} {:>7} {:>7} {:>7} {}  {:7x} {:>6} {:>13} {:3}\n",
                v.name,
                v.snap_id,
                fmt::size(v.size, self.raw),
                fmt::size(u, self.raw),
                fmt::size(sh, self.raw),
                fmt::time(v.ctime >> 32, "%Y-%m-%d %H:%M"),
                v.vid,
                red,
                v.tag,
                v.shift
            );
        }
        self.out(&s).await
    }

    pub(crate) async fn vdi_delete(&mut self, name: &str, s: &Snap) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let vid = self.find(&c, name, s).await?;
        let b = read_obj(&c, inode_oid(vid), 0, INODE_SIZE, NONE).await?;
        let ino = Inode::full(&b)?;
        let n = ino.nr_objs() as usize;
        if ino.store_policy == 0 && n > 0 {
            // Like the C dog, clear the index first; the sheep frees the
            // objects either way, and refuses this write on a snapshot.
            let zeros = wire::index_run_bytes(vec![0; n]);
            let r = write_obj(
                &c,
                ClientOp::WriteObj,
                inode_oid(vid),
                0,
                data_vdi_id_offset(0) as u32,
                zeros,
                DIRECT,
                ino.copies,
                ino.copy_policy,
            )
            .await;
            match r {
                Err(DogError::Sd { code, .. }) if code == SdResult::Readonly.code() => {}
                r => r?,
            }
        }
        let a = VdiReq {
            snapid: s.id,
            ..VdiReq::default()
        };
        let h = client(ClientOp::DelVdi(a), NONE, 0);
        call(
            &c,
            h,
            name_buf(name, Some(&s.tag)),
            &format!("Failed to delete {name}"),
        )
        .await?;
        Ok(())
    }

    pub(crate) async fn vdi_snapshot(&mut self, name: &str, tag: &str) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        if !tag.is_empty() {
            let s = Snap {
                id: 0,
                tag: tag.to_string(),
            };
            let h = client(ClientOp::GetVdiInfo(VdiReq::default()), NONE, 0);
            let (r, _) = send(&c, h, name_buf(name, Some(tag)))
                .await
                .map_err(|e| DogError::client("Failed to look up the snapshot tag", e))?;
            if r.result.is_success() {
                let old = wire::vdi_rsp(&r).vdi_id;
                read_obj(&c, inode_oid(old), 0, HDR_SIZE, DIRECT).await?;
                return Err(DogError::Other(format!(
                    "Snapshot tag {} is already used by another snapshot of {name}",
                    s.tag
                )));
            }
        }
        let vid = self.find(&c, name, &Snap::default()).await?;
        let b = read_obj(&c, inode_oid(vid), 0, HDR_SIZE, DIRECT).await?;
        let ino = Inode::header(&b)?;
        let tb: [u8; 256] = padded(&tag.as_bytes()[..tag.len().min(255)]);
        write_obj(
            &c,
            ClientOp::WriteObj,
            inode_oid(vid),
            0,
            header_field("tag"),
            Bytes::copy_from_slice(&tb),
            NONE,
            ino.copies,
            ino.copy_policy,
        )
        .await?;
        let a = VdiReq {
            vdi_size: ino.size,
            base_vdi_id: vid,
            copies: ino.copies,
            copy_policy: ino.copy_policy,
            store_policy: ino.store_policy,
            block_size_shift: ino.raw_shift,
            snapid: 1,
            ..VdiReq::default()
        };
        let h = client(ClientOp::NewVdi(a), NONE, 0);
        let (r, _) = call(
            &c,
            h,
            name_buf(name, None),
            &format!("Failed to create snapshot for {name}"),
        )
        .await?;
        if self.json {
            return self
                .out_json(
                    json!({"snapshot_vid": vid, "new_vid": wire::vdi_rsp(&r).vdi_id, "tag": tag}),
                )
                .await;
        }
        Ok(())
    }

    pub(crate) async fn vdi_clone(
        &mut self,
        src: &str,
        s: &Snap,
        dst: &str,
        prealloc: bool,
        copies: u8,
        policy: u8,
    ) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let vid = self.find(&c, src, s).await?;
        let b = read_obj(&c, inode_oid(vid), 0, INODE_SIZE, DIRECT).await?;
        let ino = Inode::full(&b)?;
        if ino.snap_ctime == 0 {
            return Err(DogError::Other(format!(
                "Only snapshot VDIs can be cloned; {src} is not a snapshot"
            )));
        }
        let (cp, pol) = if copies == 0 {
            (ino.copies, ino.copy_policy)
        } else {
            (copies, policy)
        };
        let a = VdiReq {
            vdi_size: ino.size,
            base_vdi_id: vid,
            copies: cp,
            copy_policy: pol,
            store_policy: ino.store_policy,
            block_size_shift: ino.raw_shift,
            ..VdiReq::default()
        };
        let h = client(ClientOp::NewVdi(a), NONE, 0);
        let (r, _) = call(
            &c,
            h,
            name_buf(dst, None),
            &format!("Failed to create VDI {dst}"),
        )
        .await?;
        if prealloc {
            // Copy every allocated object of the snapshot into the clone.
            let new_vid = wire::vdi_rsp(&r).vdi_id;
            let nb = read_obj(&c, inode_oid(new_vid), 0, INODE_SIZE, DIRECT).await?;
            let nino = Inode::full(&nb)?;
            let osz = ino.obj_size() as u32;
            for idx in 0..ino.nr_objs() as u32 {
                let owner = ino.owner(idx);
                if owner == 0 {
                    continue;
                }
                let data = read_obj(&c, data_oid(owner, idx), 0, osz, NONE).await?;
                write_piece(&c, &nino, idx, 0, data.into()).await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn vdi_resize(&mut self, name: &str, size: u64) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let vid = self.find(&c, name, &Snap::default()).await?;
        let b = read_obj(&c, inode_oid(vid), 0, HDR_SIZE, DIRECT).await?;
        let mut h: InodeHeader = decode(&b, "inode")?;
        let ino = Inode::from_header(&h, Vec::new());
        if size < ino.size {
            return Err(DogError::Other("Shrinking VDIs is not implemented".into()));
        }
        let max = u64::from(SD_INODE_DATA_INDEX) * ino.obj_size();
        if size > max {
            return Err(DogError::Other(format!(
                "New VDI size is too large. This size should not exceed {max} bytes"
            )));
        }
        h.vdi_size = size;
        let nb = encode(&h);
        write_obj(
            &c,
            ClientOp::WriteObj,
            inode_oid(vid),
            0,
            0,
            nb,
            DIRECT,
            ino.copies,
            ino.copy_policy,
        )
        .await
    }
}
