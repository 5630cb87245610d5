//! The `dog` binary end to end against a sheep on loopback, and against a
//! cluster of three sheep processes (copies=2, each verb through another
//! node): every verb, data round trips across object boundaries, JSON
//! output, results alike through every node, space freed by delete,
//! shutdown, and clean one-line failures.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use support::procs::{dog_bin, spawn_local_cluster, wait_members};
use support::Daemon;
use tokio::io::AsyncWriteExt;
use tokio::process::Command;

/// Runs the dog against `addr` with `args`, feeding `stdin`.
async fn dog(addr: SocketAddr, args: &[&str], stdin: &[u8]) -> Output {
    let port = addr.port().to_string();
    let mut child = Command::new(dog_bin())
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

/// Every verb except shutdown against the sheep at `addrs` (one node, or
/// the nodes of one cluster, used in turn so that each verb runs through
/// several gateways) whose stores are `stores`; formats with `copies`.
/// Results must agree whichever node answers.
async fn every_verb_but_shutdown(addrs: &[SocketAddr], stores: &[&Path], copies: u8) {
    let n = addrs.len();
    // The i-th node, wrapping: with one node always that one.
    let at = |i: usize| addrs[i % n];
    let a = at(0);

    // Cluster: format through the last node, info through every node.
    ok(
        at(n - 1),
        &["cluster", "format", "-c", &copies.to_string()],
        b"",
    )
    .await;
    let mut infos = Vec::new();
    for &x in addrs {
        let info = text(&ok(x, &["cluster", "info"], b"").await);
        assert!(info.contains("Cluster status: running"), "{info}");
        for y in addrs {
            assert!(info.contains(&y.to_string()), "{y} missing: {info}");
        }
        let mut ji = json(&ok(x, &["cluster", "info", "--json"], b"").await);
        assert_eq!(ji["result"], "SUCCESS", "{ji}");
        // Each node stamps an epoch with its own clock when it logs it (as
        // sheepdog's do): on a busy machine two nodes may log the same
        // epoch a second apart. Everything else must agree.
        for e in ji["epochs"].as_array_mut().unwrap() {
            e.as_object_mut().unwrap().remove("time");
        }
        infos.push(ji);
    }
    assert!(
        infos.iter().all(|i| *i == infos[0]),
        "cluster info differs: {infos:?}"
    );

    // Nodes: every node lists every node, alike.
    let mut lists = Vec::new();
    for &x in addrs {
        let nl = text(&ok(x, &["node", "list"], b"").await);
        for y in addrs {
            assert!(nl.contains(&y.to_string()), "{y} missing: {nl}");
        }
        let jn = json(&ok(x, &["node", "list", "--json"], b"").await);
        assert_eq!(jn.as_array().unwrap().len(), n, "{jn}");
        lists.push(jn);
    }
    assert!(
        lists.iter().all(|l| *l == lists[0]),
        "node lists differ: {lists:?}"
    );
    let ni = text(&ok(at(1), &["node", "info"], b"").await);
    assert!(ni.contains("Total"), "{ni}");
    let jni = json(&ok(at(2), &["node", "info", "--json"], b"").await);
    assert!(jni["total"]["size"].as_u64().unwrap() > 0, "{jni}");
    assert_eq!(jni["nodes"].as_array().unwrap().len(), n, "{jni}");
    for &x in addrs {
        let nr = text(&ok(x, &["node", "recovery"], b"").await);
        assert!(nr.starts_with("Nodes In Recovery:"), "{nr}");
    }

    // Create through one node, write across object boundaries through
    // another, read back through every node.
    ok(a, &["vdi", "create", "img", "64M"], b"").await;
    ok(at(1), &["vdi", "create", "-P", "pre", "12M"], b"").await;
    let data = pattern(9 << 20 | 12345, 1);
    ok(
        at(2),
        &["vdi", "write", "img", "1000", &data.len().to_string()],
        &data,
    )
    .await;
    for &x in addrs {
        let back = ok(
            x,
            &["vdi", "read", "img", "1000", &data.len().to_string()],
            b"",
        )
        .await;
        assert!(back == data, "read back through {x} differs");
        let head = ok(x, &["vdi", "read", "img", "0", "1000"], b"").await;
        assert_eq!(head, vec![0u8; 1000]);
    }
    // Default inflight and the C dog's one-at-a-time pattern agree.
    let back1 = ok(
        at(1),
        &["vdi", "read", "--inflight", "1", "img", "1000", "9M"],
        b"",
    )
    .await;
    assert!(back1[..] == data[..9 << 20]);
    let pre = ok(at(2), &["vdi", "read", "pre"], b"").await;
    assert!(pre.len() == 12 << 20 && pre.iter().all(|&b| b == 0));
    // A one-at-a-time write (stdin read piece by piece) reads back through
    // the pipelined path, and stdin ending early stops the write there.
    let data1 = pattern(5 << 20 | 7, 3);
    ok(
        at(1),
        &["vdi", "write", "--inflight", "1", "pre", "1M", "6M"],
        &data1,
    )
    .await;
    let back1 = ok(a, &["vdi", "read", "pre", "1M", "6M"], b"").await;
    assert!(back1[..data1.len()] == data1[..], "--inflight 1 write");
    assert!(back1[data1.len()..].iter().all(|&b| b == 0));

    // List: table and JSON, the same through every node.
    let lt = text(&ok(a, &["vdi", "list"], b"").await);
    assert!(lt.contains("img") && lt.contains("pre"), "{lt}");
    let jl = vdi_list_everywhere(addrs).await;
    let img = vdi_by_name(&jl, "img", false);
    assert_eq!(img["size"], 64u64 << 20);
    assert_eq!(img["used"], 12u64 << 20, "{img}");
    assert_eq!(vdi_by_name(&jl, "pre", false)["used"], 12u64 << 20);

    // Snapshot, then overwrite the working image; clone the snapshot; each
    // through another node.
    ok(at(1), &["vdi", "snapshot", "-s", "s1", "img"], b"").await;
    let over = pattern(5 << 20, 2);
    ok(
        at(2),
        &["vdi", "write", "img", "0", &over.len().to_string()],
        &over,
    )
    .await;
    ok(a, &["vdi", "clone", "-s", "s1", "img", "cl"], b"").await;
    for &x in addrs {
        let snap = ok(
            x,
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
        assert!(snap == data, "snapshot changed (through {x})");
        let cl = ok(
            x,
            &["vdi", "read", "cl", "1000", &data.len().to_string()],
            b"",
        )
        .await;
        assert!(cl == data, "clone differs from its snapshot (through {x})");
        let cur = ok(
            x,
            &["vdi", "read", "img", "0", &over.len().to_string()],
            b"",
        )
        .await;
        assert!(
            cur == over,
            "working image lost the overwrite (through {x})"
        );
    }
    let jl = vdi_list_everywhere(addrs).await;
    assert_eq!(vdi_by_name(&jl, "img", true)["tag"], "s1");
    assert_eq!(vdi_by_name(&jl, "cl", false)["clone"], true);

    // Resize, attributes, check, tree.
    ok(at(1), &["vdi", "resize", "img", "128M"], b"").await;
    for &x in addrs {
        let jl = json(&ok(x, &["vdi", "list", "--json", "img"], b"").await);
        assert_eq!(vdi_by_name(&jl, "img", false)["size"], 128u64 << 20);
    }
    let small = dog(at(2), &["vdi", "resize", "img", "1M"], b"").await;
    one_line_failure(&small, "shrink");
    ok(a, &["vdi", "setattr", "img", "color", "blue"], b"").await;
    ok(at(1), &["vdi", "setattr", "img", "note"], b"from stdin").await;
    for &x in addrs {
        assert_eq!(
            ok(x, &["vdi", "getattr", "img", "color"], b"").await,
            b"blue"
        );
        assert_eq!(
            ok(x, &["vdi", "getattr", "img", "note"], b"").await,
            b"from stdin"
        );
    }
    ok(at(2), &["vdi", "setattr", "-d", "img", "color"], b"").await;
    for &x in addrs {
        one_line_failure(
            &dog(x, &["vdi", "getattr", "img", "color"], b"").await,
            "deleted attr",
        );
    }
    for &x in addrs {
        let ck = text(&ok(x, &["vdi", "check", "img"], b"").await);
        assert!(ck.contains("finish check&repair img"), "{ck}");
        let tree = text(&ok(x, &["vdi", "tree"], b"").await);
        assert!(
            tree.contains("img---[s1]") && tree.contains("(you are here)"),
            "{tree}"
        );
    }

    // Delete frees space: the cluster's used bytes drop back (by every
    // replica's worth).
    let used = |v: &serde_json::Value| v["total"]["used"].as_u64().unwrap();
    let before = used(&json(&ok(a, &["node", "info", "--json"], b"").await));
    ok(a, &["vdi", "delete", "pre"], b"").await;
    ok(at(1), &["vdi", "delete", "cl"], b"").await;
    ok(at(2), &["vdi", "delete", "img"], b"").await;
    ok(a, &["vdi", "delete", "-s", "s1", "img"], b"").await;
    let after = used(&json(&ok(at(1), &["node", "info", "--json"], b"").await));
    let copies = u64::from(copies);
    assert!(
        before - after >= copies * (20 << 20),
        "delete freed only {} bytes",
        before - after
    );
    let jl = vdi_list_everywhere(addrs).await;
    assert_eq!(jl.as_array().unwrap().len(), 0, "{jl}");
    for s in stores {
        assert_eq!(walk(s), 0, "data bytes left in the store {}", s.display());
    }

    // Errors: one line, non-zero, no panic.
    let e = one_line_failure(&dog(at(1), &["vdi", "read", "nope"], b"").await, "no vdi");
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
}

/// `vdi list --json` through every node: the same everywhere.
async fn vdi_list_everywhere(addrs: &[SocketAddr]) -> serde_json::Value {
    let mut all = Vec::new();
    for &x in addrs {
        all.push(json(&ok(x, &["vdi", "list", "--json"], b"").await));
    }
    assert!(
        all.iter().all(|l| *l == all[0]),
        "vdi lists differ: {all:?}"
    );
    all.swap_remove(0)
}

/// Waits until nothing accepts connections at `a` any more.
async fn wait_closed(a: SocketAddr) {
    let gone = Instant::now();
    while tokio::net::TcpStream::connect(a).await.is_ok() {
        assert!(
            gone.elapsed() < Duration::from_secs(10),
            "sheep {a} still up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs the dog with the given stdin and stdout files; returns stderr.
async fn dog_files(addr: SocketAddr, args: &[&str], stdin: Stdio, stdout: Stdio) -> String {
    let port = addr.port().to_string();
    let o = Command::new(dog_bin())
        .args(args)
        .args(["-a", "127.0.0.1", "-p", &port])
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        // Not `output()`: tokio's would replace stdout with a pipe.
        .spawn()
        .expect("spawn dog")
        .wait_with_output();
    let o = tokio::time::timeout(Duration::from_secs(30), o)
        .await
        .unwrap_or_else(|_| panic!("dog {args:?} timed out"))
        .unwrap();
    assert!(o.status.success(), "dog {args:?}: {}", text(&o.stderr));
    text(&o.stderr)
}

/// `vdi write` from a regular file (sent with sendfile, from stdin's
/// current offset, leaving the offset after what it took), and `vdi read`
/// into a regular file, an `O_APPEND` file (no splice there: copied) and
/// a pipe, pipelined and with `--no-zero-copy`: the same bytes every way.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn vdi_data_through_files_and_pipes() {
    use std::io::{Read, Seek, SeekFrom, Write};
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), 0).await;
    let a = d.addr;
    ok(a, &["cluster", "format", "-c", "1"], b"").await;
    ok(a, &["vdi", "create", "img", "20M"], b"").await;
    ok(a, &["vdi", "create", "img2", "20M"], b"").await;

    // 2000 bytes the dog must not send, then 9 MiB + 77 that it must.
    let data = pattern((9 << 20) + 77, 5);
    let mut src = tempfile::tempfile().unwrap();
    src.write_all(&[0xEE; 2000]).unwrap();
    src.write_all(&data).unwrap();
    let len = data.len().to_string();
    for (vdi, extra) in [("img", None), ("img2", Some("--no-zero-copy"))] {
        src.seek(SeekFrom::Start(2000)).unwrap();
        let mut args = vec!["vdi", "write", vdi, "3000", &len];
        args.extend(extra);
        dog_files(a, &args, src.try_clone().unwrap().into(), Stdio::null()).await;
        // The dog's stdin shared this file offset: it ends after the data.
        assert_eq!(src.stream_position().unwrap(), 2000 + data.len() as u64);
        let back = ok(a, &["vdi", "read", vdi, "3000", &len], b"").await;
        assert!(back == data, "{vdi}: read back differs");
    }

    // A range longer than the file: the write stops at its end.
    src.seek(SeekFrom::Start(2000 + (4 << 20))).unwrap();
    dog_files(
        a,
        &["vdi", "write", "img", "0", "12M"],
        src.try_clone().unwrap().into(),
        Stdio::null(),
    )
    .await;
    let head = ok(
        a,
        &[
            "vdi",
            "read",
            "img",
            "0",
            &(data.len() - (4 << 20)).to_string(),
        ],
        b"",
    )
    .await;
    assert!(head[..] == data[4 << 20..], "short write");

    // After a snapshot, a pipelined write from the middle of the VDI
    // (objects 2..4: the dog reads only their index entries) copies on
    // write from the snapshot's objects; both dogs read the same image.
    let before = ok(a, &["vdi", "read", "--inflight", "1", "img"], b"").await;
    ok(a, &["vdi", "snapshot", "-s", "snap1", "img"], b"").await;
    let patch = pattern((6 << 20) + 5, 9);
    let at = (9 << 20) - 3;
    ok(
        a,
        &[
            "vdi",
            "write",
            "img",
            &at.to_string(),
            &patch.len().to_string(),
        ],
        &patch,
    )
    .await;
    let mut image = before.clone();
    image[at..at + patch.len()].copy_from_slice(&patch);
    for extra in [None, Some("--inflight=1")] {
        let mut args = vec!["vdi", "read", "img"];
        args.extend(extra);
        assert!(
            ok(a, &args, b"").await == image,
            "{extra:?}: image after the COW write"
        );
        let mut args = vec!["vdi", "read", "img", "9M", "4M"];
        args.extend(extra);
        assert!(
            ok(a, &args, b"").await[..] == image[9 << 20..13 << 20],
            "{extra:?}: range"
        );
    }
    let snap = ok(a, &["vdi", "read", "-s", "snap1", "img"], b"").await;
    assert!(snap == before, "the snapshot kept its data");

    // Reads into files: whole VDI (holes included), both modes.
    let whole = ok(a, &["vdi", "read", "--inflight", "1", "img"], b"").await;
    assert_eq!(whole.len(), 20 << 20);
    assert!(whole == image);
    for extra in [None, Some("--no-zero-copy")] {
        let mut args = vec!["vdi", "read", "img"];
        args.extend(extra);
        let mut f = tempfile::tempfile().unwrap();
        dog_files(a, &args, Stdio::null(), f.try_clone().unwrap().into()).await;
        let mut got = Vec::new();
        f.seek(SeekFrom::Start(0)).unwrap();
        f.read_to_end(&mut got).unwrap();
        assert!(
            got == whole,
            "{extra:?}: file output differs: {} bytes, first difference at {:?}",
            got.len(),
            got.iter().zip(&whole).position(|(x, y)| x != y)
        );

        let p = dir.path().join("append.out");
        std::fs::write(&p, b"keep").unwrap();
        let f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
        dog_files(a, &args, Stdio::null(), f.into()).await;
        let got = std::fs::read(&p).unwrap();
        assert_eq!(&got[..4], b"keep");
        assert!(got[4..] == whole[..], "{extra:?}: O_APPEND output differs");
    }
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_verb() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), 0).await;
    let a = d.addr;
    every_verb_but_shutdown(&[a], &[dir.path()], 1).await;

    // Shutdown: the sheep stops listening.
    ok(a, &["cluster", "shutdown"], b"").await;
    wait_closed(a).await;
    tokio::time::timeout(Duration::from_secs(10), d.stop())
        .await
        .expect("daemon task ends");
}

/// The same through a cluster of three real sheep processes (local driver,
/// copies=2), each verb through a different node; `cluster shutdown`
/// through one node stops every node, like sheepdog's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_verb_three_nodes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut nodes = spawn_local_cluster(tmp.path(), 3, &["-n"]);
    let mut clients = Vec::new();
    for n in &nodes {
        clients.push(n.client().await);
    }
    wait_members(&clients, 3, Duration::from_secs(20)).await;
    drop(clients);
    let addrs: Vec<SocketAddr> = nodes.iter().map(|n| n.addr).collect();
    let stores: Vec<&Path> = nodes.iter().map(|n| n.store.as_path()).collect();
    every_verb_but_shutdown(&addrs, &stores, 2).await;

    // Shutdown through the middle node: every node exits cleanly.
    ok(addrs[1], &["cluster", "shutdown"], b"").await;
    for (i, n) in nodes.iter_mut().enumerate() {
        let st = n.wait_exit(Duration::from_secs(15)).await;
        assert!(st.success(), "sheep {i} exited with {st:?}: {}", n.log());
    }
    for &a in &addrs {
        wait_closed(a).await;
    }
}

/// Bytes in data-object files under the store (`obj/` names are oids in
/// hex; data oids have none of the top 4 bits set).
fn walk(dir: &Path) -> u64 {
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

/// `-r`: the C dog's raw output for scripts (libvirt's sheepdog backend
/// parses `vdi list -r` and `node info -r`): no headers, fields split by
/// single spaces, sizes in bytes, times in seconds, names escaped.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn raw_output_is_the_c_dogs() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), 0).await;
    let a = d.addr;
    let me = a.to_string();
    ok(a, &["cluster", "format", "-c", "1"], b"").await;
    ok(a, &["vdi", "create", "base", "12M"], b"").await;
    ok(
        a,
        &["vdi", "write", "base", "0", "5M"],
        &pattern(5 << 20, 1),
    )
    .await;
    ok(a, &["vdi", "snapshot", "-s", "t1", "base"], b"").await;
    ok(a, &["vdi", "clone", "-s", "t1", "base", "kid"], b"").await;
    ok(a, &["vdi", "create", "my disk\\x", "4M"], b"").await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let recent = |f: &str| {
        let t: u64 = f.parse().unwrap_or_else(|_| panic!("time {f:?}"));
        assert!(t <= now && t + 600 > now, "time {t} vs now {now}");
    };
    let vids = json(&ok(a, &["vdi", "list", "--json"], b"").await);
    let vid = |name: &str, snap: bool| vdi_by_name(&vids, name, snap)["vid"].as_u64().unwrap();

    // vdi list: kind name id size used shared ctime vid copies tag shift.
    let list = text(&ok(a, &["vdi", "list", "-r"], b"").await);
    // Split as `read` in a shell does: a backslash takes the next
    // character as it is.
    let fields = |l: &str| {
        let mut out = vec![String::new()];
        let mut it = l.chars();
        while let Some(ch) = it.next() {
            match ch {
                '\\' => out.last_mut().unwrap().extend(it.next()),
                ' ' => out.push(String::new()),
                ch => out.last_mut().unwrap().push(ch),
            }
        }
        out
    };
    let mut rows: Vec<Vec<String>> = list.lines().map(fields).collect();
    rows.sort_by(|x, y| (&x[1], &x[2]).cmp(&(&y[1], &y[2])));
    let want = [
        ["s", "base", "1", "12582912", "8388608", "0"],
        ["=", "base", "2", "12582912", "0", "8388608"],
        ["c", "kid", "1", "12582912", "0", "8388608"],
        ["=", "my disk\\x", "1", "4194304", "0", "0"],
    ];
    assert_eq!(rows.len(), want.len(), "{list}");
    for (r, w) in rows.iter().zip(want) {
        assert_eq!(r.len(), 11, "{r:?}");
        assert_eq!(r[..6], w, "{list}");
        recent(&r[6]);
        assert_eq!(r[7], format!("{:x}", vid(w[1], w[0] == "s")), "{list}");
        assert_eq!(
            r[8..],
            ["1", if w[0] == "s" { "t1" } else { "" }, "22"],
            "{list}"
        );
    }

    let nodes = text(&ok(a, &["node", "list", "-r"], b"").await);
    let nj = json(&ok(a, &["node", "list", "--json"], b"").await);
    let (vn, zone) = (&nj[0]["vnodes"], &nj[0]["zone"]);
    assert_eq!(nodes, format!("0 {me} {vn} {zone}\n"));

    // node info: one row per node, then the total and the VDIs' size.
    let info = text(&ok(a, &["node", "info", "-r"], b"").await);
    let lines: Vec<Vec<&str>> = info.lines().map(|l| l.split(' ').collect()).collect();
    assert_eq!(lines.len(), 2, "{info}");
    assert_eq!(lines[0][0], "0");
    assert_eq!(lines[1][0], "Total");
    assert_eq!(lines[0][1..], lines[1][1..5], "{info}");
    let n = |s: &str| {
        s.parse::<u64>()
            .unwrap_or_else(|_| panic!("{s:?} in {info}"))
    };
    assert_eq!(n(lines[0][1]), n(lines[0][2]) + n(lines[0][3]), "{info}");
    assert!(n(lines[0][2]) >= 5 << 20, "{info}");
    assert!(lines[0][4].ends_with('%'), "{info}");
    assert_eq!(n(lines[1][5]), (12 + 12 + 4) << 20, "{info}");

    // cluster info: the status, then one line per epoch.
    let ci = text(&ok(a, &["cluster", "info", "-r"], b"").await);
    let lines: Vec<&str> = ci.lines().collect();
    assert_eq!(lines[0], "running, auto-recovery enabled", "{ci}");
    assert_eq!(lines.len(), 2, "{ci}");
    let (t, rest) = lines[1].split_once(' ').unwrap();
    recent(t);
    assert_eq!(rest, format!("1 [{me}:{vn}]"), "{ci}");

    // Nothing in recovery: nothing at all.
    assert_eq!(text(&ok(a, &["node", "recovery", "-r"], b"").await), "");
    d.stop().await;
}
