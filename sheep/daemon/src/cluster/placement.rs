//! Object placement: the vnode ring and the object -> replica walk
//! (docs/sheepdog-facts.md §13).
//!
//! Every node owns `nr_vnodes` positions on a 64-bit ring. The positions
//! are a hash chain seeded with the node's address and port. An object
//! hashes to a point H. Its primary is the first vnode at or after H,
//! wrapping around. Further replicas are the next vnodes (walking forward)
//! whose zone differs from every replica already chosen.
//!
//! This module deliberately knows nothing about the wire structures: callers
//! build [`PlacementNode`]s from whatever `sd_node` representation they hold.

use std::collections::HashSet;

use thiserror::Error;

use super::hash::{sd_hash, sd_hash_next, sd_hash_oid};

/// Vnodes per node with the default weight (`SD_DEFAULT_VNODES`).
pub const SD_DEFAULT_VNODES: u16 = 128;

/// Maximum redundancy (`SD_MAX_COPIES`). The C code also stops counting
/// zones at this value.
pub use crate::proto::cluster_info::SD_MAX_COPIES;

/// The part of an `sd_node` that placement depends on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PlacementNode {
    /// `node_id.addr`: IPv6 bytes, or 12 zero bytes followed by the IPv4 address.
    pub addr: [u8; 16],
    /// `node_id.port` (the listen port).
    pub port: u16,
    /// Failure zone; two replicas never share a zone.
    pub zone: u32,
    /// Number of ring positions; 0 for a gateway-only node.
    pub nr_vnodes: u16,
}

impl PlacementNode {
    /// A node on an IPv4 address (stored as 12 zero bytes and the 4 address bytes).
    pub fn ipv4(ip: [u8; 4], port: u16, zone: u32, nr_vnodes: u16) -> PlacementNode {
        let mut addr = [0u8; 16];
        addr[12..].copy_from_slice(&ip);
        PlacementNode {
            addr,
            port,
            zone,
            nr_vnodes,
        }
    }

    /// The bytes hashed to seed the node's vnode chain: the first 18 bytes of
    /// `node_id`, i.e. `addr` followed by `port` as little-endian u16.
    /// `io_addr`/`io_port` are not part of it.
    pub fn hash_key(&self) -> [u8; 18] {
        let mut key = [0u8; 18];
        key[..16].copy_from_slice(&self.addr);
        key[16..].copy_from_slice(&self.port.to_le_bytes());
        key
    }

    /// The ring positions of this node, in chain order:
    /// h0 = `sd_hash(hash_key)`, vnode k has `h_k = sd_hash_next(h_{k-1})`
    /// for k = 1..=nr_vnodes (h0 itself is not a position).
    pub fn vnode_hashes(&self) -> impl Iterator<Item = u64> {
        let mut h = sd_hash(&self.hash_key());
        (0..self.nr_vnodes).map(move |_| {
            h = sd_hash_next(h);
            h
        })
    }
}

/// Vnode counts for nodes with the given store sizes (the AUTO_VNODES rule):
/// `round(128 * space / average)`, where the average is taken over the nodes
/// with `space > 0` (integer division, as in C), and 0 for a node with no space.
///
/// The arithmetic follows the C code: the ratio is computed in single
/// precision, then rounded half-to-even (`rint`). If no node has space, every
/// node gets 0.
pub fn auto_vnodes(spaces: &[u64]) -> Vec<u16> {
    let (sum, count) = spaces
        .iter()
        .filter(|&&s| s > 0)
        .fold((0u128, 0u128), |(sum, n), &s| (sum + u128::from(s), n + 1));
    if count == 0 {
        return vec![0; spaces.len()];
    }
    let avg = (sum / count) as u64;
    spaces
        .iter()
        .map(|&s| {
            let factor = s as f32 / avg as f32;
            let v = f64::from(f32::from(SD_DEFAULT_VNODES) * factor).round_ties_even();
            // `as` saturates; a node can hold at most `128 * nr_nodes` vnodes anyway.
            v as u16
        })
        .collect()
}

/// Why an object cannot be placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Error)]
pub enum PlacementError {
    /// No node has a vnode (empty cluster or gateways only). The C gateway
    /// answers HALT in this state.
    #[error("the vnode ring is empty")]
    EmptyRing,
}

/// The vnode ring of one membership (one epoch), built once.
#[derive(Clone, Debug, Default)]
pub struct VnodeRing {
    /// Ring positions, sorted ascending.
    hashes: Vec<u64>,
    /// `owners[i]` is the node index (into the slice given to `new`) of `hashes[i]`.
    owners: Vec<u32>,
    /// Zone of each node, by node index.
    zones: Vec<u32>,
    /// Distinct zones of nodes with vnodes, capped at `SD_MAX_COPIES`.
    nr_zones: usize,
}

impl VnodeRing {
    /// Builds the ring for `nodes`. The indices returned by
    /// [`replicas`](Self::replicas) refer to this slice.
    pub fn new(nodes: &[PlacementNode]) -> VnodeRing {
        let total: usize = nodes.iter().map(|n| usize::from(n.nr_vnodes)).sum();
        let mut ring: Vec<(u64, u32)> = Vec::with_capacity(total);
        for (i, n) in nodes.iter().enumerate() {
            let idx = u32::try_from(i).expect("more than 2^32 nodes");
            ring.extend(n.vnode_hashes().map(|h| (h, idx)));
        }
        // Positions are compared as unsigned 64-bit values. A 64-bit collision
        // is astronomically unlikely; ties are broken by node index so the
        // result does not depend on the sort algorithm.
        ring.sort_unstable();

        let mut seen = HashSet::new();
        let mut nr_zones = 0;
        for n in nodes.iter().filter(|n| n.nr_vnodes > 0) {
            if nr_zones == SD_MAX_COPIES {
                break;
            }
            if seen.insert(n.zone) {
                nr_zones += 1;
            }
        }

        VnodeRing {
            hashes: ring.iter().map(|&(h, _)| h).collect(),
            owners: ring.iter().map(|&(_, o)| o).collect(),
            zones: nodes.iter().map(|n| n.zone).collect(),
            nr_zones,
        }
    }

    /// Number of nodes the ring was built from (including gateway-only nodes).
    pub fn nr_nodes(&self) -> usize {
        self.zones.len()
    }

    /// Total number of vnodes on the ring.
    pub fn nr_vnodes(&self) -> usize {
        self.hashes.len()
    }

    /// True when no node has a vnode.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Number of distinct zones among the nodes that have vnodes (gateway-only
    /// nodes do not add redundancy), capped at [`SD_MAX_COPIES`].
    pub fn nr_zones(&self) -> usize {
        self.nr_zones
    }

    /// The ring positions in ascending order, with the index of the owning node.
    pub fn vnodes(&self) -> impl Iterator<Item = (u64, usize)> + '_ {
        self.hashes
            .iter()
            .zip(&self.owners)
            .map(|(&h, &o)| (h, o as usize))
    }

    /// Index (into the ring) of the first vnode with position >= `h`, wrapping
    /// to 0. Must not be called on an empty ring.
    fn first_at_or_after(&self, h: u64) -> usize {
        let i = self.hashes.partition_point(|&x| x < h);
        if i == self.hashes.len() {
            0
        } else {
            i
        }
    }

    /// The primary holder of `oid`: the owner of the first vnode at or after
    /// `sd_hash_oid(oid)`. `None` on an empty ring.
    pub fn primary(&self, oid: u64) -> Option<usize> {
        if self.is_empty() {
            return None;
        }
        Some(self.owners[self.first_at_or_after(sd_hash_oid(oid))] as usize)
    }

    /// The nodes holding `oid`, in replica (ec_index) order: element i is the
    /// index of the node that receives copy i.
    ///
    /// The number of replicas is `min(copies, nr_zones())`. An empty ring (or
    /// `copies == 0`) gives an empty list; see [`try_replicas`](Self::try_replicas)
    /// to tell an empty ring apart.
    pub fn replicas(&self, oid: u64, copies: usize) -> Vec<usize> {
        self.try_replicas(oid, copies).unwrap_or_default()
    }

    /// Like [`replicas`](Self::replicas), but an empty ring is an error.
    pub fn try_replicas(&self, oid: u64, copies: usize) -> Result<Vec<usize>, PlacementError> {
        if self.is_empty() {
            return Err(PlacementError::EmptyRing);
        }
        let want = copies.min(self.nr_zones);
        let mut chosen: Vec<usize> = Vec::with_capacity(want);
        if want == 0 {
            return Ok(chosen);
        }
        let len = self.hashes.len();
        let start = self.first_at_or_after(sd_hash_oid(oid));
        chosen.push(self.owners[start] as usize);
        let mut pos = start;
        while chosen.len() < want {
            pos = (pos + 1) % len;
            // Cannot happen: `want` never exceeds the number of zones on the ring.
            assert_ne!(pos, start, "placement walk wrapped around the ring");
            let node = self.owners[pos] as usize;
            let zone = self.zones[node];
            if chosen.iter().all(|&c| self.zones[c] != zone) {
                chosen.push(node);
            }
        }
        Ok(chosen)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn three() -> Vec<PlacementNode> {
        (0..3)
            .map(|i| PlacementNode::ipv4([127, 0, 0, 1], 7000 + i as u16, i, 128))
            .collect()
    }

    #[test]
    fn hash_key_layout() {
        let n = PlacementNode::ipv4([127, 0, 0, 1], 7000, 0, 128);
        let mut expect = [0u8; 18];
        expect[12..16].copy_from_slice(&[0x7f, 0, 0, 1]);
        expect[16..].copy_from_slice(&[0x58, 0x1b]);
        assert_eq!(n.hash_key(), expect);
    }

    #[test]
    fn vnode_chain() {
        let n = PlacementNode::ipv4([127, 0, 0, 1], 7000, 0, 3);
        let h0 = sd_hash(&n.hash_key());
        let v: Vec<u64> = n.vnode_hashes().collect();
        assert_eq!(v.len(), 3);
        assert_eq!(v[0], sd_hash_next(h0));
        assert_eq!(v[1], sd_hash_next(v[0]));
        assert_eq!(v[2], sd_hash_next(v[1]));
        // Golden: independent Python implementation of §13.
        assert_eq!(v[0], 0x3af2_cba6_e538_cdf3);
    }

    #[test]
    fn ring_is_sorted_and_complete() {
        let nodes = three();
        let ring = VnodeRing::new(&nodes);
        assert_eq!(ring.nr_vnodes(), 384);
        assert_eq!(ring.nr_nodes(), 3);
        assert_eq!(ring.nr_zones(), 3);
        let v: Vec<_> = ring.vnodes().collect();
        assert!(v.windows(2).all(|w| w[0].0 <= w[1].0));
        for i in 0..3 {
            assert_eq!(v.iter().filter(|x| x.1 == i).count(), 128);
        }
    }

    /// The obvious O(n) version of the walk, for comparison.
    fn naive(nodes: &[PlacementNode], oid: u64, copies: usize) -> Vec<usize> {
        let mut ring: Vec<(u64, usize)> = nodes
            .iter()
            .enumerate()
            .flat_map(|(i, n)| n.vnode_hashes().map(move |h| (h, i)))
            .collect();
        ring.sort();
        let zones: HashSet<u32> = nodes
            .iter()
            .filter(|n| n.nr_vnodes > 0)
            .map(|n| n.zone)
            .collect();
        let want = copies.min(zones.len());
        let h = sd_hash_oid(oid);
        let start = ring.iter().position(|v| v.0 >= h).unwrap_or(0);
        let mut out: Vec<usize> = Vec::new();
        for k in 0..ring.len() {
            if out.len() == want {
                break;
            }
            let node = ring[(start + k) % ring.len()].1;
            if out.iter().all(|&c| nodes[c].zone != nodes[node].zone) {
                out.push(node);
            }
        }
        out
    }

    #[test]
    fn matches_naive_walk() {
        let mut nodes = three();
        nodes.push(PlacementNode::ipv4([10, 0, 0, 9], 7000, 1, 64)); // shares zone 1
        nodes.push(PlacementNode::ipv4([10, 0, 0, 10], 7000, 7, 0)); // gateway
        nodes.push(PlacementNode::ipv4([10, 0, 0, 11], 7005, 4, 200));
        let ring = VnodeRing::new(&nodes);
        assert_eq!(
            ring.nr_zones(),
            4,
            "zones 0,1,2,4; the gateway's zone 7 does not count"
        );
        for i in 0..2000u64 {
            let oid = i.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            for copies in 1..=6 {
                let r = ring.replicas(oid, copies);
                assert_eq!(r, naive(&nodes, oid, copies), "oid {oid:x} copies {copies}");
                assert_eq!(r.len(), copies.min(4));
                assert!(!r.contains(&4), "gateway chosen");
                let zones: HashSet<u32> = r.iter().map(|&n| nodes[n].zone).collect();
                assert_eq!(zones.len(), r.len(), "zone repeated");
            }
            assert_eq!(ring.primary(oid), Some(ring.replicas(oid, 1)[0]));
        }
    }

    #[test]
    fn copies_capped_by_zones() {
        // Three nodes in one zone: one replica only.
        let nodes: Vec<_> = (0..3)
            .map(|i| PlacementNode::ipv4([127, 0, 0, 1], 7000 + i, 5, 128))
            .collect();
        let ring = VnodeRing::new(&nodes);
        assert_eq!(ring.nr_zones(), 1);
        assert_eq!(ring.replicas(0x807c_2b25_0000_0000, 3).len(), 1);
        assert_eq!(ring.replicas(1, 0), Vec::<usize>::new());
    }

    #[test]
    fn empty_ring() {
        let ring = VnodeRing::new(&[]);
        assert!(ring.is_empty());
        assert_eq!(ring.nr_zones(), 0);
        assert_eq!(ring.primary(1), None);
        assert_eq!(ring.replicas(1, 2), Vec::<usize>::new());
        assert_eq!(ring.try_replicas(1, 2), Err(PlacementError::EmptyRing));
        let gw = [PlacementNode::ipv4([127, 0, 0, 1], 7000, 0, 0)];
        let ring = VnodeRing::new(&gw);
        assert_eq!(ring.nr_nodes(), 1);
        assert_eq!(ring.try_replicas(1, 2), Err(PlacementError::EmptyRing));
    }

    #[test]
    fn wraps_past_the_last_vnode() {
        let nodes = three();
        let ring = VnodeRing::new(&nodes);
        let (last, _) = ring.vnodes().last().unwrap();
        let (_, first_owner) = ring.vnodes().next().unwrap();
        // Find an oid hashing beyond the last vnode.
        let oid = (0..1_000_000u64)
            .find(|&o| sd_hash_oid(o) > last)
            .expect("some oid hashes past the last vnode");
        assert_eq!(ring.primary(oid), Some(first_owner));
    }

    #[test]
    fn auto_vnodes_rule() {
        assert_eq!(auto_vnodes(&[]), Vec::<u16>::new());
        assert_eq!(auto_vnodes(&[0, 0]), vec![0, 0]);
        assert_eq!(auto_vnodes(&[100, 100, 100]), vec![128, 128, 128]);
        assert_eq!(auto_vnodes(&[100, 0, 300]), vec![64, 0, 192]);
        assert_eq!(auto_vnodes(&[1, 2, 3]), vec![64, 128, 192]);
        // Ties round to even like rint(): 128 * 1/256... pick 3 nodes where
        // 128*s/avg = x.5 exactly: avg 256, s = 1 -> 0.5 -> 0; s = 3 -> 1.5 -> 2.
        assert_eq!(auto_vnodes(&[1, 3, 764]), vec![0, 2, 382]);
        // The integer average truncates: avg (10+11)/2 = 10.
        assert_eq!(auto_vnodes(&[10, 11]), vec![128, 141]);
    }
}
