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

pub mod admin;
pub mod cluster;
pub mod daemon;
pub mod gateway;
pub mod net;
pub mod peer;
pub mod recovery;
pub mod store;
pub mod vdi;

pub use sheep_client as client;
pub use sheep_proto as proto;
