//! `cluster_info` (join message and the full CLUSTER_INFO reply) and the other
//! fixed structures of its family: header, epoch_log, vdi_state, vdi_attr,
//! recovery_state, sd_stat, sheepdog_config.
use sdwire::Wire;
use sdwire_fuzz::*;
use sheep_proto::cluster_info::*;
use sheep_proto::SdNode;

fn node_mask(n: usize, base: usize) -> Vec<core::ops::Range<usize>> {
    let node = layout_mask(SdNode::LAYOUT);
    let mut m = Vec::with_capacity(4 + n * node.len());
    dont_care(ClusterInfoHeader::LAYOUT, 0, &mut m);
    for i in 0..n {
        for r in node.iter() {
            m.push(base + i * 80 + r.start..base + i * 80 + r.end);
        }
    }
    m
}

fn main() {
    fuzz_main(|data: &[u8]| {
        let Some((&sel, rest)) = data.split_first() else {
            return;
        };
        // Join form: header + nr_nodes nodes.
        if let Ok(ci) = ClusterInfo::decode_prefix(rest) {
            let n = ci.nodes.len();
            assert_eq!(n, usize::from(ci.header.nr_nodes));
            let join = ci.encode_join().unwrap();
            assert_eq!(join.len(), 48 + n * 80);
            assert!(
                join.len() <= rest.len(),
                "decode_prefix read past its input"
            );
            eq_modulo(
                "cluster_info join",
                &rest[..join.len()],
                &join,
                &node_mask(n, 48),
            );
            assert_eq!(ClusterInfo::decode_prefix(&join).unwrap(), ci);
            // Full form: the input zero-extended to 491,568 bytes (unused slots zero).
            if sel & 0x0f == 1 {
                let mut full = join.clone();
                full.resize(ClusterInfo::SIZE, 0);
                let (v, c) = roundtrip::<ClusterInfo>(&full, 0, &node_mask(n, 48)).unwrap();
                assert_eq!(c, ClusterInfo::SIZE);
                assert_eq!(v, ci);
            }
        }
        // The full form from a short input never decodes.
        assert!(
            sdwire::from_slice::<ClusterInfo>(rest, 0).is_err() || rest.len() >= ClusterInfo::SIZE
        );
        roundtrip::<ClusterInfoHeader>(rest, 0, &mask_of::<ClusterInfoHeader>());
        roundtrip::<SdStatus>(rest, 0, &[]);
        roundtrip::<EpochLog>(rest, 0, &mask_of::<EpochLog>());
        roundtrip::<RecoveryState>(rest, 0, &mask_of::<RecoveryState>());
        roundtrip::<SdStat>(rest, 0, &mask_of::<SdStat>());
        roundtrip::<SheepdogConfig>(rest, 0, &mask_of::<SheepdogConfig>());
        roundtrip::<VdiState>(rest, 0, &mask_of::<VdiState>());
        if sel & 0xf0 == 0x20 {
            // vdi_attr is 66,320 bytes: zero-extend the input.
            let mut b = rest.to_vec();
            b.resize(VdiAttr::FIXED_SIZE.unwrap(), 0);
            roundtrip::<VdiAttr>(&b, 0, &mask_of::<VdiAttr>()).unwrap();
        }
        roundtrip::<VdiAttr>(rest, 0, &mask_of::<VdiAttr>());
    });
}
