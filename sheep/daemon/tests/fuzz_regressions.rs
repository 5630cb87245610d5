//! Regressions from fuzzing (fuzz/): inputs that once broke an invariant of
//! the fuzz targets, replayed as plain tests.
//!
//! The first AFL runs found no panic in any decoder or the daemon; the only
//! findings were don't-care bytes the targets did not know about, pinned
//! down here so the documented set stays true. The daemon's one finding so
//! far (answers ahead of a refused frame destroyed by a reset: the
//! `sheep_conn` target, 2026-12-04) is replayed in `bad_input.rs`,
//! `answers_before_a_refused_frame_arrive_whole`.

use sdwire::Wire;
use sheep_proto::cluster_info::ClusterInfo;
use sheep_proto::payload::StatClusterReply;
use sheep_proto::{EpochLog, NodeId, SdNode};

/// fuzz/out/node_list + cluster_info, first run: an `sd_node` whose embedded
/// `node_id` has non-zero `pad` bytes (sd_node offsets 60..64) re-encodes
/// with zeros there. They are reserved like the rb pointers (0..24) and the
/// sd_node pad (66..68): `SdNode::DONT_CARE` lists only the latter two.
#[test]
fn sd_node_reserved_bytes_include_node_id_pad() {
    let mut b = [0u8; 80];
    b[..24].fill(0xee); // rb pointers
    b[36] = 127;
    b[39] = 1;
    b[40] = 0x58;
    b[41] = 0x1b;
    b[60..64].copy_from_slice(&[0x41, 0x42, 0x43, 0x44]); // node_id pad
    b[64] = 128;
    b[66..68].copy_from_slice(&[0xff, 0xff]); // sd_node pad
    let n: SdNode = sdwire::from_slice(&b, 0).unwrap();
    let e = sdwire::to_vec(&n, 0).unwrap();
    assert_eq!(e.len(), SdNode::FIXED_SIZE.unwrap());
    let mut want = b;
    want[..24].fill(0);
    want[60..64].fill(0);
    want[66..68].fill(0);
    assert_eq!(e, want);
    assert_eq!(sdwire::from_slice::<SdNode>(&e, 0).unwrap(), n);
    assert_eq!(NodeId::LAYOUT.field("_pad").unwrap().offset, Some(36));
    // The join form of cluster_info round-trips modulo the same bytes.
    let mut ci = vec![0u8; 48];
    ci[2] = 1; // nr_nodes
    ci.extend_from_slice(&b);
    let c = ClusterInfo::decode_prefix(&ci).unwrap();
    assert_eq!(c.encode_join().unwrap()[48..], want[..]);
}

/// fuzz/out/node_list, first run: STAT_CLUSTER records re-encode with the
/// `epoch_log` pad (27..30) zeroed in every record, not only the first.
#[test]
fn stat_cluster_records_zero_epoch_log_pad() {
    let slots = 1u32;
    let rec = 48 + 80;
    let mut b = vec![0u8; 2 * rec];
    for r in 0..2 {
        b[r * rec + 16] = 2 - r as u8; // epoch
        b[r * rec + 20] = 1; // nr_nodes
        b[r * rec + 27..r * rec + 30].fill(0xf0); // reserved
    }
    let s = StatClusterReply::decode(&b, slots).unwrap();
    let e = s.encode();
    assert_eq!(e.len(), b.len());
    for r in 0..2 {
        assert_eq!(e[r * rec + 27..r * rec + 30], [0, 0, 0]);
    }
    assert_eq!(StatClusterReply::decode(&e, slots).unwrap(), s);
    assert_eq!(EpochLog::LAYOUT.field("_pad").unwrap().offset, Some(27));
}
