//! Request/response headers and every union arm.
//!
//! Input: 48 bytes of request header, optionally 48 more of response header
//! (when absent, the request bytes are also tried as a response header).
use sdwire::{OpTable, Wire};
use sdwire_fuzz::*;
use sheep_proto::*;

fn arm_mask(op: &sdwire::OpInfo, base: usize, v: sdwire::Version) -> Vec<core::ops::Range<usize>> {
    let mut m = Vec::new();
    if let Some(l) = op.payload.and_then(|p| layout_by_name(p)) {
        dont_care_at(l, base, Some(v), &mut m);
    }
    m
}

fn layout_by_name(n: &str) -> Option<&'static sdwire::Layout> {
    use sheep_proto::arms::*;
    Some(match n {
        "ObjReq" => ObjReq::LAYOUT,
        "VdiReq" => VdiReq::LAYOUT,
        "ClusterReq" => ClusterReq::LAYOUT,
        "VdiStateReq" => VdiStateReq::LAYOUT,
        "RefReq" => RefReq::LAYOUT,
        "ForwReq" => ForwReq::LAYOUT,
        "VdiStateCheckpointReq" => VdiStateCheckpointReq::LAYOUT,
        "InodeCoherenceReq" => InodeCoherenceReq::LAYOUT,
        "NoArgs" => NoArgs::LAYOUT,
        "RawArgs" => RawArgs::LAYOUT,
        _ => return None,
    })
}

fn table<T: OpTable<Tag = u8> + Wire + PartialEq + core::fmt::Debug>(op: u8, body: &[u8; 32]) {
    // Every version, in and outside the table's window.
    for v in [0u16, 1, 2, 3, 9, 10, 11, 0xffff] {
        let mut s = &body[..];
        let Ok(x) = T::decode_body(op, &mut s, v) else {
            continue;
        };
        assert_eq!(x.tag(), op);
        let consumed = 32 - s.len();
        assert_eq!(
            consumed,
            x.body_size(v),
            "decode_body consumed != body_size"
        );
        assert!(consumed <= 32);
        let mut out = Vec::new();
        x.encode_body(&mut out, v)
            .expect("decoded body re-encodes at its version");
        assert_eq!(out.len(), x.body_size(v));
        let info = T::op_info(op).expect("decoded op has info");
        eq_modulo(info.name, &body[..consumed], &out, &arm_mask(info, 0, v));
        let mut s2 = &out[..];
        assert_eq!(T::decode_body(op, &mut s2, v).unwrap(), x);
        // The tagged Wire form: tag byte then body.
        let full = encode_checked(&x, v);
        assert_eq!(full[0], op);
        assert_eq!(&full[1..], &out[..]);
        assert_eq!(sdwire::from_slice::<T>(&full, v).unwrap(), x);
    }
}

fn main() {
    fuzz_main(|data: &[u8]| {
        if data.len() < 48 {
            // Short input: no header decodes.
            assert!(sdwire::from_slice::<ReqHeader>(data, 0).is_err());
            assert!(sdwire::from_slice::<RspHeader>(data, 0).is_err());
            return;
        }
        let (req_bytes, rsp_bytes) = if data.len() >= 96 {
            (&data[..48], &data[48..96])
        } else {
            (&data[..48], &data[..48])
        };
        // Request header: every byte pattern decodes and re-encodes exactly.
        let (h, n) = roundtrip::<ReqHeader>(data, 0, &[]).expect("every 48 bytes are a ReqHeader");
        assert_eq!(n, 48);
        assert_eq!(&h.to_bytes()[..], req_bytes);
        assert_eq!(ReqHeader::from_bytes(req_bytes.try_into().unwrap()), h);
        // Union arm through the three tables.
        match decode_request(&h) {
            Ok(r) => {
                assert!(h.version_ok());
                assert_eq!(r.opcode(), h.opcode);
                let info = match r.protocol() {
                    Protocol::Client => ClientOp::op_info(h.opcode),
                    Protocol::Peer => PeerOp::op_info(h.opcode),
                    Protocol::Admin => AdminOp::op_info(h.opcode),
                }
                .expect("decoded opcode in its table");
                let mut h2 = h.clone();
                r.encode_into(&mut h2);
                let mut mask = arm_mask(info, 16, r.protocol().wire_version(h.proto_ver));
                zero_in("request arm", &h2.to_bytes(), &mask);
                mask.push(0..1); // to_header stamps the range's proto_ver
                let t = r.to_header(h.flags, h.data_length);
                let mut want = h.to_bytes();
                want[4..12].fill(0); // to_header: epoch and id 0
                eq_modulo(info.name, &want, &t.to_bytes(), &mask);
                assert_eq!(decode_request(&t).unwrap(), r);
                assert_eq!(decode_request(&h2).unwrap(), r);
                assert_eq!(classify(h.opcode), Some(r.protocol()));
            }
            Err(RequestError::VersionMismatch { opcode, proto_ver }) => {
                assert_eq!((opcode, proto_ver), (h.opcode, h.proto_ver));
                assert!(!h.version_ok());
            }
            Err(RequestError::UnknownOpcode(op)) => {
                assert_eq!(op, h.opcode);
                assert!(classify(op).is_none());
            }
            Err(RequestError::Decode { .. }) => {}
        }
        let _ = decode_op(&h);
        table::<ClientOp>(h.opcode, &h.body);
        table::<PeerOp>(h.opcode, &h.body);
        table::<AdminOp>(h.opcode, &h.body);

        // Response header and its arm.
        let (r, n) =
            roundtrip::<RspHeader>(rsp_bytes, 0, &[]).expect("every 48 bytes are a RspHeader");
        assert_eq!(n, 48);
        assert_eq!(&r.to_bytes()[..], rsp_bytes);
        let arm = RspArm::decode(r.opcode, &r.body).expect("28 bytes always decode");
        let mut m = Vec::new();
        let l = match arm {
            RspArm::Obj(_) => ObjRsp::LAYOUT,
            RspArm::Vdi(_) => VdiRsp::LAYOUT,
            RspArm::Node(_) => NodeRsp::LAYOUT,
            RspArm::Hash(_) => HashRsp::LAYOUT,
            RspArm::ClusterDefault(_) => ClusterDefaultRsp::LAYOUT,
            RspArm::None(_) => NoRsp::LAYOUT,
        };
        dont_care_at(l, 0, Some(0), &mut m);
        let enc = arm.encode();
        eq_modulo("response arm", &r.body, &enc, &m);
        zero_in("response arm", &enc, &m);
        assert_eq!(RspArm::decode(r.opcode, &enc).unwrap(), arm);
        // Each arm type on its own.
        roundtrip::<ObjRsp>(&r.body, 0, &mask_of_at::<ObjRsp>(0)).unwrap();
        roundtrip::<VdiRsp>(&r.body, 0, &mask_of::<VdiRsp>()).unwrap();
        roundtrip::<NodeRsp>(&r.body, 0, &mask_of::<NodeRsp>()).unwrap();
        roundtrip::<HashRsp>(&r.body, 0, &mask_of::<HashRsp>()).unwrap();
        roundtrip::<ClusterDefaultRsp>(&r.body, 0, &mask_of::<ClusterDefaultRsp>()).unwrap();
        roundtrip::<SdResult>(&rsp_bytes[16..20], 0, &[]).unwrap();
    });
}
