//! Every per-opcode payload decoder: `decode_req_payload` and
//! `decode_rsp_payload` for any opcode, flags and payload, with the typed
//! payload re-encoding to the input bytes (modulo don't-care bytes).
//!
//! Input: opcode, flags byte (bit 0 = WRITE), STAT_CLUSTER slot count, payload.
use core::ops::Range;

use sdwire::Wire;
use sdwire_fuzz::*;
use sheep_proto::arms::ClusterReq;
use sheep_proto::payload::*;
use sheep_proto::*;

fn repeat(elem: &[Range<usize>], size: usize, n: usize, base: usize) -> Vec<Range<usize>> {
    let mut m = Vec::new();
    for i in 0..n {
        for r in elem {
            m.push(base + i * size + r.start..base + i * size + r.end);
        }
    }
    m
}

fn main() {
    fuzz_main(|data: &[u8]| {
        if data.len() < 3 {
            return;
        }
        let (opcode, fl, slots) = (data[0], data[1], data[2]);
        let bytes = &data[3..];
        let flags = if fl & 1 == 1 {
            ReqFlags::WRITE
        } else {
            ReqFlags::EMPTY
        };
        let mut req = ReqHeader::new(
            opcode,
            flags | ReqFlags(u16::from(fl & 0xfe)),
            bytes.len() as u32,
        );
        let creq = ClusterReq {
            nodes_nr: u32::from(slots & 0x1f),
            ..ClusterReq::default()
        };
        req.body = sdwire::to_vec(&creq, 0).unwrap().try_into().unwrap();
        let rsp = RspHeader::for_request(&req, SdResult::Success, 1);

        match decode_req_payload(opcode, &req, bytes) {
            Ok(p) => {
                let enc = p.encode();
                match &p {
                    ReqPayload::None => assert!(!req.has_payload() || bytes.is_empty()),
                    ReqPayload::MakeFs(m) => {
                        // Everything up to the first NUL, then one NUL.
                        assert!(!m.store.contains(&0));
                        assert_eq!(&enc[..enc.len() - 1], &bytes[..enc.len() - 1]);
                        assert_eq!(enc.last(), Some(&0));
                        assert_eq!(MakeFsPayload::decode(&enc), *m);
                    }
                    ReqPayload::VdiAttr(_) => {
                        eq_modulo("VdiAttr", bytes, &enc, &mask_of::<VdiAttr>())
                    }
                    _ => assert_eq!(
                        enc, bytes,
                        "request payload of {opcode:#04x} not byte-exact"
                    ),
                }
                if !matches!(p, ReqPayload::None) {
                    assert_eq!(decode_req_payload(opcode, &req, &enc).unwrap(), p);
                }
            }
            Err(e) => {
                assert_eq!(e.opcode, opcode);
                assert_eq!(e.len, bytes.len());
            }
        }

        match decode_rsp_payload(opcode, &req, &rsp, bytes) {
            Ok(p) => {
                let enc = p.encode();
                assert_eq!(
                    enc.len(),
                    bytes.len(),
                    "response payload of {opcode:#04x} changed length"
                );
                let node = mask_of::<SdNode>();
                let mask: Vec<Range<usize>> = match &p {
                    RspPayload::None => {
                        assert!(bytes.is_empty());
                        vec![]
                    }
                    RspPayload::NodeList(l) => repeat(&node, 80, l.nodes.len(), 0),
                    RspPayload::StatCluster(s) => {
                        let rec = 48 + s.slots as usize * 80;
                        let mut m = Vec::new();
                        for (i, r) in s.records.iter().enumerate() {
                            let base = i * rec;
                            dont_care(EpochLog::LAYOUT, base, &mut m);
                            m.extend(repeat(&node, 80, r.nodes.len(), base + 48));
                            m.push(base + 48 + r.nodes.len() * 80..base + rec);
                        }
                        m
                    }
                    RspPayload::RecoveryState(_) => mask_of::<RecoveryState>(),
                    RspPayload::VdiCopies(v) => {
                        repeat(&mask_of::<VdiState>(), 1428, v.states.len(), 0)
                    }
                    RspPayload::Stat(_) => mask_of::<SdStat>(),
                    RspPayload::ClusterInfo(c) => {
                        let mut m = mask_of::<ClusterInfoHeader>();
                        m.extend(repeat(&node, 80, c.nodes.len(), 48));
                        m.push(48 + c.nodes.len() * 80..ClusterInfo::SIZE);
                        m
                    }
                    _ => vec![],
                };
                eq_modulo("response payload", bytes, &enc, &mask);
                zero_in("response payload", &enc, &mask);
                assert_eq!(decode_rsp_payload(opcode, &req, &rsp, &enc).unwrap(), p);
            }
            Err(e) => {
                assert_eq!(e.opcode, opcode);
                assert_eq!(e.len, bytes.len());
            }
        }
        // The typed list payloads on their own.
        if let Some((l, c)) = roundtrip::<OidList>(bytes, 0, &[]) {
            assert_eq!(c, bytes.len() / 8 * 8);
            assert_eq!(l.oids.len(), bytes.len() / 8);
        }
        if let Some((v, c)) = roundtrip::<VdiCopies>(
            bytes,
            0,
            &repeat(&mask_of::<VdiState>(), 1428, bytes.len() / 1428, 0),
        ) {
            assert_eq!(c, v.states.len() * 1428);
        }
        roundtrip::<VdiName>(bytes, 0, &[]);
        roundtrip::<VdiNameTag>(bytes, 0, &[]);
    });
}
