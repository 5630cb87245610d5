//! The cluster protocol's join negotiation: `JoinRequestMsg`, `JoinReplyMsg`
//! and the `MemberRangesTable` a master appends to an accepted reply.
use sdwire_fuzz::*;
use sheep::cluster::join::{member_ranges, JoinMessage, JoinReply};
use sheep::proto::cluster::{JoinReplyMsg, JoinRequestMsg, MemberRangesTable};
use sheep::proto::CLUSTER_VERSION;

fn main() {
    fuzz_main(|data: &[u8]| {
        let v = CLUSTER_VERSION;
        if let Some((m, _)) = roundtrip::<JoinRequestMsg>(data, v, &mask_of::<JoinRequestMsg>()) {
            // Magic and format are data: they round-trip and are checked apart.
            assert_eq!(m.is_valid(), data[..3] == *b"SJ\x01");
        }
        if let Some((JoinReplyMsg::Accepted(a), _)) = roundtrip::<JoinReplyMsg>(data, v, &[]) {
            if let Some((t, used)) = roundtrip::<MemberRangesTable>(&a.extensions, v, &[]) {
                assert_eq!(used, 4 + 24 * t.entries.len());
                assert_eq!(usize::from(t.count), t.entries.len());
            }
        }
        roundtrip::<MemberRangesTable>(data, v, &[]);
        // The cluster layer's decoders: what they read re-encodes to the
        // same value.
        if let Some(m) = JoinMessage::decode(data) {
            assert_eq!(JoinMessage::decode(&m.encode()), Some(m));
        }
        if let Some(r) = JoinReply::decode(data) {
            assert_eq!(JoinReply::decode(&r.encode()), Some(r));
        }
        let ranges = member_ranges(data);
        if !ranges.is_empty() {
            assert!(JoinReply::decode(data).is_some());
        }
    });
}
