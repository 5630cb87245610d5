//! Placement checked against the golden traces of the C sheepdog.
//!
//! For every peer write (CREATE_AND_WRITE_PEER 0xA3, WRITE_PEER 0xA5) seen in
//! the traces, the gateway fanned the request out to the object's replicas,
//! with `obj.ec_index` (request header byte 34) = replica index. We recompute
//! the replica list with [`VnodeRing`] and compare destinations and indices.
//!
//! Membership: the node list is taken from the GET_NODE_LIST replies found in
//! the traces, keyed by the epoch in the reply header. Each peer request
//! carries the sender's epoch (header bytes 4..8), and the test uses the node
//! list of that epoch. So the 4-node epochs of node-join-recovery and
//! node-leave-recovery are handled too. In these recordings every peer write
//! happens at epoch 1, i.e. with the 3-node membership (7000/7001/7002, zones
//! 0/1/2). A request whose epoch has no recorded node list fails the test
//! rather than being skipped.

use std::collections::{BTreeMap, HashMap};

use sheep::cluster::placement::{auto_vnodes, PlacementNode, VnodeRing};
use sheep_proto::payload::NodeList;
use sheep_proto::{
    decode_op, ObjReq, PeerOp, ReqHeader, Request, RspArm, RspHeader, SdNode, SdResult,
};
use sheep_testkit::trace::{load_all, Endpoint, Exchange, Trace};

const GET_NODE_LIST: u8 = 0x82;
const CREATE_AND_WRITE_PEER: u8 = 0xA3;
const READ_PEER: u8 = 0xA4;
const WRITE_PEER: u8 = 0xA5;
const REMOVE_PEER: u8 = 0xA6;
/// `SD_FLAG_CMD_RECOVERY`.
const FLAG_RECOVERY: u16 = 0x80;
/// The cluster was formatted with `dog cluster format -c 2`.
const COPIES: usize = 2;

/// The sender's epoch and the typed `obj` arm of a peer request.
fn peer_obj(x: &Exchange) -> (u32, ObjReq) {
    let hdr = ReqHeader::from_bytes(&x.req_hdr);
    match decode_op(&hdr).expect("peer request decodes") {
        Request::Peer(
            PeerOp::CreateAndWritePeer(o)
            | PeerOp::WritePeer(o)
            | PeerOp::ReadPeer(o)
            | PeerOp::RemovePeer(o),
        ) => (hdr.epoch, o),
        other => panic!("#{}: not an object peer op: {other:?}", x.n),
    }
}

/// One decoded `sd_node` (only the fields placement needs, plus `space`).
#[derive(Clone, Debug, PartialEq)]
struct WireNode {
    node: PlacementNode,
    space: u64,
}

/// Decodes a GET_NODE_LIST reply with the typed protocol: the response arm
/// ([`NodeRsp`]) gives `nr_nodes`, the payload decodes as [`SdNode`]s (whose
/// 24 pointer bytes and padding are ignored by the decoder).
fn decode_node_list(x: &Exchange) -> Option<(u32, Vec<WireNode>)> {
    let rsp = x.rsp.as_ref()?;
    let hdr = RspHeader::from_bytes(&rsp.hdr);
    if hdr.result != SdResult::Success || !rsp.payload.is_complete() {
        return None;
    }
    let RspArm::Node(arm) = RspArm::decode(hdr.opcode, &hdr.body).expect("node arm decodes") else {
        panic!("#{}: GET_NODE_LIST answer without the node arm", x.n);
    };
    let list: NodeList =
        sdwire::from_slice_exact(&rsp.payload.bytes, 0).expect("node list decodes");
    assert_eq!(
        list.nodes.len(),
        arm.nr_nodes as usize,
        "#{}: nr_nodes vs payload",
        x.n
    );
    let nodes = list
        .nodes
        .iter()
        .map(|n: &SdNode| WireNode {
            node: PlacementNode {
                addr: n.nid.addr,
                port: n.nid.port,
                nr_vnodes: n.nr_vnodes,
                zone: n.zone,
            },
            space: n.space,
        })
        .collect();
    Some((hdr.epoch, nodes))
}

/// Node list per epoch, from every GET_NODE_LIST reply in every trace.
/// Replies for the same epoch must agree.
fn node_lists(traces: &[Trace]) -> BTreeMap<u32, Vec<WireNode>> {
    let mut by_epoch: BTreeMap<u32, Vec<WireNode>> = BTreeMap::new();
    for t in traces {
        for x in t.exchanges.iter().filter(|x| x.opcode == GET_NODE_LIST) {
            let Some((epoch, nodes)) = decode_node_list(x) else {
                continue;
            };
            let ids = |v: &[WireNode]| v.iter().map(|w| w.node).collect::<Vec<_>>();
            match by_epoch.get(&epoch) {
                Some(prev) => assert_eq!(
                    ids(prev),
                    ids(&nodes),
                    "{} #{}: node list of epoch {epoch} differs",
                    t.scenario,
                    x.n
                ),
                None => {
                    by_epoch.insert(epoch, nodes);
                }
            }
        }
    }
    by_epoch
}

fn port_of(nodes: &[WireNode], i: usize) -> u16 {
    nodes[i].node.port
}

fn rings(lists: &BTreeMap<u32, Vec<WireNode>>) -> HashMap<u32, VnodeRing> {
    lists
        .iter()
        .map(|(&e, nodes)| {
            let pn: Vec<PlacementNode> = nodes.iter().map(|w| w.node).collect();
            (e, VnodeRing::new(&pn))
        })
        .collect()
}

#[test]
fn node_lists_are_the_documented_cluster() {
    let traces = load_all().unwrap();
    let lists = node_lists(&traces);
    let three = lists.get(&1).expect("node list at epoch 1");
    let summary: Vec<_> = three
        .iter()
        .map(|w| (w.node.addr, w.node.port, w.node.zone, w.node.nr_vnodes))
        .collect();
    let lo = {
        let mut a = [0u8; 16];
        a[12..].copy_from_slice(&[127, 0, 0, 1]);
        a
    };
    assert_eq!(
        summary,
        vec![(lo, 7000, 0, 128), (lo, 7001, 1, 128), (lo, 7002, 2, 128)]
    );
    // Some epoch has the 4th sheep (7003, zone 3).
    assert!(lists
        .values()
        .any(|v| v.len() == 4 && v[3].node.port == 7003 && v[3].node.zone == 3));
    for (epoch, nodes) in &lists {
        println!(
            "epoch {epoch}: {:?}",
            nodes
                .iter()
                .map(|w| (w.node.port, w.node.zone, w.node.nr_vnodes, w.space))
                .collect::<Vec<_>>()
        );
    }
}

#[test]
fn auto_vnodes_reproduce_recorded_counts() {
    let traces = load_all().unwrap();
    let lists = node_lists(&traces);
    assert!(
        lists.len() >= 2,
        "expected several epochs, got {}",
        lists.len()
    );
    for (epoch, nodes) in &lists {
        let spaces: Vec<u64> = nodes.iter().map(|w| w.space).collect();
        let recorded: Vec<u16> = nodes.iter().map(|w| w.node.nr_vnodes).collect();
        assert_eq!(auto_vnodes(&spaces), recorded, "epoch {epoch}");
    }
    // The traces README and docs/sheepdog-facts.md §13: the 4th node got 127.
    assert!(lists
        .values()
        .any(|v| v.len() == 4 && v[3].node.nr_vnodes == 127));
}

#[test]
fn peer_writes_follow_placement() {
    let traces = load_all().unwrap();
    let lists = node_lists(&traces);
    let rings = rings(&lists);

    // (scenario, opcode, gateway port, epoch, oid) -> (dest port, ec_index) list
    type Key = (String, u8, u16, u32, u64);
    let mut groups: BTreeMap<Key, Vec<(u16, u8)>> = BTreeMap::new();
    for t in &traces {
        for x in &t.exchanges {
            if x.opcode != CREATE_AND_WRITE_PEER && x.opcode != WRITE_PEER {
                continue;
            }
            let Endpoint::Sheep(gw) = x.from else {
                panic!("{} #{}: peer write not from a sheep", t.scenario, x.n);
            };
            let (epoch, obj) = peer_obj(x);
            let (oid, ec_index) = (obj.oid.0, obj.ec_index);
            groups
                .entry((t.scenario.clone(), x.opcode, gw, epoch, oid))
                .or_default()
                .push((x.to_port, ec_index));
        }
    }

    let mut fanouts = 0;
    let mut requests = 0;
    let mut oids = std::collections::BTreeSet::new();
    for ((scenario, op, gw, epoch, oid), mut got) in groups {
        let ctx = format!("{scenario}: op 0x{op:02x} from sheep:{gw} epoch {epoch} oid {oid:016x}");
        let nodes = lists
            .get(&epoch)
            .unwrap_or_else(|| panic!("{ctx}: no node list recorded for epoch {epoch}"));
        let ring = &rings[&epoch];
        let expect: Vec<(u16, u8)> = ring
            .replicas(oid, COPIES)
            .into_iter()
            .enumerate()
            .map(|(i, n)| (port_of(nodes, n), i as u8))
            .collect();
        assert_eq!(expect.len(), COPIES, "{ctx}");
        // The same object may be written several times by the same gateway
        // (e.g. gref updates); each fan-out must hit exactly the replica set.
        assert_eq!(got.len() % expect.len(), 0, "{ctx}: {got:?}");
        let k = got.len() / expect.len();
        let mut want: Vec<(u16, u8)> = expect.iter().cycle().take(got.len()).copied().collect();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want, "{ctx}: expected {expect:?} x{k}");
        fanouts += k;
        requests += got.len();
        oids.insert(oid);
    }
    println!(
        "placement: {fanouts} peer-write fan-outs ({requests} requests, {} distinct oids) match",
        oids.len()
    );
    assert!(fanouts > 0, "no peer writes compared");
    assert!(fanouts >= 20, "only {fanouts} fan-outs compared");
    assert!(oids.len() >= 6, "only {} distinct oids", oids.len());
}

#[test]
fn peer_removes_and_reads_target_replicas() {
    let traces = load_all().unwrap();
    let lists = node_lists(&traces);
    let rings = rings(&lists);
    let mut removes = 0;
    let mut reads = 0;
    for t in &traces {
        for x in &t.exchanges {
            let normal_read = x.opcode == READ_PEER && x.req_flags() & FLAG_RECOVERY == 0;
            if x.opcode != REMOVE_PEER && !normal_read {
                continue;
            }
            // Reads and removes sent by a gateway sheep (the Python probes
            // send READ_PEER with made-up epochs).
            let Endpoint::Sheep(_) = x.from else {
                continue;
            };
            let (epoch, obj) = peer_obj(x);
            let oid = obj.oid.0;
            let nodes = &lists[&epoch];
            let ports: Vec<u16> = rings[&epoch]
                .replicas(oid, COPIES)
                .into_iter()
                .map(|n| port_of(nodes, n))
                .collect();
            assert!(
                ports.contains(&x.to_port),
                "{} #{}: op 0x{:02x} oid {oid:016x} to {} not in {ports:?}",
                t.scenario,
                x.n,
                x.opcode,
                x.to_port
            );
            if x.opcode == REMOVE_PEER {
                removes += 1;
            } else {
                reads += 1;
            }
        }
    }
    println!("placement: {removes} REMOVE_PEER and {reads} READ_PEER targets are replicas");
    assert!(removes > 0 && reads > 0);
}
