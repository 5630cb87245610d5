//! Join refusal with real sheep processes on 127.0.0.1: a store formatted by
//! another cluster (ctime mismatch) and a disjoint peer-protocol window both
//! make the joining sheep exit non-zero with a clear log line; a node inside
//! the window joins and keeps running.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use sheep::client::{Client, Target};

const SHEEP: &str = env!("CARGO_BIN_EXE_sheep");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A sheep process, killed by PID on drop.
struct Sheep {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Sheep {
    fn spawn(store: &Path, cluster: &str, extra: &[&str]) -> Sheep {
        let port = free_port();
        std::fs::create_dir_all(store).unwrap();
        let log = store.with_extension("log");
        let f = std::fs::File::create(&log).unwrap();
        let child = Command::new(SHEEP)
            .args(["-b", "127.0.0.1", "-p", &port.to_string(), "-c", cluster])
            .args(extra)
            .arg(store)
            .stdout(Stdio::null())
            .stderr(f)
            .spawn()
            .expect("spawn sheep");
        Sheep {
            child,
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            log,
        }
    }

    async fn client(&self) -> Client {
        let t0 = Instant::now();
        loop {
            if let Ok(c) = Client::connect(&Target::Tcp(self.addr)).await {
                return c;
            }
            assert!(
                t0.elapsed() < Duration::from_secs(15),
                "sheep at {} did not come up: {}",
                self.addr,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let t0 = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                return s;
            }
            assert!(t0.elapsed() < limit, "sheep did not exit: {}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Sheep {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
