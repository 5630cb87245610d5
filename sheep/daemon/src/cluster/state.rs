//! This node's persisted view of the cluster: format parameters, epoch log
//! and the node list of each epoch, in `STORE_DIR/config` and `STORE_DIR/epoch/`.
//!
//! # Format
//!
//! `config` is sheepdog's 40-byte `sheepdog_config` (docs/sheepdog-facts.md §11.5);
//! `epoch/%08u` holds an `epoch_log` record (48 bytes) followed by the
//! `sd_node`s of that epoch. Both are written with
//! [`crate::store::write_file_atomic`].

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use sdwire::Wire;

use crate::proto::cluster_info::{c_str, padded};
use crate::proto::{
    ClusterFlags, ClusterInfo, ClusterInfoHeader, EpochLog, SdNode, SdStatus, SheepdogConfig,
    SD_SHEEP_PROTO_VER,
};
use crate::store::{read_file_opt, write_file_atomic};

/// Config file version written by sheepdog 1.0.
const CONFIG_VERSION: u16 = 6;
/// Default number of vnodes.
const DEFAULT_VNODES: u16 = 128;

/// This node's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeInfo {
    /// Listen address.
    pub addr: SocketAddr,
    /// Zone.
    pub zone: u32,
    /// Store capacity in bytes.
    pub space: u64,
}

impl NodeInfo {
    /// This node as an `sd_node`.
    pub fn sd_node(&self) -> SdNode {
        SdNode {
            zone: self.zone,
            ..SdNode::new(self.addr, DEFAULT_VNODES, self.space)
        }
    }

    /// The identity part of the encoded `sd_node` (without the 24 rb_node
    /// bytes), as kept in the epoch files.
    fn epoch_entry(&self) -> Vec<u8> {
        let mut b = sdwire::to_vec(&self.sd_node(), 0).expect("fixed-size sd_node");
        b.drain(..24);
        b
    }
}

/// The format parameters chosen by MAKE_FS.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Format {
    /// Cluster identity (`sec << 32 | nsec`).
    pub ctime: u64,
    /// `SD_CLUSTER_FLAG_*`.
    pub flags: u16,
    /// Default copies.
    pub copies: u8,
    /// Default copy policy.
    pub copy_policy: u8,
    /// Default block_size_shift.
    pub block_size_shift: u8,
    /// Backend store name ("plain").
    pub store: String,
}

impl Format {
    /// The store name as a NUL-padded 16-byte field (at most 15 bytes kept).
    fn store_field(&self) -> [u8; 16] {
        let name = self.store.as_bytes();
        padded(&name[..name.len().min(15)])
    }

    fn encode(&self, shutdown: bool, space: u64) -> Vec<u8> {
        let c = SheepdogConfig {
            ctime: self.ctime,
            flags: ClusterFlags(self.flags),
            copies: self.copies,
            default_store: self.store_field(),
            shutdown: u8::from(shutdown),
            copy_policy: self.copy_policy,
            block_size_shift: self.block_size_shift,
            version: CONFIG_VERSION,
            space,
        };
        sdwire::to_vec(&c, 0).expect("fixed-size config")
    }

    fn decode(b: &[u8]) -> io::Result<Format> {
        if b.len() != SheepdogConfig::FIXED_SIZE.unwrap_or(40) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("config file is {} bytes, expected 40", b.len()),
            ));
        }
        let c: SheepdogConfig = sdwire::from_slice(b, 0)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        Ok(Format {
            ctime: c.ctime,
            flags: c.flags.bits(),
            copies: c.copies,
            copy_policy: c.copy_policy,
            block_size_shift: c.block_size_shift,
            store: String::from_utf8_lossy(c_str(&c.default_store)).into_owned(),
        })
    }
}

/// The state of this one-node cluster.
#[derive(Debug)]
pub struct ClusterState {
    dir: PathBuf,
    /// This node.
    pub node: NodeInfo,
    /// Format parameters, `None` while waiting for format.
    pub format: Option<Format>,
    /// Current epoch (0 before format).
    pub epoch: u32,
    /// Epochs come from the cluster membership ([`record_epoch`](Self::record_epoch)).
    clustered: bool,
}

impl ClusterState {
    /// Loads the state from `dir` (a fresh directory means "wait for format").
    ///
    /// # Errors
    ///
    /// I/O errors and corrupt files.
    pub fn load(dir: &Path, node: NodeInfo) -> io::Result<ClusterState> {
        Self::load_with(dir, node, false)
    }

    /// Like [`load`](Self::load); a `clustered` node keeps its logged epochs
    /// as they are (the membership numbers the epochs and logs every one of
    /// them with its node list, see [`record_epoch`](Self::record_epoch)).
    ///
    /// # Errors
    ///
    /// I/O errors and corrupt files.
    pub fn load_with(dir: &Path, node: NodeInfo, clustered: bool) -> io::Result<ClusterState> {
        let format = match read_file_opt(dir.join("config"))? {
            Some(b) => Some(Format::decode(&b)?),
            None => None,
        };
        let mut epoch = 0;
        if let Ok(rd) = std::fs::read_dir(dir.join("epoch")) {
            for e in rd.flatten() {
                if let Some(n) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) {
                    epoch = epoch.max(n);
                }
            }
        }
        let mut st = ClusterState {
            dir: dir.to_path_buf(),
            node,
            format,
            epoch,
            clustered,
        };
        if st.format.is_some() && !clustered {
            // A restart of a one-node cluster is a membership change (sheepdog
            // bumps the epoch too when the node list differs); we keep the
            // epoch when the node is unchanged.
            let nodes = st.epoch_nodes(st.epoch)?;
            if nodes.as_deref() != Some(&st.node.epoch_entry()[..]) && st.epoch > 0 {
                let e = st.epoch + 1;
                st.write_epoch(e)?;
                st.epoch = e;
            } else if st.epoch == 0 {
                st.write_epoch(1)?;
                st.epoch = 1;
            }
        }
        Ok(st)
    }

    /// Formats the cluster (epoch 1 when not clustered) and persists it.
    ///
    /// # Errors
    ///
    /// I/O errors.
    pub fn make_fs(&mut self, f: Format) -> io::Result<()> {
        std::fs::create_dir_all(self.dir.join("epoch"))?;
        for e in std::fs::read_dir(self.dir.join("epoch"))?.flatten() {
            std::fs::remove_file(e.path())?;
        }
        write_file_atomic(self.dir.join("config"), &f.encode(false, self.node.space))?;
        self.format = Some(f);
        if self.clustered {
            // The membership's epochs continue; the caller logs the current
            // one with its members.
            self.epoch = 0;
        } else {
            self.write_epoch(1)?;
            self.epoch = 1;
        }
        Ok(())
    }

    /// Records a clean shutdown in the config file.
    ///
    /// # Errors
    ///
    /// I/O errors.
    pub fn mark_shutdown(&self) -> io::Result<()> {
        if let Some(f) = &self.format {
            write_file_atomic(self.dir.join("config"), &f.encode(true, self.node.space))?;
        }
        Ok(())
    }

    fn write_epoch(&self, epoch: u32) -> io::Result<()> {
        std::fs::create_dir_all(self.dir.join("epoch"))?;
        let mut b = sdwire::to_vec(&self.epoch_log(epoch, now_secs()), 0).expect("fixed-size log");
        b.extend_from_slice(&self.node.epoch_entry());
        write_file_atomic(self.dir.join("epoch").join(format!("{epoch:08}")), &b)
    }

    /// Logs the membership `nodes` of `epoch` (clustered daemons call this on
    /// every membership change, so that every member keeps the node list of
    /// every epoch it lived through), and makes `epoch` current if newer.
    ///
    /// # Errors
    ///
    /// I/O errors.
    pub fn record_epoch(&mut self, epoch: u32, nodes: &[SdNode]) -> io::Result<()> {
        if epoch == 0 {
            return Ok(());
        }
        std::fs::create_dir_all(self.dir.join("epoch"))?;
        let mut log = self.epoch_log(epoch, now_secs());
        log.nr_nodes = u32::try_from(nodes.len()).unwrap_or(u32::MAX);
        let mut b = sdwire::to_vec(&log, 0).expect("fixed-size log");
        for n in nodes {
            let mut e = sdwire::to_vec(n, 0).expect("fixed-size sd_node");
            e.drain(..24);
            b.extend_from_slice(&e);
        }
        write_file_atomic(self.dir.join("epoch").join(format!("{epoch:08}")), &b)?;
        self.epoch = self.epoch.max(epoch);
        Ok(())
    }

    /// The node list logged for `epoch` (`None` if that epoch is not logged
    /// here or its file is unreadable).
    pub fn nodes_of_epoch(&self, epoch: u32) -> Option<Vec<SdNode>> {
        let body = self.epoch_nodes(epoch).ok()??;
        let entry = SdNode::SIZE - 24;
        if body.is_empty() || body.len() % entry != 0 {
            return None;
        }
        body.chunks(entry)
            .map(|c| {
                let mut full = vec![0u8; 24];
                full.extend_from_slice(c);
                sdwire::from_slice::<SdNode>(&full, 0).ok()
            })
            .collect()
    }

    /// The logged epochs, newest first.
    pub fn logged_epochs(&self) -> Vec<u32> {
        let mut v: Vec<u32> = std::fs::read_dir(self.dir.join("epoch"))
            .map(|rd| {
                rd.flatten()
                    .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse().ok()))
                    .collect()
            })
            .unwrap_or_default();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v
    }

    /// The identity part (bytes 24..80) of the nodes of `epoch`, if logged.
    fn epoch_nodes(&self, epoch: u32) -> io::Result<Option<Vec<u8>>> {
        Ok(
            read_file_opt(self.dir.join("epoch").join(format!("{epoch:08}")))?
                .filter(|b| b.len() >= EpochLog::FIXED_SIZE.unwrap_or(48))
                .map(|b| b[EpochLog::FIXED_SIZE.unwrap_or(48)..].to_vec()),
        )
    }

    /// The time an epoch was logged (0 if unknown).
    pub fn epoch_time(&self, epoch: u32) -> u64 {
        read_file_opt(self.dir.join("epoch").join(format!("{epoch:08}")))
            .ok()
            .flatten()
            .and_then(|b| sdwire::from_slice::<EpochLog>(&b, 0).ok())
            .map_or(0, |l| l.time)
    }

    /// Whether epoch `e` was logged.
    pub fn has_epoch(&self, e: u32) -> bool {
        e >= 1 && e <= self.epoch && self.dir.join("epoch").join(format!("{e:08}")).exists()
    }

    /// The `epoch_log` header of `epoch` (this node only).
    pub fn epoch_log(&self, epoch: u32, time: u64) -> EpochLog {
        let f = self.format.clone().unwrap_or_default();
        EpochLog {
            ctime: f.ctime,
            time,
            epoch,
            nr_nodes: 1,
            disable_recovery: 0,
            nr_copies: f.copies,
            copy_policy: f.copy_policy,
            flags: ClusterFlags(f.flags),
            drv_name: f.store_field(),
            ..EpochLog::default()
        }
    }

    /// The `cluster_info` of this node (CLUSTER_INFO reply).
    pub fn cluster_info(&self) -> ClusterInfo {
        let f = self.format.clone();
        let g = f.clone().unwrap_or_default();
        ClusterInfo {
            header: ClusterInfoHeader {
                proto_ver: SD_SHEEP_PROTO_VER,
                disable_recovery: 0,
                nr_nodes: 1,
                epoch: self.epoch,
                ctime: g.ctime,
                flags: ClusterFlags(g.flags),
                nr_copies: g.copies,
                copy_policy: g.copy_policy,
                status: if f.is_some() {
                    SdStatus::Ok
                } else {
                    SdStatus::Wait
                },
                block_size_shift: g.block_size_shift,
                _pad: [0; 3],
                default_store: g.store_field(),
                _pad2: [0; 7],
            },
            nodes: vec![self.node.sd_node()],
        }
    }
}

/// Prefix of a MAKE_FS notification.
const MKFS_MAGIC: &[u8] = b"SHEEP-MKFS-1\0";

/// Encodes a MAKE_FS notification.
pub fn encode_make_fs(f: &Format) -> Bytes {
    let mut b = MKFS_MAGIC.to_vec();
    b.extend_from_slice(&f.ctime.to_le_bytes());
    b.extend_from_slice(&f.flags.to_le_bytes());
    b.extend_from_slice(&[f.copies, f.copy_policy, f.block_size_shift]);
    b.extend_from_slice(f.store.as_bytes());
    Bytes::from(b)
}

/// Decodes a MAKE_FS notification.
pub fn decode_make_fs(b: &[u8]) -> Option<Format> {
    let b = b.strip_prefix(MKFS_MAGIC)?;
    if b.len() < 13 {
        return None;
    }
    Some(Format {
        ctime: u64::from_le_bytes(b[..8].try_into().ok()?),
        flags: u16::from_le_bytes(b[8..10].try_into().ok()?),
        copies: b[10],
        copy_policy: b[11],
        block_size_shift: b[12],
        store: String::from_utf8_lossy(&b[13..]).into_owned(),
    })
}

pub use crate::proto::time::{now_ctime, now_secs};

#[cfg(test)]
mod tests {
    use super::*;

    fn node() -> NodeInfo {
        NodeInfo {
            addr: "127.0.0.1:7000".parse().unwrap(),
            zone: 5,
            space: 1 << 30,
        }
    }

    #[test]
    fn format_persists_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = ClusterState::load(dir.path(), node()).unwrap();
        assert!(st.format.is_none());
        assert_eq!(st.epoch, 0);
        let f = Format {
            ctime: 42,
            flags: 4,
            copies: 1,
            copy_policy: 0,
            block_size_shift: 22,
            store: "plain".into(),
        };
        st.make_fs(f.clone()).unwrap();
        assert_eq!(st.epoch, 1);
        let st2 = ClusterState::load(dir.path(), node()).unwrap();
        assert_eq!(st2.format, Some(f));
        assert_eq!(st2.epoch, 1);
        let mut other = node();
        other.addr = "127.0.0.1:7001".parse().unwrap();
        let st3 = ClusterState::load(dir.path(), other).unwrap();
        assert_eq!(st3.epoch, 2);
        let ci = sdwire::to_vec(&st3.cluster_info(), 0).unwrap();
        assert_eq!(ci.len(), ClusterInfo::SIZE);
        assert_eq!(ci[20], 1);
        assert_eq!(&ci[48 + 36..48 + 40], &[127, 0, 0, 1]);
    }

    #[test]
    fn clustered_epochs_keep_their_node_lists() {
        let dir = tempfile::tempdir().unwrap();
        let mut st = ClusterState::load_with(dir.path(), node(), true).unwrap();
        st.make_fs(Format {
            copies: 2,
            store: "plain".into(),
            ..Format::default()
        })
        .unwrap();
        assert_eq!(st.epoch, 0, "the membership numbers the epochs");
        let a = SdNode::new("127.0.0.1:7000".parse().unwrap(), 128, 1 << 30);
        let b = SdNode::new("127.0.0.1:7001".parse().unwrap(), 64, 1 << 30);
        st.record_epoch(4, &[a]).unwrap();
        st.record_epoch(5, &[a, b]).unwrap();
        assert_eq!(st.epoch, 5);
        assert_eq!(st.nodes_of_epoch(5), Some(vec![a, b]));
        assert_eq!(st.nodes_of_epoch(4), Some(vec![a]));
        assert_eq!(st.nodes_of_epoch(3), None);
        assert_eq!(st.logged_epochs(), vec![5, 4]);
        // A restart keeps the log as it is (no one-node epoch is added).
        let st2 = ClusterState::load_with(dir.path(), node(), true).unwrap();
        assert_eq!(st2.epoch, 5);
        assert_eq!(st2.logged_epochs(), vec![5, 4]);
        assert!(st2.has_epoch(4) && !st2.has_epoch(1));
    }
}
