//! Cluster membership, epochs and placement (sheepdog consistent hashing).

pub mod hash;
pub mod placement;
