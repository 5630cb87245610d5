//! The C dog's `cluster format` against unformatted sheep of ours.
//!
//! The requests of the recordings `cluster-format` (the C dog 1.0
//! formatting three unformatted C sheep, `dog cluster format -c 2`) and
//! `c-dog/cluster-format-1node` (one C sheep, `-c 1`) are replayed, byte for byte
//! and in order, to as many unformatted sheep of ours (local driver, zones
//! 0, 1, ... like the recordings), each to the node that stands for the
//! recorded port. Every answer is compared with the recorded
//! one:
//! * byte for byte, header and whole payload (by the recorded SHA-256 where
//!   the recording kept only a prefix): STAT_CLUSTER (WAIT_FOR_FORMAT), the
//!   three CLUSTER_INFO (sheepdog answers a fixed 491,568-byte record before
//!   format: status WAIT, flags AUTO_VNODES, nothing else), READ_VDIS and
//!   MAKE_FS;
//! * except the epoch of each response header (see [`unepoched`]);
//! * field by field, GET_NODE_LIST: the node slots carry run-specific ports
//!   and the sender's in-memory pointers (bytes 0..24 of each slot).
//!
//! The C dog refuses to format ("Need to specify the option of '-V'") when
//! a node with vnodes reports a CLUSTER_INFO without AUTO_VNODES; the test
//! also states that decision explicitly.

mod support;

use std::time::Duration;

use sha2::{Digest, Sha256};
use sheep_proto::header::ClusterFlags;
use sheep_proto::{ClusterInfo, SdStatus};
use sheep_testkit::trace::{traces_dir, Endpoint, Exchange, Trace};
use support::procs::{cluster_info, free_port, wait_members, SheepProc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends the recorded request of `x` to `addr` on a new connection and
/// returns the raw response header and payload.
async fn replay(addr: std::net::SocketAddr, x: &Exchange) -> ([u8; 48], Vec<u8>) {
    assert!(
        x.req_payload.is_complete(),
        "exchange {}: request recorded in full",
        x.n
    );
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&x.req_hdr).await.unwrap();
    s.write_all(&x.req_payload.bytes).await.unwrap();
    let mut h = [0u8; 48];
    s.read_exact(&mut h).await.unwrap();
    let len = u32::from_le_bytes(h[12..16].try_into().unwrap()) as usize;
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).await.unwrap();
    (h, p)
}

/// A response header without its epoch (bytes 4..8).
///
/// Known difference, not this test's subject: sheepdog starts numbering
/// epochs at format (0 before, 1 after), our membership counts every join,
/// so three unformatted sheep of ours answer with epoch 3 (issue #17).
fn unepoched(h: &[u8; 48]) -> [u8; 48] {
    let mut h = *h;
    h[4..8].fill(0);
    h
}

/// Header and whole payload equal to the recording.
fn same_bytes(x: &Exchange, h: &[u8; 48], p: &[u8]) {
    let rsp = x.rsp.as_ref().expect("recorded response");
    let ctx = format!("exchange {} (op {:#04x})", x.n, x.opcode);
    assert_eq!(
        hex::encode(unepoched(h)),
        hex::encode(unepoched(&rsp.hdr)),
        "{ctx}: response header"
    );
    assert_eq!(p.len(), rsp.payload.len, "{ctx}: payload length");
    let want = &rsp.payload.bytes;
    if let Some(off) = (0..want.len()).find(|&i| p[i] != want[i]) {
        let end = (off + 32).min(want.len());
        panic!(
            "{ctx}: payload differs at byte {off}: ours {}, recorded {}",
            hex::encode(&p[off..end]),
            hex::encode(&want[off..end])
        );
    }
    if let Some(sha) = rsp.payload.sha256 {
        assert_eq!(
            <[u8; 32]>::from(Sha256::digest(p)),
            sha,
            "{ctx}: payload SHA-256"
        );
    }
}

/// GET_NODE_LIST: header bytes except the run-specific ones, then each node
/// slot's vnodes, zone and address (port mapped to the recorded one).
fn same_node_list(x: &Exchange, h: &[u8; 48], p: &[u8], ports: &[(u16, u16)]) {
    let rsp = x.rsp.as_ref().expect("recorded response");
    assert_eq!(
        unepoched(h)[..16],
        unepoched(&rsp.hdr)[..16],
        "GET_NODE_LIST header"
    );
    assert_eq!(h[16..24], rsp.hdr[16..24], "GET_NODE_LIST result, nr_nodes");
    assert_eq!(p.len(), rsp.payload.len, "GET_NODE_LIST payload length");
    let want = &rsp.payload.bytes;
    for (i, (ours, theirs)) in p.chunks(80).zip(want.chunks(80)).enumerate() {
        let port = u16::from_le_bytes(ours[40..42].try_into().unwrap());
        let mapped = ports
            .iter()
            .find(|(o, _)| *o == port)
            .map(|(_, r)| *r)
            .expect("a port of ours");
        assert_eq!(mapped.to_le_bytes(), theirs[40..42], "node {i}: port");
        // addr (24..40), io address and port (42..64), vnodes (64..66),
        // zone (68..72); not the space (72..80), a property of the disk.
        assert_eq!(ours[24..40], theirs[24..40], "node {i}: address");
        assert_eq!(ours[42..66], theirs[42..66], "node {i}: io_addr, nr_vnodes");
        assert_eq!(ours[68..72], theirs[68..72], "node {i}: zone");
    }
}

/// Replays the dog's requests of `scenario` (a `dog cluster format -c
/// copies` of unformatted C sheep, zone i on the i-th recorded port) to as
/// many unformatted sheep of ours and compares the answers.
async fn format_like_c(scenario: &str, copies: u8, ops: &[u8]) {
    let t = Trace::load(traces_dir().join(scenario).with_extension("trace")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let spec = format!("local:{}", tmp.path().join("cluster").display());
    let recorded_ports = t.sheep_ports.clone();
    let n = recorded_ports.len();
    // Our GET_NODE_LIST lists members in join order, sheepdog's in address
    // order: ascending ports joined one after the other give the same list.
    let mut free = std::collections::BTreeSet::new();
    while free.len() < n {
        free.insert(free_port());
    }
    let mut nodes = Vec::new();
    let mut clients = Vec::new();
    for (i, port) in free.iter().enumerate() {
        let z = i.to_string();
        let dir = tmp.path().join(format!("s{i}"));
        nodes.push(SheepProc::spawn_on(*port, &dir, &spec, &["-z", &z]));
        clients.push(nodes[i].client().await);
        wait_members(&clients, i + 1, Duration::from_secs(20)).await;
    }
    let ports: Vec<(u16, u16)> = free.iter().copied().zip(recorded_ports).collect();

    let dog: Vec<&Exchange> = t
        .exchanges
        .iter()
        .filter(|x| x.from == Endpoint::Dog)
        .collect();
    let want_ops = ops;
    let ops: Vec<u8> = dog.iter().map(|x| x.opcode).collect();
    assert_eq!(ops, want_ops, "{scenario}: the dog's opcodes");
    let mut node_has_vnodes = false;
    for x in dog {
        let ours = ports.iter().find(|(_, r)| *r == x.to_port).unwrap().0;
        let addr = nodes.iter().find(|n| n.addr.port() == ours).unwrap().addr;
        let (h, p) = replay(addr, x).await;
        match x.opcode {
            0x82 => {
                same_node_list(x, &h, &p, &ports);
                node_has_vnodes = p.chunks(80).all(|n| n[64..66] != [0, 0]);
            }
            0xbe => {
                // The C dog's check before it formats (dog/cluster.c).
                let ci: ClusterInfo = sdwire::from_slice(&p, 0).unwrap();
                assert!(
                    !node_has_vnodes || ci.header.flags.contains(ClusterFlags::AUTO_VNODES),
                    "the C dog would refuse: Need to specify the option of '-V'"
                );
                same_bytes(x, &h, &p);
            }
            _ => same_bytes(x, &h, &p),
        }
    }
    // Formatted as the C sheep is: the request's flags, copies and store.
    for c in &clients {
        let ci = cluster_info(c).await;
        assert_eq!(ci.header.status, SdStatus::Ok);
        assert_eq!(ci.header.flags, ClusterFlags::AUTO_VNODES);
        assert_eq!(ci.header.nr_copies, copies);
        assert_eq!(usize::from(ci.header.nr_nodes), n);
    }
}

/// The golden recording: three C sheep, `dog cluster format -c 2`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_dog_formats_three_unformatted_sheep_as_it_formats_c_sheep() {
    let ops = [0x82, 0x87, 0xbe, 0xbe, 0xbe, 0x15, 0x84];
    format_like_c("cluster-format", 2, &ops).await;
}

/// One C sheep, `dog cluster format -c 1` (recorded with
/// `scripts/record-c-trace.sh`, see `tests/data/traces/c-dog/README.md`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_dog_formats_one_unformatted_sheep_as_it_formats_a_c_sheep() {
    format_like_c(
        "c-dog/cluster-format-1node",
        1,
        &[0x82, 0x87, 0xbe, 0x15, 0x84],
    )
    .await;
}
