//! The cluster protocol's driver log: `DriverRecord` (an etcd value or a
//! local log frame's body) and the local driver's `LogFrame` stream.
use sdwire::Wire;
use sdwire_fuzz::*;
use sheep::cluster::driver::Record;
use sheep::cluster::local::{frame, next_frame, Framed};
use sheep::proto::cluster::{DriverRecord, LogFrame};
use sheep::proto::{SdNode, CLUSTER_VERSION};

/// Don't-care bytes of an encoded record: a JoinReq's `sd_node` (after the
/// kind byte) has pointer and padding bytes.
fn record_mask(b: &[u8]) -> Vec<core::ops::Range<usize>> {
    if b.first() == Some(&1) {
        layout_mask(SdNode::LAYOUT)
            .iter()
            .map(|r| 1 + r.start..1 + r.end)
            .collect()
    } else {
        Vec::new()
    }
}

fn record(b: &[u8]) {
    let mask = record_mask(b);
    if let Some((r, used)) = roundtrip::<DriverRecord>(b, CLUSTER_VERSION, &mask) {
        // A whole value decodes only if nothing follows the record.
        let exact = sdwire::from_slice_exact::<DriverRecord>(b, CLUSTER_VERSION);
        assert_eq!(exact.is_ok(), used == b.len());
        if let Ok(e) = exact {
            assert_eq!(e, r);
        }
    } else {
        assert!(sdwire::from_slice_exact::<DriverRecord>(b, CLUSTER_VERSION).is_err());
    }
    // The driver's decoder is the Wire decoder, and re-encodes what it read.
    let exact = sdwire::from_slice_exact::<DriverRecord>(b, CLUSTER_VERSION).ok();
    let rec = Record::decode(b);
    assert_eq!(rec, exact.map(Record::from_wire));
    if let Some(r) = rec {
        assert_eq!(Record::decode(&r.encode()), Some(r));
    }
    // Other versions are refused, not misread.
    assert!(DriverRecord::decode(&mut &b[..], CLUSTER_VERSION + 1).is_err());
}

fn main() {
    fuzz_main(|data: &[u8]| {
        let Some((&sel, rest)) = data.split_first() else {
            return;
        };
        if sel & 1 == 0 {
            record(rest);
            return;
        }
        // A log: frames back to back, as the local driver tails it.
        let mut t = rest;
        loop {
            match next_frame(t) {
                Framed::Record(r, used) => {
                    assert_eq!(frame(&r).len(), used);
                    t = &t[used..];
                }
                Framed::Skipped(used) => {
                    assert!(used >= LogFrame::HEADER_SIZE && used <= t.len());
                    t = &t[used..];
                }
                Framed::Partial => {
                    assert!(sdwire::from_slice::<LogFrame>(t, CLUSTER_VERSION).is_err());
                    break;
                }
                Framed::Corrupt(_) => break,
            }
        }
        let mut s = rest;
        while !s.is_empty() {
            let before = s.len();
            let Some((f, used)) = roundtrip::<LogFrame>(s, CLUSTER_VERSION, &[]) else {
                break;
            };
            assert_eq!(used, LogFrame::HEADER_SIZE + f.body.len());
            assert_eq!(f.len as usize, f.body.len());
            if f.crc_ok() {
                assert_eq!(
                    LogFrame::new(f.body.clone()),
                    LogFrame {
                        len: 0,
                        ..f.clone()
                    }
                );
            }
            record(&f.body);
            s = &s[used..];
            assert!(s.len() < before);
        }
    });
}
