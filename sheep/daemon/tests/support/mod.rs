//! Shared helpers for daemon tests: start a sheep on loopback.
#![allow(dead_code)]

pub mod cluster_v1;
pub mod procs;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use sheep::server::Listeners;
use sheep::server::{self, Config};
use sheep_client::{Client, Target};

/// A daemon running in the test's runtime.
pub struct Daemon {
    pub addr: SocketAddr,
    pub dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Daemon {
    /// Starts a daemon on `dir` at 127.0.0.1:`port` (0 = any).
    pub async fn start(dir: &Path, port: u16) -> Daemon {
        Self::start_with(dir, port, |_| {}).await
    }

    /// Like [`Daemon::start`], with `tune` adjusting the configuration.
    pub async fn start_with(dir: &Path, port: u16, tune: impl FnOnce(&mut Config)) -> Daemon {
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let l = Listeners::bind(addr, dir).await.expect("bind");
        let addr = l.tcp_addr().unwrap();
        let mut cfg = Config::new(dir, addr);
        cfg.park_timeout = std::time::Duration::from_millis(300);
        tune(&mut cfg);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(server::run(cfg, l, async move {
            let _ = rx.await;
        }));
        Daemon {
            addr,
            dir: dir.to_path_buf(),
            stop: Some(tx),
            task: Some(task),
        }
    }

    pub async fn client(&self) -> Client {
        Client::connect(&Target::Tcp(self.addr))
            .await
            .expect("connect")
    }

    pub async fn unix_client(&self) -> Client {
        Client::connect(&Target::Unix(self.dir.join("sock")))
            .await
            .expect("connect")
    }

    /// Stops the daemon and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.task.take() {
            t.await.unwrap().unwrap();
        }
    }
}
