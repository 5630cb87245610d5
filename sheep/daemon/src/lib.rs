//! # sheep
//!
//! A sheepdog-compatible distributed block store daemon (gateway, peer and
//! admin roles) and the `dog` admin CLI, built on [`sdwire`].
//!
//! Layout of the crate follows the architecture:
//! * [`proto`]: every on-wire structure and the three op tables (client, peer, admin);
//! * [`cluster`]: hashing, placement, membership;
//! * [`store`]: the local object store;
//! * [`trace`]: reader for the golden `sdtrace v1` recordings used by conformance tests.
#![warn(missing_docs)]

pub mod admin;
pub mod alloc;
pub mod client;
pub mod cluster;
pub mod daemon;
pub mod dog;
pub mod gateway;
pub mod net;
pub mod peer;
pub mod proto;
pub mod recovery;
pub mod store;
pub mod trace;
pub mod vdi;
