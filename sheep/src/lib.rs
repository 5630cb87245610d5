//! # sheep
//!
//! A sheepdog-compatible distributed block store daemon (gateway, peer and
//! admin roles) and the `dog` admin CLI, built on [`sdwire`].
#![warn(missing_docs)]
