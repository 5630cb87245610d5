//! Cluster membership, epochs and placement (sheepdog consistent hashing).
