//! Cluster state of a single-node cluster: format parameters, epoch log and
//! node list, persisted in `STORE_DIR/config` and `STORE_DIR/epoch/`.
//!
//! # Format
//!
//! `config` is sheepdog's 40-byte `sheepdog_config` (fact sheet §11.5);
//! `epoch/%08u` holds an `epoch_log` record (48 bytes) followed by the
//! `sd_node`s of that epoch. Both are written with
//! [`write_file_atomic`](crate::store::write_file_atomic).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::store::{read_file_opt, write_file_atomic};

/// Size of one `sd_node` on the wire.
pub const SD_NODE_SIZE: usize = 80;
/// Size of an `epoch_log` header.
pub const EPOCH_LOG_SIZE: usize = 48;
/// Size of `cluster_info` (48 + 6144 x 80).
pub const CLUSTER_INFO_SIZE: usize = 48 + 6144 * SD_NODE_SIZE;
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
    /// The 80-byte `sd_node` (the 24 rb_node bytes are zero).
    pub fn sd_node(&self) -> [u8; SD_NODE_SIZE] {
        let mut n = [0u8; SD_NODE_SIZE];
        match self.addr.ip() {
            IpAddr::V4(v4) => n[36..40].copy_from_slice(&v4.octets()),
            IpAddr::V6(v6) => n[24..40].copy_from_slice(&v6.octets()),
        }
        n[40..42].copy_from_slice(&self.addr.port().to_le_bytes());
        n[64..66].copy_from_slice(&DEFAULT_VNODES.to_le_bytes());
        n[68..72].copy_from_slice(&self.zone.to_le_bytes());
        n[72..80].copy_from_slice(&self.space.to_le_bytes());
        n
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
    fn encode(&self, shutdown: bool, space: u64) -> [u8; 40] {
        let mut b = [0u8; 40];
        b[0..8].copy_from_slice(&self.ctime.to_le_bytes());
        b[8..10].copy_from_slice(&self.flags.to_le_bytes());
        b[10] = self.copies;
        let name = self.store.as_bytes();
        let n = name.len().min(15);
        b[11..11 + n].copy_from_slice(&name[..n]);
        b[27] = u8::from(shutdown);
        b[28] = self.copy_policy;
        b[29] = self.block_size_shift;
        b[30..32].copy_from_slice(&CONFIG_VERSION.to_le_bytes());
        b[32..40].copy_from_slice(&space.to_le_bytes());
        b
    }

    fn decode(b: &[u8]) -> io::Result<Format> {
        if b.len() != 40 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("config file is {} bytes, expected 40", b.len()),
            ));
        }
        let store = &b[11..27];
        let end = store.iter().position(|&c| c == 0).unwrap_or(16);
        Ok(Format {
            ctime: u64::from_le_bytes(b[0..8].try_into().unwrap()),
            flags: u16::from_le_bytes([b[8], b[9]]),
            copies: b[10],
            copy_policy: b[28],
            block_size_shift: b[29],
            store: String::from_utf8_lossy(&store[..end]).into_owned(),
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
}

impl ClusterState {
    /// Loads the state from `dir` (a fresh directory means "wait for format").
    ///
    /// # Errors
    ///
    /// I/O errors and corrupt files.
    pub fn load(dir: &Path, node: NodeInfo) -> io::Result<ClusterState> {
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
        };
        if st.format.is_some() {
            // A restart of a one-node cluster is a membership change (sheepdog
            // bumps the epoch too when the node list differs); we keep the
            // epoch when the node is unchanged.
            let nodes = st.epoch_nodes(st.epoch)?;
            if nodes.as_deref() != Some(&st.node.sd_node()[24..]) && st.epoch > 0 {
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

    /// Formats the cluster (epoch 1) and persists it.
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
        self.write_epoch(1)?;
        self.epoch = 1;
        self.format = Some(f);
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
        let mut b = self.epoch_log(epoch, now_secs()).to_vec();
        b.extend_from_slice(&self.node.sd_node()[24..]);
        write_file_atomic(self.dir.join("epoch").join(format!("{epoch:08}")), &b)
    }

    /// The identity part (bytes 24..80) of the nodes of `epoch`, if logged.
    fn epoch_nodes(&self, epoch: u32) -> io::Result<Option<Vec<u8>>> {
        Ok(
            read_file_opt(self.dir.join("epoch").join(format!("{epoch:08}")))?
                .filter(|b| b.len() >= EPOCH_LOG_SIZE)
                .map(|b| b[EPOCH_LOG_SIZE..].to_vec()),
        )
    }

    /// The time an epoch was logged (0 if unknown).
    pub fn epoch_time(&self, epoch: u32) -> u64 {
        read_file_opt(self.dir.join("epoch").join(format!("{epoch:08}")))
            .ok()
            .flatten()
            .filter(|b| b.len() >= 16)
            .map_or(0, |b| u64::from_le_bytes(b[8..16].try_into().unwrap()))
    }

    /// Whether epoch `e` was logged.
    pub fn has_epoch(&self, e: u32) -> bool {
        e >= 1 && e <= self.epoch && self.dir.join("epoch").join(format!("{e:08}")).exists()
    }

    /// A 48-byte `epoch_log` header for `epoch`.
    pub fn epoch_log(&self, epoch: u32, time: u64) -> [u8; EPOCH_LOG_SIZE] {
        let f = self.format.clone().unwrap_or_default();
        let mut b = [0u8; EPOCH_LOG_SIZE];
        b[0..8].copy_from_slice(&f.ctime.to_le_bytes());
        b[8..16].copy_from_slice(&time.to_le_bytes());
        b[16..20].copy_from_slice(&epoch.to_le_bytes());
        b[20..24].copy_from_slice(&1u32.to_le_bytes());
        b[25] = f.copies;
        b[26] = f.copy_policy;
        b[30..32].copy_from_slice(&f.flags.to_le_bytes());
        let n = f.store.len().min(15);
        b[32..32 + n].copy_from_slice(&f.store.as_bytes()[..n]);
        b
    }

    /// The full `cluster_info` (491,568 bytes).
    pub fn cluster_info(&self) -> Vec<u8> {
        let mut b = vec![0u8; CLUSTER_INFO_SIZE];
        b[0] = crate::net::frame::ver::SD_SHEEP_PROTO_VER;
        b[2..4].copy_from_slice(&1i16.to_le_bytes());
        b[4..8].copy_from_slice(&self.epoch.to_le_bytes());
        if let Some(f) = &self.format {
            b[8..16].copy_from_slice(&f.ctime.to_le_bytes());
            b[16..18].copy_from_slice(&f.flags.to_le_bytes());
            b[18] = f.copies;
            b[19] = f.copy_policy;
            b[20] = 1; // SD_STATUS_OK
            b[21] = f.block_size_shift;
            let n = f.store.len().min(15);
            b[25..25 + n].copy_from_slice(&f.store.as_bytes()[..n]);
        } else {
            b[20] = 2; // SD_STATUS_WAIT
        }
        b[48..48 + SD_NODE_SIZE].copy_from_slice(&self.node.sd_node());
        b
    }
}

/// Seconds since the epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// sheepdog's ctime encoding: `sec << 32 | nsec`.
pub fn now_ctime() -> u64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    (d.as_secs() << 32) | u64::from(d.subsec_nanos())
}

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
        let ci = st3.cluster_info();
        assert_eq!(ci.len(), CLUSTER_INFO_SIZE);
        assert_eq!(ci[20], 1);
        assert_eq!(&ci[48 + 36..48 + 40], &[127, 0, 0, 1]);
    }
}
