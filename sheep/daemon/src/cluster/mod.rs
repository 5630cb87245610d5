//! Cluster membership, epochs and placement (sheepdog consistent hashing).
//!
//! * [`hash`], [`placement`]: sheepdog's FNV hashing and the vnode ring;
//! * [`driver`]: the [`ClusterDriver`] trait (membership and a total order
//!   of join/leave/notify events) and [`parse_driver_spec`];
//! * [`local`] and [`etcd`]: the two drivers;
//! * [`join`]: join with protocol version negotiation;
//! * [`membership`]: a node's join and its folded view (members, epoch, window).
//! * [`state`]: this node's persisted cluster state (format, epoch log,
//!   its address and zone) and the MAKE_FS notice.

pub mod driver;
pub mod etcd;
pub mod hash;
pub mod join;
pub mod local;
pub mod membership;
pub mod placement;
pub mod state;

pub use driver::{
    accept_all, parse_driver_spec, ClusterDriver, ClusterEvent, DriverError, DriverSpec, JoinJudge,
    JoinOutcome,
};

/// Opens the driver selected by `spec` for a sheep whose store is
/// `store_dir` (the default `local` directory is derived from it), with
/// default timings.
///
/// # Errors
///
/// [`DriverError`] for bad specs and I/O errors.
pub fn open_driver(
    spec: &DriverSpec,
    store_dir: &std::path::Path,
) -> Result<Box<dyn ClusterDriver>, DriverError> {
    match spec {
        DriverSpec::Local(dir) => {
            let dir = dir.clone().unwrap_or_else(|| local::default_dir(store_dir));
            local::local_driver(&dir, local::LocalOptions::default())
        }
        DriverSpec::Etcd { endpoints, cluster } => {
            etcd::etcd_driver(endpoints, cluster, etcd::EtcdOptions::default())
        }
    }
}
