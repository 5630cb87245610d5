//! The `dog` binary end to end against a sheep on loopback: every verb,
//! data round trips across object boundaries, JSON output, space freed by
//! delete, shutdown, and clean one-line failures.

mod support;

use std::net::SocketAddr;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use support::Daemon;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

const DOG: &str = env!("CARGO_BIN_EXE_dog");

/// Runs the dog against `addr` with `args`, feeding `stdin`.
async fn dog(addr: SocketAddr, args: &[&str], stdin: &[u8]) -> Output {
    let port = addr.port().to_string();
    let mut child = Command::new(DOG)
        .args(args)
        .args(["-a", "127.0.0.1", "-p", &port])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn dog");
    let mut si = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let feeder = tokio::spawn(async move {
        let _ = si.write_all(&data).await;
        drop(si);
    });
    let out = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("dog {args:?} timed out"))
        .unwrap();
    let _ = feeder.await;
    out
}

/// Runs the dog and expects success; returns stdout.
async fn ok(addr: SocketAddr, args: &[&str], stdin: &[u8]) -> Vec<u8> {
    let o = dog(addr, args, stdin).await;
    assert!(
        o.status.success(),
        "dog {args:?} failed ({:?}): {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    o.stdout
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Expects a failure with exactly one line on stderr and no panic.
fn one_line_failure(o: &Output, what: &str) -> String {
    let err = text(&o.stderr);
    assert!(!o.status.success(), "{what}: should fail");
    assert_ne!(o.status.code(), Some(101), "{what}: panicked: {err}");
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{what}: stderr {err:?}");
    err
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn json(b: &[u8]) -> serde_json::Value {
    serde_json::from_slice(b).unwrap_or_else(|e| panic!("bad json {e}: {}", text(b)))
}

/// The `vdi list --json` entry of `name` (the snapshot or the working VDI).
fn vdi_by_name<'a>(list: &'a serde_json::Value, name: &str, snap: bool) -> &'a serde_json::Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name && v["snapshot"] == snap)
        .unwrap_or_else(|| panic!("{name} (snapshot {snap}) not in {list}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_verb() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), 0).await;
    let a = d.addr;

    // Cluster.
    ok(a, &["cluster", "format", "-c", "1"], b"").await;
    let info = text(&ok(a, &["cluster", "info"], b"").await);
    assert!(info.contains("Cluster status: running"), "{info}");
    assert!(info.contains(&a.to_string()), "{info}");
    let ji = json(&ok(a, &["cluster", "info", "--json"], b"").await);
    assert_eq!(ji["result"], "SUCCESS", "{ji}");

    // Nodes.
    let nl = text(&ok(a, &["node", "list"], b"").await);
    assert!(nl.contains(&a.to_string()), "{nl}");
    let jn = json(&ok(a, &["node", "list", "--json"], b"").await);
    assert_eq!(jn.as_array().unwrap().len(), 1);
    let ni = text(&ok(a, &["node", "info"], b"").await);
    assert!(ni.contains("Total"), "{ni}");
    let jni = json(&ok(a, &["node", "info", "--json"], b"").await);
    assert!(jni["total"]["size"].as_u64().unwrap() > 0, "{jni}");
    let nr = text(&ok(a, &["node", "recovery"], b"").await);
    assert!(nr.starts_with("Nodes In Recovery:"), "{nr}");

    // Create, write across object boundaries, read back.
    ok(a, &["vdi", "create", "img", "64M"], b"").await;
    ok(a, &["vdi", "create", "-P", "pre", "12M"], b"").await;
    let data = pattern(9 << 20 | 12345, 1);
    ok(
        a,
        &["vdi", "write", "img", "1000", &data.len().to_string()],
        &data,
    )
    .await;
    let back = ok(
        a,
        &["vdi", "read", "img", "1000", &data.len().to_string()],
        b"",
    )
    .await;
    assert!(back == data, "read back differs");
    let head = ok(a, &["vdi", "read", "img", "0", "1000"], b"").await;
    assert_eq!(head, vec![0u8; 1000]);
    // Default inflight and the C dog's one-at-a-time pattern agree.
    let back1 = ok(
        a,
        &["vdi", "read", "--inflight", "1", "img", "1000", "9M"],
        b"",
    )
    .await;
    assert!(back1[..] == data[..9 << 20]);
    let pre = ok(a, &["vdi", "read", "pre"], b"").await;
    assert!(pre.len() == 12 << 20 && pre.iter().all(|&b| b == 0));

    // List: table and JSON.
    let lt = text(&ok(a, &["vdi", "list"], b"").await);
    assert!(lt.contains("img") && lt.contains("pre"), "{lt}");
    let jl = json(&ok(a, &["vdi", "list", "--json"], b"").await);
    let img = vdi_by_name(&jl, "img", false);
    assert_eq!(img["size"], 64u64 << 20);
    assert_eq!(img["used"], 12u64 << 20, "{img}");
    assert_eq!(vdi_by_name(&jl, "pre", false)["used"], 12u64 << 20);

    // Snapshot, then overwrite the working image; clone the snapshot.
    ok(a, &["vdi", "snapshot", "-s", "s1", "img"], b"").await;
    let over = pattern(5 << 20, 2);
    ok(
        a,
        &["vdi", "write", "img", "0", &over.len().to_string()],
        &over,
    )
    .await;
    ok(a, &["vdi", "clone", "-s", "s1", "img", "cl"], b"").await;
    let snap = ok(
        a,
        &[
            "vdi",
            "read",
            "-s",
            "s1",
            "img",
            "1000",
            &data.len().to_string(),
        ],
        b"",
    )
    .await;
    assert!(snap == data, "snapshot changed");
    let cl = ok(
        a,
        &["vdi", "read", "cl", "1000", &data.len().to_string()],
        b"",
    )
    .await;
    assert!(cl == data, "clone differs from its snapshot");
    let cur = ok(
        a,
        &["vdi", "read", "img", "0", &over.len().to_string()],
        b"",
    )
    .await;
    assert!(cur == over, "working image lost the overwrite");
    let jl = json(&ok(a, &["vdi", "list", "--json"], b"").await);
    assert_eq!(vdi_by_name(&jl, "img", true)["tag"], "s1");
    assert_eq!(vdi_by_name(&jl, "cl", false)["clone"], true);

    // Resize, attributes, check, tree.
    ok(a, &["vdi", "resize", "img", "128M"], b"").await;
    let jl = json(&ok(a, &["vdi", "list", "--json", "img"], b"").await);
    assert_eq!(vdi_by_name(&jl, "img", false)["size"], 128u64 << 20);
    let small = dog(a, &["vdi", "resize", "img", "1M"], b"").await;
    one_line_failure(&small, "shrink");
    ok(a, &["vdi", "setattr", "img", "color", "blue"], b"").await;
    ok(a, &["vdi", "setattr", "img", "note"], b"from stdin").await;
    assert_eq!(
        ok(a, &["vdi", "getattr", "img", "color"], b"").await,
        b"blue"
    );
    assert_eq!(
        ok(a, &["vdi", "getattr", "img", "note"], b"").await,
        b"from stdin"
    );
    ok(a, &["vdi", "setattr", "-d", "img", "color"], b"").await;
    one_line_failure(
        &dog(a, &["vdi", "getattr", "img", "color"], b"").await,
        "deleted attr",
    );
    let ck = text(&ok(a, &["vdi", "check", "img"], b"").await);
    assert!(ck.contains("finish check&repair img"), "{ck}");
    let tree = text(&ok(a, &["vdi", "tree"], b"").await);
    assert!(
        tree.contains("img---[s1]") && tree.contains("(you are here)"),
        "{tree}"
    );

    // Delete frees space: the node's used bytes drop back.
    let used = |v: &serde_json::Value| v["total"]["used"].as_u64().unwrap();
    let before = used(&json(&ok(a, &["node", "info", "--json"], b"").await));
    ok(a, &["vdi", "delete", "pre"], b"").await;
    ok(a, &["vdi", "delete", "cl"], b"").await;
    ok(a, &["vdi", "delete", "img"], b"").await;
    ok(a, &["vdi", "delete", "-s", "s1", "img"], b"").await;
    let after = used(&json(&ok(a, &["node", "info", "--json"], b"").await));
    assert!(
        before - after >= 20 << 20,
        "delete freed only {} bytes",
        before - after
    );
    let jl = json(&ok(a, &["vdi", "list", "--json"], b"").await);
    assert_eq!(jl.as_array().unwrap().len(), 0, "{jl}");
    let store_data = walk(dir.path());
    assert_eq!(store_data, 0, "data bytes left in the store");

    // Errors: one line, non-zero, no panic.
    let e = one_line_failure(&dog(a, &["vdi", "read", "nope"], b"").await, "no vdi");
    assert!(e.contains("nope"), "{e}");
    one_line_failure(
        &dog(a, &["vdi", "create", "x", "12Q"], b"").await,
        "bad size",
    );
    one_line_failure(&dog(a, &["vdi", "frobnicate"], b"").await, "bad verb");
    one_line_failure(&dog(a, &["cluster"], b"").await, "no subcommand");
    one_line_failure(
        &dog(a, &["vdi", "clone", "a", "b"], b"").await,
        "clone without -s",
    );
    let dead: SocketAddr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let e = one_line_failure(&dog(dead, &["node", "list"], b"").await, "unreachable");
    assert!(e.contains("Failed to connect"), "{e}");

    // Shutdown: the sheep stops listening.
    ok(a, &["cluster", "shutdown"], b"").await;
    let gone = Instant::now();
    while tokio::net::TcpStream::connect(a).await.is_ok() {
        assert!(gone.elapsed() < Duration::from_secs(10), "sheep still up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::timeout(Duration::from_secs(10), d.stop())
        .await
        .expect("daemon task ends");
    assert!(t0.elapsed() < Duration::from_secs(60), "{:?}", t0.elapsed());
}

/// Bytes in data-object files under the store (`obj/` names are oids in
/// hex; data oids have none of the top 4 bits set).
fn walk(dir: &std::path::Path) -> u64 {
    let mut n = 0;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            n += walk(&p);
        } else if let Some(oid) = p
            .file_name()
            .and_then(|f| f.to_str())
            .filter(|f| f.len() == 16)
            .and_then(|f| u64::from_str_radix(f, 16).ok())
        {
            if oid >> 60 == 0 {
                n += e.metadata().map(|m| m.len()).unwrap_or(0);
            }
        }
    }
    n
}
