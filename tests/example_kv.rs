//! The `examples/kv` flow as a test: the same protocol, server and client
//! modules, on an ephemeral loopback port.

#[path = "../examples/kv/app.rs"]
mod app;
#[path = "../examples/kv/proto.rs"]
mod proto;

use bytes::Bytes;
use proto::{Header, Key, PutReq, Request, Status};
use sdwire::{EncodeErrorKind, OpTable, Wire};
use std::sync::Arc;
use std::time::Duration;

async fn start() -> (
    std::net::SocketAddr,
    Arc<app::Store>,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let store = Arc::new(app::Store::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app::serve(listener, store.clone(), async {
        let _ = stopped.await;
    }));
    (addr, store, stop, server)
}

#[tokio::test]
async fn demo_flow_v1_and_v2_clients() {
    let (addr, store, stop, server) = start().await;
    let lines = tokio::time::timeout(Duration::from_secs(10), app::demo(addr))
        .await
        .unwrap()
        .unwrap();
    for l in &lines {
        println!("{l}");
    }
    let expect = [
        ("v2 put user/alice ttl=60", "Ok \"\""),
        ("v2 get user/alice", "Ok \"admin\""),
        ("v1 get user/bob", "Ok \"dev\""),
        ("v1 put user/carol", "Ok \"\""),
        (
            "v1 list user/ (v2 opcode)",
            "variant does not exist at version 0x1",
        ),
        (
            "v1 put user/alice ttl=60",
            "field holds a non-default value",
        ),
        (
            "v1 raw List opcode at v1",
            "BadRequest \"cannot decode Request at byte 0 (version 1): unknown tag 0x4\"",
        ),
        ("v2 list user/", "Ok \"user/alice\\nuser/carol\""),
    ];
    for (what, result) in expect {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(what) && l.contains(result)),
            "no line `{what} ... {result}` in:\n{}",
            lines.join("\n")
        );
    }
    assert_eq!(store.ttl(b"user/alice"), Some(60));
    assert_eq!(store.ttl(b"user/carol"), Some(0), "a v1 put has no ttl");
    assert_eq!(store.ttl(b"user/bob"), None, "deleted by the v1 client");
    stop.send(()).unwrap();
    server.await.unwrap();
}

#[tokio::test]
async fn server_refuses_unsupported_version() {
    let (addr, _store, stop, server) = start().await;
    let mut c = app::Client::connect(addr, 2).await.unwrap();
    let body = sdwire::to_bytes(&Request::Get(Key::new("k")), 2).unwrap();
    let r = c.call_raw(3, body).await.unwrap();
    assert_eq!(r.status, Status::BadRequest);
    assert!(String::from_utf8_lossy(&r.value).contains("unsupported version 3"));
    stop.send(()).unwrap();
    server.await.unwrap();
}

#[test]
fn wire_format() {
    // The header is a 16-byte contract.
    assert_eq!(Header::FIXED_SIZE, Some(16));
    // v1 and v2 encodings of a put differ by the ttl field only.
    let p = Request::Put(PutReq::new("k", Bytes::from_static(b"vv")));
    let v1 = sdwire::to_vec(&p, 1).unwrap();
    let v2 = sdwire::to_vec(&p, 2).unwrap();
    assert_eq!(v1, [0x02, 2, 0, 0, 0, 1, 0, b'k', b'v', b'v']);
    assert_eq!(v2.len(), v1.len() + 2);
    // Decoding fills the length fields in from the wire (encode ignores them).
    let d = sdwire::from_slice::<Request>(&v1, 1).unwrap();
    assert_eq!(
        d,
        Request::Put(PutReq {
            value_len: 2,
            key_len: 1,
            ..PutReq::new("k", "vv")
        })
    );
    // The List opcode exists from v2 on.
    assert!(!Request::is_known(0x04, 1));
    assert!(Request::is_known(0x04, 2));
    let e = sdwire::to_vec(&Request::List(Key::new("")), 1).unwrap_err();
    assert!(matches!(
        e.kind(),
        EncodeErrorKind::VariantUnavailable { .. }
    ));
    print!("{}", Request::LAYOUT.render());
}

/// A third-party protocol gets the same views as sheep's (`sdwire::views`):
/// C headers that gcc compiles with their `_Static_assert`s, the opcode and
/// code `#define`s with docs and versions, and markdown tables.
#[test]
fn views_of_the_kv_protocol() {
    use sdwire::views::{c, markdown, Family, Protocol};
    let family = Family {
        name: "kv",
        title: "KV example",
        c_prefix: "kv",
        common: vec![Header::LAYOUT, Status::LAYOUT, proto::Response::LAYOUT],
        protocols: vec![Protocol::new("main", Request::LAYOUT)],
    };
    let headers = c::render(&family);
    let files: Vec<&str> = headers.iter().map(|h| h.file.as_str()).collect();
    assert_eq!(files, ["kv_common.h", "kv_main.h"]);
    let (common, main) = (&headers[0].text, &headers[1].text);
    assert!(common.contains("struct kv_header {"), "{common}");
    assert!(common.contains("\t__le32 id; /* Request id, echoed in the response */"));
    assert!(common.contains("_Static_assert(sizeof(struct kv_header) == 16,"));
    assert!(common.contains("_Static_assert(offsetof(struct kv_header, body_len) == 8,"));
    assert!(common.contains("/* struct kv_response: variable size, no C struct"));
    assert!(main.contains("#define KV_REQUEST_LIST 0x04 /* "), "{main}");
    assert!(main.contains("since 0x02"));
    // Key and PutReq are reached only from the op table: the protocol's header.
    assert!(main.contains("/* struct kv_put_req: variable size"));

    let dir = tempfile::tempdir().unwrap();
    for h in &headers {
        std::fs::write(dir.path().join(&h.file), &h.text).unwrap();
    }
    let out = std::process::Command::new("gcc")
        .args([
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-fsyntax-only",
            "-x",
            "c",
        ])
        .arg(dir.path().join("kv_main.h"))
        .output()
        .expect("gcc runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut md = String::new();
    markdown::types(&mut md, "Types", &[Header::LAYOUT]);
    assert!(
        md.contains("| 8 | 4 | body_len | `u32` | le |  | Length of the body that follows. |"),
        "{md}"
    );
}
