//! `sheep`: the sheepdog-compatible storage daemon (single node).

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use sheep::daemon::{self, Config};
use sheep::net::Listeners;

/// A sheepdog-compatible storage daemon.
///
/// Serves the sheepdog client, peer and admin protocols on TCP and on the
/// unix socket STORE_DIR/sock (usable by tgtd as `unix:STORE_DIR/sock:VDI`).
/// A fresh store waits for `dog cluster format` (MAKE_FS).
#[derive(Parser, Debug)]
#[command(name = "sheep", version)]
struct Args {
    /// TCP port to listen on (tgtd keeps only 4 digits: use <= 9999 for it).
    #[arg(short = 'p', long, default_value_t = 7000)]
    port: u16,
    /// Address to bind and announce.
    #[arg(short = 'b', long = "bindaddr", default_value = "0.0.0.0")]
    bind: IpAddr,
    /// Cluster driver; only `local` (this one node) is supported for now.
    #[arg(short = 'c', long = "cluster", default_value = "local")]
    cluster: String,
    /// Zone of this node (default: derived from the address, like sheepdog).
    #[arg(short = 'z', long)]
    zone: Option<u32>,
    /// Stay in the foreground (the daemon never forks; accepted for
    /// compatibility with sheepdog's command line).
    #[arg(short = 'f', long)]
    foreground: bool,
    /// No fsync: acknowledge writes before they are durable (benchmarks
    /// only; a crash may lose acknowledged data).
    #[arg(short = 'n', long)]
    nosync: bool,
    /// Store directory (objects, config, epoch log, unix socket).
    store_dir: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let a = Args::parse();
    if a.cluster != "local" {
        eprintln!(
            "sheep: cluster driver '{}' is not supported yet; only 'local' (single node) is",
            a.cluster
        );
        return ExitCode::from(2);
    }
    let addr = SocketAddr::new(a.bind, a.port);
    let mut cfg = Config::new(&a.store_dir, addr);
    cfg.zone = a.zone;
    cfg.sync = !a.nosync;
    let listeners = match Listeners::bind(addr, &a.store_dir).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!(
                "sheep: cannot listen on {addr} / {}/sock: {e}",
                a.store_dir.display()
            );
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(%addr, dir = %a.store_dir.display(), sync = cfg.sync, "sheep listening");
    let shutdown = async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
    };
    let sock = a.store_dir.join("sock");
    let r = daemon::run(cfg, listeners, shutdown).await;
    let _ = std::fs::remove_file(sock);
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("sheep: {e}");
            ExitCode::FAILURE
        }
    }
}
