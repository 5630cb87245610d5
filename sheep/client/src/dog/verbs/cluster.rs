//! The `cluster` (format, info, shutdown) and `node` (list, info,
//! recovery) verbs.

use super::*;

impl Dog<'_> {
    pub(crate) async fn cluster_format(
        &mut self,
        copies: u8,
        policy: u8,
        flags: ClusterFlags,
        shift: u8,
        store: &str,
        yes: bool,
    ) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let (nodes, _) = self.nodes(&c).await?;
        for n in &nodes {
            let nc = if n.addr == self.gw {
                None
            } else {
                Some(self.conn(n.addr).await?)
            };
            let h = admin(
                AdminOp::ClusterInfo(NoArgs::default()),
                NONE,
                CLUSTER_INFO_SIZE,
            );
            call(
                nc.as_ref().unwrap_or(&c),
                h,
                Bytes::new(),
                &format!("Failed to get cluster info of {}", n.addr),
            )
            .await?;
        }
        let h = client(ClientOp::ReadVdis(NoArgs::default()), NONE, BITMAP_SIZE);
        let (_, inuse) = call(&c, h, Bytes::new(), "Failed to read VDIs").await?;
        let inuse: VdiBitmap = decode(&inuse, "Failed to read VDIs")?;
        if !yes && inuse.iter().next().is_some() {
            eprint!("The cluster has VDIs; formatting destroys them. Type 'yes' to go on: ");
            let mut line = Vec::new();
            let mut b = [0u8; 1];
            while self.env.stdin.read(&mut b).await.unwrap_or(0) == 1 && b[0] != b'\n' {
                line.push(b[0]);
            }
            if String::from_utf8_lossy(&line).trim() != "yes" {
                return Err(DogError::Other("Format cancelled".into()));
            }
        }
        let sb = MakeFsPayload {
            store: store.as_bytes().to_vec(),
        }
        .encode();
        let a = ClusterReq {
            ctime: crate::proto::time::now_ctime(),
            copies,
            copy_policy: policy,
            flags,
            block_size_shift: shift,
            ..ClusterReq::default()
        };
        let h = admin(AdminOp::MakeFs(a), NONE, 0);
        call(&c, h, Bytes::from(sb), "Format failed").await?;
        Ok(())
    }

    pub(crate) async fn cluster_info(&mut self) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let (nodes, epoch) = self.nodes(&c).await?;
        let slots = nodes.len() as u32;
        let rec = EPOCH_LOG_SIZE + nodes.len() * SdNode::SIZE;
        let a = ClusterReq {
            nodes_nr: slots,
            ..ClusterReq::default()
        };
        let h = admin(AdminOp::StatCluster(a), NONE, epoch * rec as u32);
        let (r, p) = send(&c, h, Bytes::new())
            .await
            .map_err(|e| DogError::client("Failed to get cluster status", e))?;
        let status = if r.result.is_success() {
            "running, auto-recovery enabled".to_string()
        } else {
            r.result.description().to_string()
        };
        let mut logs = Vec::new();
        if r.result.is_success() {
            // Whole records only: a short reply keeps the records it has.
            let whole = p.len() - p.len() % rec;
            let reply = StatClusterReply::decode(&p[..whole], slots)
                .map_err(|e| DogError::Other(format!("Failed to get cluster status: {e}")))?;
            for er in reply.records {
                let ns: Vec<Node> = er.nodes.iter().map(Node::from_wire).collect();
                let l = er.log;
                logs.push((l.ctime, l.time, l.epoch, ns, l.nr_copies));
            }
        }
        if self.json {
            let v = json!({
                "status": status,
                "result": r.result.name(),
                "epochs": logs.iter().map(|(ct, t, e, ns, cp)| json!({
                    "ctime": ct >> 32, "time": t, "epoch": e, "copies": cp,
                    "nodes": ns.iter().map(|n| json!({"addr": n.addr.to_string(), "vnodes": n.vnodes})).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            });
            return self.out_json(v).await;
        }
        // Raw (-r), as the C dog: no labels or headers, times in seconds.
        let mut s = if self.raw {
            format!("{status}\n")
        } else {
            format!("Cluster status: {status}\n")
        };
        if let Some((ct, ..)) = logs.first().filter(|_| !self.raw) {
            s += &format!(
                "\nCluster created at {}\n\nEpoch Time           Version [Host:Port:V-Nodes,,,]\n",
                fmt::time(ct >> 32, "%a %b %e %H:%M:%S %Y")
            );
        }
        for (_, t, e, ns, _) in &logs {
            let list: Vec<String> = ns
                .iter()
                .map(|n| format!("{}:{}", n.addr, n.vnodes))
                .collect();
            if self.raw {
                s += &format!("{t} {e} [{}]\n", list.join(", "));
            } else {
                s += &format!(
                    "{} {:6} [{}]\n",
                    fmt::time(*t, "%Y-%m-%d %H:%M:%S"),
                    e,
                    list.join(", ")
                );
            }
        }
        self.out(&s).await
    }

    pub(crate) async fn cluster_shutdown(&mut self) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let h = admin(AdminOp::Shutdown(NoArgs::default()), NONE, 0);
        call(&c, h, Bytes::new(), "Failed to shutdown").await?;
        Ok(())
    }

    pub(crate) async fn node_list(&mut self) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let (nodes, _) = self.nodes(&c).await?;
        if self.json {
            let v: Vec<_> = nodes
                .iter()
                .enumerate()
                .map(|(i, n)| json!({"id": i, "addr": n.addr.to_string(), "vnodes": n.vnodes, "zone": n.zone}))
                .collect();
            return self.out_json(v.into()).await;
        }
        let mut s = String::new();
        if !self.raw {
            s += "  Id   Host:Port         V-Nodes       Zone\n";
        }
        for (i, n) in nodes.iter().enumerate() {
            if self.raw {
                s += &format!("{i} {} {} {}\n", n.addr, n.vnodes, n.zone);
            } else {
                s += &format!(
                    "{i:4}   {:<20}\t{:2}{:11}\n",
                    n.addr.to_string(),
                    n.vnodes,
                    n.zone
                );
            }
        }
        self.out(&s).await
    }

    pub(crate) async fn node_info(&mut self) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let (nodes, _) = self.nodes(&c).await?;
        let mut rows = Vec::new();
        for n in &nodes {
            let nc = if n.addr == self.gw {
                None
            } else {
                Some(self.conn(n.addr).await?)
            };
            let (r, _) = call(
                nc.as_ref().unwrap_or(&c),
                admin(AdminOp::StatSheep(NoArgs::default()), NONE, 0),
                Bytes::new(),
                &format!("Failed to get node info of {}", n.addr),
            )
            .await?;
            let n = wire::node_rsp(&r);
            rows.push((n.store_size, n.store_free));
        }
        let vdis = self.all_vdis(&c).await?;
        // Snapshots are not counted, as by the C dog.
        let vsize: u64 = vdis
            .iter()
            .filter(|v| v.snap_ctime == 0)
            .map(|v| v.size)
            .sum();
        let (tsize, tfree) = rows
            .iter()
            .fold((0u64, 0u64), |(a, b), (s, f)| (a + s, b + f));
        if self.json {
            let v = json!({
                "nodes": rows.iter().enumerate().map(|(i, (s, f))| json!({"id": i, "size": s, "used": s.saturating_sub(*f), "avail": f})).collect::<Vec<_>>(),
                "total": {"size": tsize, "used": tsize.saturating_sub(tfree), "avail": tfree},
                "vdi_size": vsize,
            });
            return self.out_json(v).await;
        }
        let pct = |s: u64, f: u64| ((s - f.min(s)) * 100).checked_div(s).unwrap_or(0);
        let sz = |n: u64| fmt::size(n, self.raw);
        let mut s = String::new();
        if !self.raw {
            s += "Id\tSize\tUsed\tAvail\tUse%\n";
        }
        for (i, &(size, free)) in rows.iter().enumerate() {
            let (size_s, used, free_s) = (sz(size), sz(size.saturating_sub(free)), sz(free));
            let p = pct(size, free);
            if self.raw {
                s += &format!("{i} {size_s} {used} {free_s} {p}%\n");
            } else {
                s += &format!("{i:2}\t{size_s}\t{used}\t{free_s}\t{p:3}%\n");
            }
        }
        let (size_s, used, free_s) = (sz(tsize), sz(tsize.saturating_sub(tfree)), sz(tfree));
        let p = pct(tsize, tfree);
        if self.raw {
            s += &format!("Total {size_s} {used} {free_s} {p}% {}\n", sz(vsize));
        } else {
            s += &format!(
                "Total\t{size_s}\t{used}\t{free_s}\t{p:3}%\n\nTotal virtual image size\t{}\n",
                sz(vsize)
            );
        }
        self.out(&s).await
    }

    pub(crate) async fn node_recovery(&mut self) -> Result<(), DogError> {
        let c = self.conn(self.gw).await?;
        let (nodes, _) = self.nodes(&c).await?;
        let mut rows = Vec::new();
        for n in &nodes {
            let nc = if n.addr == self.gw {
                None
            } else {
                Some(self.conn(n.addr).await?)
            };
            let (_, p) = call(
                nc.as_ref().unwrap_or(&c),
                admin(
                    AdminOp::StatRecovery(NoArgs::default()),
                    NONE,
                    RecoveryState::FIXED_SIZE.unwrap_or(24) as u32,
                ),
                Bytes::new(),
                &format!("Failed to get recovery status of {}", n.addr),
            )
            .await?;
            // A short (older sheep) reply reads as zeros past its end.
            let mut b = p.to_vec();
            b.resize(b.len().max(RecoveryState::FIXED_SIZE.unwrap_or(24)), 0);
            let rs: RecoveryState = decode(&b, "Failed to get recovery status")?;
            rows.push((n.clone(), rs.in_recovery != 0, rs.nr_finished, rs.nr_total));
        }
        if self.json {
            let v: Vec<_> = rows.iter().enumerate().map(|(i, (n, r, d, t))| json!({"id": i, "addr": n.addr.to_string(), "in_recovery": r, "finished": d, "total": t})).collect();
            return self.out_json(v.into()).await;
        }
        let mut s = String::new();
        if !self.raw {
            s += "Nodes In Recovery:\n  Id   Host:Port         V-Nodes       Zone       Progress\n";
        }
        for (i, (n, rec, d, t)) in rows.iter().enumerate() {
            if *rec && self.raw {
                s += &format!("{i} {} {} {} {d} {t}\n", n.addr, n.vnodes, n.zone);
            } else if *rec {
                let pct = if *t == 0 {
                    0.0
                } else {
                    *d as f64 * 100.0 / *t as f64
                };
                s += &format!(
                    "{i:4}   {:<20}\t{:2}{:11}{:11.1}%\n",
                    n.addr.to_string(),
                    n.vnodes,
                    n.zone,
                    pct
                );
            }
        }
        self.out(&s).await
    }
}
