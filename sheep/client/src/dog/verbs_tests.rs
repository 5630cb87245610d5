//! dog verbs against a stub sheep: argument parsing, output formatting
//! (plain, `-r` raw, `--json`) and how a sheep's error result becomes the
//! dog's message and exit status. The request sequences themselves are
//! checked against the C dog's recordings by `sheep/daemon/tests/dog_compat.rs`.

use std::net::SocketAddr;
use std::sync::Arc;

use futures::StreamExt;
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio_util::codec::FramedRead;

use super::super::{parse_size, run, DogError, Env};
use crate::proto::payload::NodeList;
use crate::proto::{NodeRsp, RspArm, RspHeader, SdNode, SdResult};
use crate::Target;

const GET_NODE_LIST: u8 = 0x82;
const GET_VDI_INFO: u8 = 0x14;

/// A stub sheep on loopback: GET_NODE_LIST answers `nodes`, GET_VDI_INFO
/// answers `vdi_info`, every other request SUCCESS with nothing.
async fn stub_sheep(nodes: Vec<SdNode>, vdi_info: SdResult) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let nodes = nodes.clone();
            tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut frames = FramedRead::new(r, crate::proto::frame::req_codec());
                while let Some(Ok(f)) = frames.next().await {
                    let mut payload = Vec::new();
                    let rsp = match f.header.opcode {
                        GET_NODE_LIST => {
                            let list = NodeList {
                                nodes: nodes.clone(),
                            };
                            payload = sdwire::to_vec(&list, 0).unwrap();
                            let mut rsp = RspHeader::for_request(&f.header, SdResult::Success, 3);
                            rsp.body = RspArm::Node(NodeRsp {
                                nr_nodes: nodes.len() as u32,
                                ..NodeRsp::default()
                            })
                            .encode_at(sdwire::Version::from(0u8))
                            .unwrap();
                            rsp
                        }
                        GET_VDI_INFO => RspHeader::for_request(&f.header, vdi_info, 3),
                        _ => RspHeader::for_request(&f.header, SdResult::Success, 3),
                    };
                    let mut rsp = rsp;
                    rsp.data_length = payload.len() as u32;
                    let mut out = rsp.to_bytes().to_vec();
                    out.extend_from_slice(&payload);
                    if tokio::io::AsyncWriteExt::write_all(&mut w, &out)
                        .await
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn node(port: u16, vnodes: u16, zone: u32) -> SdNode {
    let mut n = SdNode::new(SocketAddr::from(([127, 0, 0, 1], port)), vnodes, 1 << 30);
    n.zone = zone;
    n
}

/// Runs `dog ARGS -p PORT` against the stub at `addr`; the result and what
/// the dog wrote to stdout.
async fn dog(addr: SocketAddr, args: &[&str]) -> (Result<(), DogError>, String) {
    let (w, mut r) = tokio::io::duplex(1 << 20);
    let mut env = Env {
        connect: Arc::new(move |_| Target::Tcp(addr)),
        stdin: Box::new(tokio::io::empty()),
        stdout: Box::new(w),
        progress: false,
        direct_stdio: false,
    };
    let port = addr.port().to_string();
    let mut argv = vec!["dog"];
    argv.extend_from_slice(args);
    argv.extend(["-a", "127.0.0.1", "-p", &port]);
    let res = run(argv, &mut env).await;
    drop(env);
    let mut out = String::new();
    r.read_to_string(&mut out).await.unwrap();
    (res, out)
}

fn two_nodes() -> Vec<SdNode> {
    vec![node(7000, 128, 1), node(7001, 64, 2)]
}

#[tokio::test]
async fn node_list_prints_a_table() {
    let addr = stub_sheep(two_nodes(), SdResult::Success).await;
    let (res, out) = dog(addr, &["node", "list"]).await;
    res.unwrap();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0], "  Id   Host:Port         V-Nodes       Zone");
    assert_eq!(lines[1], "   0   127.0.0.1:7000      \t128          1");
    assert_eq!(lines[2], "   1   127.0.0.1:7001      \t64          2");
}

#[tokio::test]
async fn node_list_raw_and_json() {
    let addr = stub_sheep(two_nodes(), SdResult::Success).await;
    let (res, out) = dog(addr, &["node", "list", "-r"]).await;
    res.unwrap();
    assert_eq!(out, "0 127.0.0.1:7000 128 1\n1 127.0.0.1:7001 64 2\n");
    let (res, out) = dog(addr, &["node", "list", "--json"]).await;
    res.unwrap();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[1]["addr"], "127.0.0.1:7001");
    assert_eq!(v[1]["vnodes"], 64);
    assert_eq!(v[0]["zone"], 1);
}

#[tokio::test]
async fn an_error_result_names_what_failed_and_sets_the_exit_status() {
    let addr = stub_sheep(two_nodes(), SdResult::NoVdi).await;
    let (res, out) = dog(addr, &["vdi", "delete", "ghost"]).await;
    let e = res.expect_err("no such VDI");
    assert!(out.is_empty(), "{out}");
    assert!(
        e.to_string().starts_with("Failed to open VDI ghost: "),
        "{e}"
    );
    assert!(matches!(e, DogError::Sd { code, .. } if SdResult::from_code(code) == SdResult::NoVdi));
    assert_eq!(e.exit_code(), 5);
    let addr = stub_sheep(two_nodes(), SdResult::VdiExist).await;
    let (res, _) = dog(addr, &["vdi", "delete", "ghost", "-s", "snap1"]).await;
    let e = res.expect_err("refused");
    assert!(e.to_string().contains("snapshot tag: snap1"), "{e}");
    assert_eq!(e.exit_code(), 3);
}

#[tokio::test]
async fn bad_arguments_are_usage_errors() {
    // Nothing listens: usage errors are found before any connection.
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    for (args, want) in [
        (&["vdi", "create", "v", "12Q"][..], "Invalid size '12Q'"),
        (
            &["cluster", "format", "-c", "0"][..],
            "Invalid redundancy level '0'",
        ),
        (
            &["cluster", "format", "-c", "3:1"][..],
            "Invalid redundancy level '3:1'",
        ),
        (&["vdi", "frobnicate"][..], "(try 'dog --help')"),
    ] {
        let (res, _) = dog(addr, args).await;
        let e = res.expect_err("usage error");
        assert!(matches!(e, DogError::Usage(_)), "{args:?}: {e:?}");
        assert!(e.to_string().contains(want), "{args:?}: {e}");
        assert_eq!(e.exit_code(), 64);
    }
}

#[tokio::test]
async fn an_unreachable_sheep_is_a_connection_error() {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    let (res, _) = dog(addr, &["node", "list"]).await;
    let e = res.expect_err("nothing listens");
    assert!(matches!(e, DogError::Conn(_)), "{e:?}");
    assert_eq!(e.exit_code(), 2);
}

#[test]
fn sizes_parse_with_binary_units() {
    assert_eq!(parse_size("4096").unwrap(), 4096);
    assert_eq!(parse_size("64M").unwrap(), 64 << 20);
    assert_eq!(parse_size("1g").unwrap(), 1 << 30);
    assert_eq!(parse_size("1.5T").unwrap(), 3 << 39);
    assert_eq!(parse_size(" 2K ").unwrap(), 2048);
    for bad in ["", "M", "-1", "1X", "NaN", "99999999999P"] {
        assert!(parse_size(bad).is_err(), "{bad}");
    }
}
