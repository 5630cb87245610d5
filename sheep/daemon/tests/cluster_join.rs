//! Join refusal with real sheep processes on 127.0.0.1: a store formatted by
//! another cluster (ctime mismatch) and a disjoint peer-protocol window both
//! make the joining sheep exit non-zero with a clear log line; a node inside
//! the window joins and keeps running.

mod support;

use std::time::Duration;

use support::procs::SheepProc as Sheep;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_of_another_cluster_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let other = format!("local:{}", tmp.path().join("other").display());
    let main = format!("local:{}", tmp.path().join("main").display());
    // B's store is formatted by a cluster of its own.
    let b_store = tmp.path().join("b");
    {
        let b = Sheep::spawn(&b_store, &other, &[]);
        b.client().await.make_fs(1, 22).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(1100)).await; // ctimes differ
    let a = Sheep::spawn(&tmp.path().join("a"), &main, &[]);
    a.client().await.make_fs(1, 22).await.unwrap();
    let mut b = Sheep::spawn(&b_store, &main, &[]);
    let st = b.wait_exit(Duration::from_secs(20)).await;
    assert!(!st.success(), "refused sheep must exit non-zero");
    assert_eq!(st.code(), Some(1));
    let log = b.log();
    assert!(log.contains("cluster identity mismatch"), "log: {log}");
    // A fresh store joins the same cluster fine.
    let mut c = Sheep::spawn(&tmp.path().join("c"), &main, &[]);
    c.client().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(c.alive(), "log: {}", c.log());
    assert!(c.log().contains("joined the cluster"), "log: {}", c.log());
    drop(a);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disjoint_peer_window_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = format!("local:{}", tmp.path().join("cluster").display());
    // The founder only speaks peer 0x0a.
    let a = Sheep::spawn(&tmp.path().join("a"), &spec, &["--peer-version", "0x0a"]);
    a.client().await;
    // A node that requires 0x0b (payload CRCs) has no common version.
    let mut b = Sheep::spawn(&tmp.path().join("b"), &spec, &["--peer-compat", "0x0b"]);
    let st = b.wait_exit(Duration::from_secs(20)).await;
    assert_eq!(st.code(), Some(1));
    let log = b.log();
    assert!(
        log.contains("invalid protocol version: peer protocol window of the cluster is [0x0a, 0x0a], this node speaks [0x0b, 0x0b]"),
        "log: {log}"
    );
    // A default node ([0x0a, 0x0b]) overlaps and joins.
    let mut c = Sheep::spawn(&tmp.path().join("c"), &spec, &[]);
    c.client().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(c.alive(), "log: {}", c.log());
    assert!(c.log().contains("joined the cluster"));
    drop(a);
}
