//! The peer protocol version matrix with real sheep processes (local
//! driver, 3 nodes, copies = 2): every node capped at 0x0a
//! (`--peer-version 0x0a`), every node at 0x0b, and two mixed clusters.
//! In each, data written through every gateway reads back identical through
//! every gateway, every data object has its 2 replicas where the vnode ring
//! says, and each directed peer link used exactly the version both of its
//! ends know: 0x0b between two uncapped nodes, 0x0a on every link touching a
//! capped node (from the `peer link A -> B speaks V` line a gateway logs the
//! first time it sends at a version).
//!
//! Nodes start one after the other, so later joiners learn the ranges of
//! earlier members from the master's accept reply (the mixed cases put a
//! capped node before an uncapped joiner, and a capped node as master).

mod support;

use std::time::{Duration, Instant};

use support::procs::{assert_placement, pattern, wait_members, SheepProc};

/// One scenario at a time: 3 sheep each, on a 2-core machine.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs the scenario where node `i` is capped at 0x0a iff `capped[i]`.
async fn matrix(name: &str, capped: [bool; 3]) {
    let _one = ONE_AT_A_TIME.lock().await;
    let t0 = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let spec = format!("local:{}", tmp.path().join("cluster").display());
    let mut nodes: Vec<SheepProc> = Vec::new();
    let mut clients = Vec::new();
    for (i, &cap) in capped.iter().enumerate() {
        let z = (i + 1).to_string();
        let mut args = vec!["-z", z.as_str(), "-n"];
        if cap {
            args.extend(["--peer-version", "0x0a"]);
        }
        let n = SheepProc::spawn(&tmp.path().join(format!("s{i}")), &spec, &args);
        clients.push(n.client().await);
        nodes.push(n);
        // Join in order: wait until every node sees this one.
        wait_members(&clients, i + 1, Duration::from_secs(30)).await;
    }
    let members = wait_members(&clients, 3, Duration::from_secs(30)).await;

    clients[1].make_fs(2, 22).await.unwrap();
    let vid = clients[0].new_vdi("versions", 64 << 20).await.unwrap();

    // Each gateway creates two objects (partially written) and overwrites a
    // range straddling two objects another gateway created.
    let osz = 4usize << 20;
    let chunk = 64 << 10;
    let mut written: Vec<(usize, Vec<u8>)> = Vec::new();
    for (g, c) in clients.iter().enumerate() {
        for k in 0..2 {
            let idx = g * 2 + k;
            let off = idx * osz + 4096 * idx;
            let data = pattern((idx + 1) as u8, chunk);
            c.vdi_write(vid, off as u64, &data).await.unwrap();
            written.push((off, data));
        }
    }
    for (g, c) in clients.iter().enumerate() {
        let off = ((g + 1) % 3) * 2 * osz + osz - 1000;
        let data = pattern(100 + g as u8, 3000);
        c.vdi_write(vid, off as u64, &data).await.unwrap();
        written.push((off, data));
    }
    // The expected image over the touched ranges (later writes win).
    let end = written.iter().map(|(o, d)| o + d.len()).max().unwrap();
    let mut image = vec![0u8; end];
    for (o, d) in &written {
        image[*o..*o + d.len()].copy_from_slice(d);
    }
    for (g, c) in clients.iter().enumerate() {
        for (o, d) in &written {
            let got = c.vdi_read(vid, *o as u64, d.len()).await.unwrap();
            assert!(
                got[..] == image[*o..*o + d.len()],
                "{name}: gateway {g} reads {} bytes at {o} differently",
                d.len()
            );
        }
    }

    // Replicas where placement says.
    let addrs: Vec<_> = nodes.iter().map(|n| n.addr).collect();
    assert_placement(&clients, &addrs, &members, vid, 6, 2, name).await;

    // Every directed link spoke exactly the highest common version. Every
    // gateway wrote the inode to every other node, so every link was used.
    for (i, a) in nodes.iter().enumerate() {
        let log = a.log();
        for (j, b) in nodes.iter().enumerate() {
            if i == j {
                continue;
            }
            let want = if capped[i] || capped[j] { 0x0a } else { 0x0b };
            for v in [0x0a, 0x0b] {
                let line = format!("peer link {} -> {} speaks {v:#04x}", a.addr, b.addr);
                assert_eq!(
                    log.contains(&line),
                    v == want,
                    "{name}: node {i} -> node {j} should speak only {want:#04x} ({line:?});\nlog of node {i}:\n{log}"
                );
            }
        }
        assert!(
            !log.contains("CRC32C mismatch"),
            "{name}: node {i} saw a CRC mismatch:\n{log}"
        );
    }
    eprintln!("{name}: {:.1} s", t0.elapsed().as_secs_f64());
    drop(nodes);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_nodes_capped_at_0x0a() {
    matrix("all 0x0a", [true, true, true]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_nodes_at_0x0b() {
    matrix("all 0x0b", [false, false, false]).await;
}

/// A capped node between two uncapped ones: the last joiner learns from
/// the (uncapped) master that node 0 speaks 0x0b although the cluster's
/// window is 0x0a.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_capped_node_in_the_middle() {
    matrix("mixed 0x0b,0x0a,0x0b", [false, true, false]).await;
}

/// A capped master: it still tells the last joiner that node 1 speaks 0x0b.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_capped_master() {
    matrix("mixed 0x0a,0x0b,0x0b", [true, false, false]).await;
}
