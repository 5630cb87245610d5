//! The lock-poisoning policy, shared with the client library so that sheep
//! has one ([`sheep_client::sync`]): a poisoned lock is recovered, never
//! propagated as a panic. Every `std::sync` lock is taken through these.

pub use sheep_client::sync::{lock, read, write};
