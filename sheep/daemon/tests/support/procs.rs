//! Real processes for multi-node tests: sheep daemons (spawned from the
//! `sheep` binary, restartable on the same port and store, killed by PID) and
//! an etcd server, all on 127.0.0.1 with free ports.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use sheep_client::{Client, Target};
use sheep_proto::oid::Oid;
use sheep_proto::payload::NodeList;
use sheep_proto::SdResult;
use sheep_proto::{AdminOp, ClusterInfo, NoArgs, ObjReq, PeerOp, ReqFlags, Request, SdNode};

/// The `sheep` binary of this build.
pub const SHEEP: &str = env!("CARGO_BIN_EXE_sheep");

/// The `dog` binary of this build. `dog` belongs to the `sheep-client`
/// package, and cargo builds only this package's binaries for its tests,
/// so the first call runs `cargo build -p sheep-client --bin dog` into the
/// same target directory and profile as [`SHEEP`] (a no-op when it is up
/// to date; cargo holds no lock while tests run).
pub fn dog_bin() -> &'static Path {
    static DOG: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DOG.get_or_init(|| {
        let profile_dir = Path::new(SHEEP).parent().expect("sheep has a directory");
        let target_dir = profile_dir
            .parent()
            .expect("the profile directory has a parent");
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args(["build", "--quiet", "-p", "sheep-client", "--bin", "dog"])
            .arg("--target-dir")
            .arg(target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().expect("run cargo to build dog");
        assert!(status.success(), "building dog failed: {status}");
        profile_dir.join("dog")
    })
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A sheep process on 127.0.0.1, killed by PID on drop.
pub struct SheepProc {
    child: Option<Child>,
    /// Its TCP address.
    pub addr: SocketAddr,
    /// Its store directory.
    pub store: PathBuf,
    /// Where its stderr (the log) goes; appended to across restarts.
    pub log: PathBuf,
    cluster: String,
    args: Vec<String>,
}

impl SheepProc {
    /// Spawns a sheep on a free port with `-c cluster`, the given extra
    /// arguments (e.g. `-z 1 -n`) and `store`.
    pub fn spawn(store: &Path, cluster: &str, extra: &[&str]) -> SheepProc {
        Self::spawn_on(free_port(), store, cluster, extra)
    }

    /// Like [`SheepProc::spawn`] on a given port.
    pub fn spawn_on(port: u16, store: &Path, cluster: &str, extra: &[&str]) -> SheepProc {
        std::fs::create_dir_all(store).unwrap();
        let mut s = SheepProc {
            child: None,
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            store: store.to_path_buf(),
            log: store.with_extension("log"),
            cluster: cluster.to_string(),
            args: extra.iter().map(|a| a.to_string()).collect(),
        };
        s.start();
        s
    }

    fn start(&mut self) {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(SHEEP)
            .args(["-b", "127.0.0.1", "-p", &self.addr.port().to_string()])
            .args(["-c", &self.cluster])
            .args(&self.args)
            .arg(&self.store)
            .stdout(Stdio::null())
            .stderr(f)
            .spawn()
            .expect("spawn sheep");
        self.child = Some(child);
    }

    /// Its PID, while running.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// SIGKILL (no shutdown path runs) and reap.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and store (after [`kill9`](Self::kill9)
    /// or an exit).
    pub fn restart(&mut self) {
        self.kill9();
        self.start();
    }

    /// A client, retrying while the sheep comes up (15 s limit).
    pub async fn client(&self) -> Client {
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

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits for the process to exit by itself.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        let t0 = Instant::now();
        loop {
            if let Some(s) = self.child.as_mut().unwrap().try_wait().unwrap() {
                return s;
            }
            assert!(t0.elapsed() < limit, "sheep did not exit: {}", self.log());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => c.try_wait().unwrap().is_none(),
            None => false,
        }
    }
}

impl Drop for SheepProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `n` sheep processes in `dir` (stores `dir/s<i>`, zone i+1) sharing the
/// local cluster driver directory `dir/cluster`, started with `extra` flags.
pub fn spawn_local_cluster(dir: &Path, n: usize, extra: &[&str]) -> Vec<SheepProc> {
    let spec = format!("local:{}", dir.join("cluster").display());
    (0..n)
        .map(|i| {
            let z = (i + 1).to_string();
            let mut args = vec!["-z", &z];
            args.extend_from_slice(extra);
            SheepProc::spawn(&dir.join(format!("s{i}")), &spec, &args)
        })
        .collect()
}

/// GET_NODE_LIST through `c`.
pub async fn node_list(c: &Client) -> Vec<SdNode> {
    let h = Request::Admin(AdminOp::GetNodeList(NoArgs::default()))
        .to_header(ReqFlags::EMPTY, (SdNode::SIZE * 16) as u32);
    let (_, p) = c.call(h, Bytes::new()).await.unwrap();
    sdwire::from_slice::<NodeList>(&p, 0).unwrap().nodes
}

/// The full CLUSTER_INFO reply through `c`.
pub async fn cluster_info(c: &Client) -> ClusterInfo {
    let h = Request::Admin(AdminOp::ClusterInfo(NoArgs::default()))
        .to_header(ReqFlags::EMPTY, ClusterInfo::SIZE as u32);
    let (_, p) = c.call(h, Bytes::new()).await.unwrap();
    sdwire::from_slice::<ClusterInfo>(&p, 0).unwrap()
}

/// Waits until every client sees `n` members (and the same list).
pub async fn wait_members(clients: &[Client], n: usize, limit: Duration) -> Vec<SdNode> {
    let t0 = Instant::now();
    loop {
        let mut lists = Vec::new();
        for c in clients {
            lists.push(node_list(c).await);
        }
        if lists.iter().all(|l| l.len() == n && *l == lists[0]) {
            return lists.swap_remove(0);
        }
        assert!(
            t0.elapsed() < limit,
            "members did not converge to {n}: {lists:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// READ_PEER of the first bytes of `oid` on one node: whether it stores it.
pub async fn holds(c: &Client, epoch: u32, oid: u64) -> bool {
    let op = Request::Peer(PeerOp::ReadPeer(ObjReq {
        oid: Oid(oid),
        ..ObjReq::default()
    }));
    let mut h = op.to_header(ReqFlags::EMPTY, 512);
    h.epoch = epoch;
    let (rh, _) = c.raw(h, Bytes::new()).await.unwrap();
    match rh.result {
        SdResult::Success => true,
        SdResult::NoObj => false,
        other => panic!("READ_PEER {oid:016x} answered {other:?}"),
    }
}

/// Each gateway `g` writes `per_gw` whole objects of `vid` (objects
/// `g * per_gw ..`), then `straddle` bytes across the end of the first
/// object the next gateway wrote. Returns the expected image of the
/// `clients.len() * per_gw` objects.
pub async fn write_from_every_gateway(
    clients: &[Client],
    vid: u32,
    per_gw: usize,
    seed: u8,
    straddle: usize,
) -> Vec<u8> {
    let osz = 4usize << 20;
    let n = clients.len();
    let mut expect = vec![0u8; n * per_gw * osz];
    for (g, c) in clients.iter().enumerate() {
        for k in 0..per_gw {
            let idx = g * per_gw + k;
            let data = pattern(seed.wrapping_add(idx as u8), osz);
            c.vdi_write(vid, (idx * osz) as u64, &data).await.unwrap();
            expect[idx * osz..(idx + 1) * osz].copy_from_slice(&data);
        }
        let off = ((g + 1) % n) * per_gw * osz + osz - straddle / 2;
        let data = pattern(seed.wrapping_add(100 + g as u8), straddle);
        c.vdi_write(vid, off as u64, &data).await.unwrap();
        expect[off..off + straddle].copy_from_slice(&data);
    }
    expect
}

/// Asserts that data objects `0..objects` of `vid` are stored on exactly
/// `copies` nodes, the ones the vnode ring picks for the epoch
/// `clients[0]` is at. `addrs[i]` is the address of `clients[i]`; `members`
/// the node list. Returns that epoch.
pub async fn assert_placement(
    clients: &[Client],
    addrs: &[SocketAddr],
    members: &[SdNode],
    vid: u32,
    objects: u32,
    copies: usize,
    what: &str,
) -> u32 {
    let epoch = cluster_info(&clients[0]).await.header.epoch;
    let view = sheep::replication::replicas::ClusterView::new(members, epoch, addrs[0]);
    for idx in 0..objects {
        let oid = Oid::data(vid, idx).0;
        let want = view.replicas(oid, copies);
        assert_eq!(want.len(), copies, "{what}: object {idx}");
        for (i, m) in members.iter().enumerate() {
            let p = addrs
                .iter()
                .position(|a| *a == m.socket_addr())
                .expect("a member without a client");
            assert_eq!(
                holds(&clients[p], epoch, oid).await,
                want.contains(&i),
                "{what}: object {idx} on node {i}: placement {want:?}"
            );
        }
    }
    epoch
}

/// Deterministic test data.
pub fn pattern(seed: u8, len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| seed.wrapping_mul(31).wrapping_add((i % 251) as u8))
        .collect()
}

/// An etcd server on free loopback ports with a temporary data dir, killed
/// by PID on drop; restartable on the same ports and data.
pub struct Etcd {
    child: Option<Child>,
    /// Client port (127.0.0.1).
    pub client_port: u16,
    peer_port: u16,
    dir: tempfile::TempDir,
}

fn etcd_bin() -> String {
    if Path::new("/usr/bin/etcd").exists() {
        "/usr/bin/etcd".into()
    } else {
        "etcd".into()
    }
}

impl Etcd {
    /// Starts etcd and waits until it answers.
    pub async fn start() -> Etcd {
        let mut e = Etcd {
            child: None,
            client_port: free_port(),
            peer_port: free_port(),
            dir: tempfile::tempdir().unwrap(),
        };
        e.spawn().await;
        e
    }

    /// `127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// (Re)starts the process on the same ports and data dir.
    pub async fn spawn(&mut self) {
        let c = format!("http://127.0.0.1:{}", self.client_port);
        let p = format!("http://127.0.0.1:{}", self.peer_port);
        let child = Command::new(etcd_bin())
            .args(["--name", "t", "--data-dir"])
            .arg(self.dir.path().join("data"))
            .args(["--listen-client-urls", &c, "--advertise-client-urls", &c])
            .args([
                "--listen-peer-urls",
                &p,
                "--initial-advertise-peer-urls",
                &p,
            ])
            .args(["--initial-cluster", &format!("t={p}")])
            .args(["--log-level", "error"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd must be installed (apt-get install etcd-server) to run the etcd tests");
        self.child = Some(child);
        let t0 = Instant::now();
        loop {
            if let Ok(mut cl) = etcd_client::Client::connect([self.endpoint()], None).await {
                if cl.get("probe", None).await.is_ok() {
                    return;
                }
            }
            assert!(t0.elapsed() < Duration::from_secs(15), "etcd did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        self.kill();
    }
}

/// STAT_RECOVERY through `c`: the responder's epoch and its recovery state
/// (a node that has not taken the cluster's format yet counts as
/// recovering).
pub async fn recovery_state(c: &Client) -> (u32, sheep_proto::RecoveryState) {
    let h = Request::Admin(AdminOp::StatRecovery(NoArgs::default())).to_header(ReqFlags::EMPTY, 24);
    let (rh, p) = c.raw(h, Bytes::new()).await.unwrap();
    if rh.result == SdResult::WaitForFormat {
        let busy = sheep_proto::RecoveryState {
            in_recovery: 1,
            ..Default::default()
        };
        return (rh.epoch, busy);
    }
    assert_eq!(rh.result, SdResult::Success, "STAT_RECOVERY failed");
    (
        rh.epoch,
        sdwire::from_slice::<sheep_proto::RecoveryState>(&p, 0).unwrap(),
    )
}

/// Waits until every client reports the same epoch and no recovery in
/// progress; returns that epoch.
pub async fn wait_recovered(clients: &[Client], limit: Duration) -> u32 {
    let t0 = Instant::now();
    loop {
        let mut states = Vec::new();
        for c in clients {
            states.push(recovery_state(c).await);
        }
        if states
            .iter()
            .all(|(e, s)| *e == states[0].0 && s.in_recovery == 0)
        {
            return states[0].0;
        }
        assert!(
            t0.elapsed() < limit,
            "recovery did not finish everywhere: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// READ_PEER of `len` bytes of `oid` on one node (its own copy), `None` if it
/// has none.
pub async fn read_peer(c: &Client, epoch: u32, oid: u64, len: u32) -> Option<Bytes> {
    let op = Request::Peer(PeerOp::ReadPeer(ObjReq {
        oid: Oid(oid),
        ..ObjReq::default()
    }));
    let mut h = op.to_header(ReqFlags::EMPTY, len);
    h.epoch = epoch;
    let (rh, p) = c.raw(h, Bytes::new()).await.unwrap();
    match rh.result {
        SdResult::Success => Some(p),
        SdResult::NoObj => None,
        other => panic!("READ_PEER {oid:016x} answered {other:?}"),
    }
}

impl SheepProc {
    /// SIGTERM (the graceful stop: the sheep leaves the cluster and records
    /// a clean shutdown) and wait for the exit (15 s limit).
    pub async fn term(&mut self) -> ExitStatus {
        let pid = self.pid().expect("sheep is not running");
        // SAFETY: signalling a child we spawned and have not reaped.
        unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
        self.wait_exit(Duration::from_secs(15)).await
    }
}

/// GET_EPOCH of `epoch` on one node: the members logged for it, `None` if
/// that node did not log it.
pub async fn epoch_nodes(c: &Client, cur: u32, epoch: u32) -> Option<Vec<SdNode>> {
    let op = Request::Peer(PeerOp::GetEpoch(ObjReq {
        tgt_epoch: epoch,
        ..ObjReq::default()
    }));
    let mut h = op.to_header(ReqFlags::EMPTY, (SdNode::SIZE * 16) as u32);
    h.epoch = cur;
    let (rh, p) = c.raw(h, Bytes::new()).await.unwrap();
    match rh.result {
        SdResult::Success => Some(sdwire::from_slice::<NodeList>(&p, 0).unwrap().nodes),
        SdResult::NoObj => None,
        other => panic!("GET_EPOCH {epoch} answered {other:?}"),
    }
}
