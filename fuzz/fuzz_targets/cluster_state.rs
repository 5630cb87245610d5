//! The cluster state on disk: epoch files (`EpochFile`: an `epoch_log`, then
//! `EpochNode`s).
use sdwire_fuzz::*;
use sheep::proto::cluster::{EpochFile, EpochNode};
use sheep::proto::{EpochLog, SdNode, CLUSTER_VERSION};

fn main() {
    fuzz_main(|data: &[u8]| {
        let v = CLUSTER_VERSION;
        let node = mask_of::<EpochNode>();
        let mut mask = mask_of::<EpochLog>();
        let n = data.len().saturating_sub(48) / 56;
        for i in 0..n {
            for r in &node {
                mask.push(48 + i * 56 + r.start..48 + i * 56 + r.end);
            }
        }
        if let Some((f, used)) = roundtrip::<EpochFile>(data, v, &mask) {
            // The nodes take the rest of the file, whole.
            assert_eq!(used, data.len());
            assert_eq!((used - 48) % 56, 0);
            assert_eq!(f.nodes.len(), n);
            for e in &f.nodes {
                assert_eq!(EpochNode::from(SdNode::from(*e)), *e);
            }
        }
        roundtrip::<EpochNode>(data, v, &node);
    });
}
