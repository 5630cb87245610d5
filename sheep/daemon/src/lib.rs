//! # sheep
//!
//! A sheepdog-compatible distributed block store daemon (gateway, peer and
//! admin roles) and the `dog` admin CLI, built on [`sdwire`].
//!
//! The protocol types live in the `sheep-proto` crate and the client
//! library (with `dog`) in `sheep-client`; this crate is the daemon:
//! * [`cluster`]: hashing, placement, membership;
//! * [`store`]: the local object store;
//!
//! [`proto`] and [`client`] re-export those two crates under the paths the
//! daemon's modules (and its tests) use.
#![warn(missing_docs)]

pub mod cluster;
pub mod config;
pub mod handlers;
pub mod objects;
pub mod replication;
pub mod server;
pub mod store;
pub mod sync;

pub use sheep_client as client;
pub use sheep_proto as proto;
