//! VDI attributes as the C dog sees them on a C sheep: the recording
//! `c-dog/vdi-attr-snapshot` (one C sheep, formatted, VDI `test` created;
//! then `dog vdi setattr test key value`, `dog vdi snapshot -s snap1 test`,
//! `dog vdi getattr test key`) is replayed, request by request, to one
//! sheep of ours in the same state, and every answer is compared:
//! * byte for byte, the response header (epoch aside: ours counts from the
//!   first join, sheepdog from format; issue #17) of every op: the attribute
//!   object ids (vid = hash of the name, attr_id = hash of the record),
//!   the vids of NEW_VDI and GET_VDI_INFO, copies, results;
//! * the payload of each READ_OBJ field by field: the attribute record
//!   except its `ctime` (the VDI's creation time, run-specific); of the
//!   inode only the length (times differ).
//!
//! So an attribute set before a snapshot is found after it, under the
//! object id sheepdog uses, and one set by either implementation is read
//! by the other.

mod support;

use sha2::{Digest, Sha256};
use sheep_proto::VdiAttr;
use sheep_testkit::trace::{traces_dir, Endpoint, Exchange, Trace};
use support::Daemon;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The request payload; a record the recording kept only 64 KiB of is
/// zero-padded (its tail is the unused rest of `value`), checked against
/// the recorded SHA-256.
fn request_payload(x: &Exchange) -> Vec<u8> {
    let mut p = x.req_payload.bytes.clone();
    if !x.req_payload.is_complete() {
        p.resize(x.req_payload.len, 0);
        let sha = <[u8; 32]>::from(Sha256::digest(&p));
        assert_eq!(Some(sha), x.req_payload.sha256, "exchange {}", x.n);
    }
    p
}

async fn replay(s: &mut TcpStream, x: &Exchange) -> ([u8; 48], Vec<u8>) {
    s.write_all(&x.req_hdr).await.unwrap();
    s.write_all(&request_payload(x)).await.unwrap();
    let mut h = [0u8; 48];
    s.read_exact(&mut h).await.unwrap();
    let len = u32::from_le_bytes(h[12..16].try_into().unwrap()) as usize;
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).await.unwrap();
    (h, p)
}

/// A response payload, zero-padded like [`request_payload`].
fn request_like(rsp: &sheep_testkit::trace::Response) -> Vec<u8> {
    let mut p = rsp.payload.bytes.clone();
    if p.len() < rsp.payload.len {
        p.resize(rsp.payload.len, 0);
        let sha = <[u8; 32]>::from(Sha256::digest(&p));
        assert_eq!(Some(sha), rsp.payload.sha256, "recorded attribute record");
    }
    p
}

fn unepoched(h: &[u8; 48]) -> String {
    let mut h = *h;
    h[4..8].fill(0);
    hex::encode(h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attributes_have_sheepdogs_object_ids_across_snapshots() {
    let path = traces_dir().join("c-dog").join("vdi-attr-snapshot.trace");
    let t = Trace::load(path).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), 0).await;
    let c = d.client().await;
    c.make_fs(1, 22).await.unwrap();
    assert_eq!(c.new_vdi("test", 64 << 20).await.unwrap(), 0x7c2b25);
    let mut s = TcpStream::connect(d.addr).await.unwrap();
    let dog: Vec<&Exchange> = t
        .exchanges
        .iter()
        .filter(|x| x.from == Endpoint::Dog)
        .collect();
    let ops: Vec<u8> = dog.iter().map(|x| x.opcode).collect();
    assert_eq!(ops, [0x89, 0x14, 0x14, 0x02, 0x03, 0x11, 0x89, 0x02]);
    let attr_len = sheep_proto::oid::SD_ATTR_OBJ_SIZE;
    for x in dog {
        let (h, p) = replay(&mut s, x).await;
        let rsp = x.rsp.as_ref().unwrap();
        let ctx = format!("exchange {} (op {:#04x})", x.n, x.opcode);
        assert_eq!(unepoched(&h), unepoched(&rsp.hdr), "{ctx}: header");
        if x.opcode == 0x02 && p.len() == attr_len {
            let ours: VdiAttr = sdwire::from_slice(&p, 0).unwrap();
            let mut theirs: VdiAttr = sdwire::from_slice(&request_like(rsp), 0).unwrap();
            theirs.ctime = ours.ctime;
            assert_eq!(ours, theirs, "{ctx}: attribute record");
            assert_eq!(&ours.value[..ours.value_len as usize], b"value");
        }
    }
    d.stop().await;
}
