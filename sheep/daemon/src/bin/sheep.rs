//! `sheep`: the sheepdog-compatible storage daemon.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use sheep::cluster::join::Versions;
use sheep::cluster::membership::{JoinError, Membership};
use sheep::cluster::{open_driver, parse_driver_spec, DriverSpec};
use sheep::server::Listeners;
use sheep::server::{self, Config};
use sheep_proto::SdNode;

/// A sheepdog-compatible storage daemon.
///
/// Serves the sheepdog client, peer and admin protocols on TCP and on the
/// unix socket STORE_DIR/sock (usable by tgtd as `unix:STORE_DIR/sock:VDI`).
/// A fresh store waits for `dog cluster format` (MAKE_FS).
#[derive(Parser, Debug)]
#[command(name = "sheep", version)]
struct Args {
    /// TCP port to listen on (tgtd keeps only 4 digits: use <= 9999 for it).
    #[arg(short = 'p', long, default_value_t = sheep::proto::SD_LISTEN_PORT)]
    port: u16,
    /// Address to bind and announce.
    #[arg(short = 'b', long = "bindaddr", default_value = "0.0.0.0")]
    bind: IpAddr,
    /// Cluster driver: `local[:DIR]` (sheep on this machine sharing DIR,
    /// default STORE_DIR/.cluster, a cluster of one) or
    /// `etcd:HOST:PORT[,HOST:PORT...][/CLUSTER]`.
    #[arg(short = 'c', long = "cluster", default_value = "local")]
    cluster: String,
    /// Highest peer protocol version to speak (e.g. 0x0a to interoperate
    /// with nodes without payload CRCs). Also `SHEEP_PEER_VERSION`.
    #[arg(long = "peer-version", value_parser = parse_ver)]
    peer_version: Option<u8>,
    /// Lowest peer protocol version to accept (testing the join window).
    #[arg(long = "peer-compat", value_parser = parse_ver, hide = true)]
    peer_compat: Option<u8>,
    /// Zone of this node (default: derived from the address, like sheepdog).
    #[arg(short = 'z', long)]
    zone: Option<u32>,
    /// Also serve every VDI over NBD (fixed newstyle) on this address,
    /// e.g. 127.0.0.1:10809. Off by default.
    #[arg(long = "nbd", value_name = "ADDR")]
    nbd: Option<SocketAddr>,
    /// Stay in the foreground (the daemon never forks; accepted for
    /// compatibility with sheepdog's command line).
    #[arg(short = 'f', long)]
    foreground: bool,
    /// No fsync: acknowledge writes before they are durable (benchmarks
    /// only; a crash may lose acknowledged data).
    #[arg(short = 'n', long)]
    nosync: bool,
    /// Seconds a request frame may take to arrive once it has begun; a
    /// connection stalled mid-frame longer is closed (idle connections
    /// between requests are kept).
    #[arg(long = "frame-timeout", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    frame_timeout: u64,
    /// Store directory (objects, config, epoch log, unix socket).
    store_dir: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    sheep_client::alloc::keep_freed_buffers();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let a = Args::parse();
    let spec = match parse_driver_spec(&a.cluster) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sheep: {e}");
            return ExitCode::from(2);
        }
    };
    let addr = SocketAddr::new(a.bind, a.port);
    let mut cfg = Config::new(&a.store_dir, addr);
    cfg.zone = a.zone;
    cfg.sync = !a.nosync;
    cfg.clustered = true;
    cfg.frame_timeout = std::time::Duration::from_secs(a.frame_timeout);
    cfg.versions = versions_of(&a);
    let bound = match Listeners::bind(addr, &a.store_dir).await {
        Ok(l) => match a.nbd {
            Some(n) => l.with_nbd(n).await.map_err(|e| (n, e)),
            None => Ok(l),
        },
        Err(e) => Err((addr, e)),
    };
    let listeners = match bound {
        Ok(l) => l,
        Err((at, e)) => {
            eprintln!(
                "sheep: cannot listen on {at} / {}/sock: {e}",
                a.store_dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(%addr, dir = %a.store_dir.display(), sync = cfg.sync, nbd = ?a.nbd, "sheep listening");
    let membership = match join_cluster(&a, &spec, addr).await {
        Ok(m) => m,
        Err(code) => return code,
    };
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
    };
    let sock = a.store_dir.join("sock");
    let r = match server::State::open(cfg) {
        Ok(st) => {
            server::members::attach(&st, membership.clone(), me_of(&a, addr));
            server::serve(st, listeners, shutdown).await
        }
        Err(e) => Err(e),
    };
    if let Err(e) = membership.driver().leave().await {
        tracing::warn!(error = %e, "leaving the cluster failed");
    }
    let _ = std::fs::remove_file(sock);
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sheep: {e}");
            ExitCode::FAILURE
        }
    }
}

fn parse_ver(s: &str) -> Result<u8, String> {
    let r = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u8::from_str_radix(h, 16),
        None => s.parse(),
    };
    r.map_err(|e| format!("bad version {s:?}: {e}"))
}

/// The protocol versions this node speaks: the build's, with the peer
/// protocol capped by `--peer-version` (or `SHEEP_PEER_VERSION`) and its
/// oldest version raised by `--peer-compat`.
fn versions_of(a: &Args) -> Versions {
    let mut versions = Versions::ours();
    let env_cap = std::env::var("SHEEP_PEER_VERSION")
        .ok()
        .and_then(|s| parse_ver(&s).ok());
    if let Some(v) = a.peer_version.or(env_cap) {
        versions = Versions::capped_peer(v);
    }
    if let Some(c) = a.peer_compat {
        versions.peer.compat = c;
    }
    versions
}

/// This node as announced to the cluster: an unspecified bind address is
/// announced as loopback (single-machine clusters); `-z` sets the zone.
fn me_of(a: &Args, addr: SocketAddr) -> SdNode {
    let ann = if addr.ip().is_unspecified() {
        SocketAddr::new(IpAddr::from([127, 0, 0, 1]), addr.port())
    } else {
        addr
    };
    let mut me = SdNode::new(ann, 128, 1 << 40);
    if let Some(z) = a.zone {
        me.zone = z;
    }
    me
}

/// Joins the cluster selected by `-c`. A refusal (disjoint version window,
/// store of another cluster) is logged and ends the process with status 1.
async fn join_cluster(
    a: &Args,
    spec: &DriverSpec,
    addr: SocketAddr,
) -> Result<Arc<Membership>, ExitCode> {
    let driver = match open_driver(spec, &a.store_dir) {
        Ok(d) => Arc::from(d),
        Err(e) => {
            tracing::error!(error = %e, "cannot open the cluster driver");
            return Err(ExitCode::FAILURE);
        }
    };
    let versions = versions_of(a);
    let me = me_of(a, addr);
    match Membership::join(driver, me, versions, a.store_dir.clone()).await {
        Ok(m) => {
            let v = m.view();
            tracing::info!(
                driver = %m.driver().name(),
                members = v.members.len(),
                epoch = v.epoch,
                peer = %versions.peer,
                "joined the cluster"
            );
            Ok(m)
        }
        Err(JoinError::Refused(r)) => {
            tracing::error!("join refused by the cluster: {r}");
            eprintln!("sheep: join refused by the cluster: {r}");
            Err(ExitCode::from(1))
        }
        Err(e) => {
            tracing::error!(error = %e, "joining the cluster failed");
            Err(ExitCode::FAILURE)
        }
    }
}
