//! Node lists: `NodeList` (GET_NODE_LIST / GET_EPOCH replies), `SdNode`, `NodeId`,
//! and STAT_CLUSTER epoch records (`EpochLog` + node slots).
use sdwire::Wire;
use sdwire_fuzz::*;
use sheep_proto::payload::{NodeList, StatClusterReply};
use sheep_proto::*;

fn main() {
    fuzz_main(|data: &[u8]| {
        let Some((&sel, rest)) = data.split_first() else {
            return;
        };
        let node_mask = mask_of::<SdNode>();
        // rb pointers, node_id pad, sd_node pad.
        assert_eq!(
            node_mask,
            vec![0..24, 60..64, 66..68],
            "SdNode don't-care bytes"
        );
        // A whole payload as a node list: must use every byte or fail.
        match sdwire::from_slice_exact::<NodeList>(rest, 0) {
            Ok(l) => {
                assert_eq!(rest.len() % SdNode::SIZE, 0);
                assert_eq!(l.nodes.len(), rest.len() / SdNode::SIZE);
                let mut m = Vec::new();
                for i in 0..l.nodes.len() {
                    for r in &node_mask {
                        m.push(r.start + i * 80..r.end + i * 80);
                    }
                }
                roundtrip::<NodeList>(rest, 0, &m).unwrap();
                for (i, n) in l.nodes.iter().enumerate() {
                    let (n2, _) = roundtrip::<SdNode>(&rest[i * 80..], 0, &node_mask).unwrap();
                    assert_eq!(&n2, n);
                    let _ = n.socket_addr();
                    let _ = n.nid.io_socket_addr();
                }
            }
            Err(_) => assert!(rest.len() % SdNode::SIZE != 0),
        }
        roundtrip::<SdNode>(rest, 0, &node_mask);
        roundtrip::<NodeId>(rest, 0, &mask_of::<NodeId>());
        roundtrip::<EpochLog>(rest, 0, &mask_of::<EpochLog>());
        // STAT_CLUSTER reply with a fuzzer-chosen slot count.
        let slots = u32::from(sel & 0x0f);
        if let Ok(s) = StatClusterReply::decode(rest, slots) {
            let enc = s.encode();
            assert_eq!(enc.len(), rest.len());
            let rec = 48 + slots as usize * 80;
            for (ri, r) in s.records.iter().enumerate() {
                let base = ri * rec;
                // Mask relative to the record.
                let mut m = Vec::new();
                dont_care(EpochLog::LAYOUT, 0, &mut m);
                for i in 0..r.nodes.len() {
                    for d in &node_mask {
                        m.push(48 + i * 80 + d.start..48 + i * 80 + d.end);
                    }
                }
                // Unused slots are don't-care (written as zero).
                m.push(48 + r.nodes.len() * 80..rec);
                eq_modulo(
                    "StatClusterReply",
                    &rest[base..base + rec],
                    &enc[base..base + rec],
                    &m,
                );
                zero_in("StatClusterReply", &enc[base..base + rec], &m);
            }
            assert_eq!(StatClusterReply::decode(&enc, slots).unwrap(), s);
        }
    });
}
