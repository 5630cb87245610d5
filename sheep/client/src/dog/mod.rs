//! `dog`, the sheepdog admin CLI: the command tree and main flags of the C
//! dog (`-a ADDR`, `-p PORT`, `-s SNAP`, `-c COPIES`, `-P`, ...), the same
//! requests on the wire, plus `--json` output and pipelined data transfers.
//!
//! Every verb runs against connections made through [`Env::connect`], so a
//! test can point the dog at a stub server (see `sheep/tests/dog_compat.rs`).

use std::ffi::OsString;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::proto::{ClusterFlags, SdResult};
use crate::{ClientError, Target};

mod fmt;
mod splice;
mod stdio;
mod verbs;
mod wire;

/// Requests kept in flight by `vdi read` / `vdi write` unless `--inflight` says otherwise.
pub const DEFAULT_INFLIGHT: usize = 16;

/// Where the dog's connections and standard streams go.
pub struct Env {
    /// Maps a sheep address (from `-a`/`-p` or from the node list) to the
    /// place to connect to.
    pub connect: Arc<dyn Fn(SocketAddr) -> Target + Send + Sync>,
    /// Standard input (`vdi write`, `vdi setattr`, confirmations).
    pub stdin: Box<dyn AsyncRead + Unpin + Send>,
    /// Standard output.
    pub stdout: Box<dyn AsyncWrite + Unpin + Send>,
    /// Draw a progress bar for data transfers.
    pub progress: bool,
    /// `vdi read`/`vdi write` move their data through fds 1 and 0 directly,
    /// on helper threads (the process's own streams), instead of through
    /// `stdout`/`stdin`.
    pub direct_stdio: bool,
}

impl Env {
    /// The process environment: TCP to the given address, real stdin/stdout,
    /// a progress bar when stderr is a terminal.
    pub fn process() -> Env {
        use std::io::IsTerminal;
        Env {
            connect: Arc::new(Target::Tcp),
            stdin: Box::new(tokio::io::stdin()),
            stdout: Box::new(tokio::io::stdout()),
            progress: std::io::stderr().is_terminal(),
            direct_stdio: true,
        }
    }
}

/// Why a dog command failed.
#[derive(Debug, thiserror::Error)]
pub enum DogError {
    /// Bad command line.
    #[error("{0}")]
    Usage(String),
    /// The sheep could not be reached or the connection broke.
    #[error("{0}")]
    Conn(String),
    /// The sheep answered with an error result.
    #[error("{what}: {} ({})", SdResult::from_code(*.code).name(), SdResult::from_code(*.code).description())]
    Sd {
        /// What was being done.
        what: String,
        /// The result code.
        code: u32,
    },
    /// Anything else (local I/O, refused by the dog itself).
    #[error("{0}")]
    Other(String),
}

impl DogError {
    /// The process exit status for this error (the C dog's values).
    pub fn exit_code(&self) -> i32 {
        match self {
            DogError::Usage(_) => 64,
            DogError::Conn(_) => 2,
            DogError::Sd { code, .. } => match SdResult::from_code(*code) {
                SdResult::VdiExist => 3,
                SdResult::NoVdi | SdResult::NoTag => 5,
                _ => 1,
            },
            DogError::Other(_) => 1,
        }
    }
    pub(crate) fn client(what: &str, e: ClientError) -> DogError {
        match e {
            ClientError::Result(code) => DogError::Sd {
                what: what.to_string(),
                code,
            },
            e => DogError::Conn(format!("{what}: {e}")),
        }
    }
}

#[derive(Parser, Debug)]
#[command(name = "dog", about = "Sheepdog administrator utility", version)]
struct Cli {
    #[command(flatten)]
    common: Common,
    #[command(subcommand)]
    cmd: Top,
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// sheep address
    #[arg(
        short = 'a',
        long = "address",
        global = true,
        default_value = "127.0.0.1"
    )]
    address: String,
    /// sheep port
    #[arg(short = 'p', long, global = true, default_value_t = crate::proto::SD_LISTEN_PORT)]
    port: u16,
    /// machine-readable JSON output
    #[arg(long, global = true)]
    json: bool,
    /// raw output for scripts, as the C dog's -r: no headers, fields split
    /// by single spaces, sizes in bytes, times in seconds
    #[arg(short = 'r', long, global = true)]
    raw: bool,
    /// requests in flight for vdi read/write (1 = the C dog's pattern)
    #[arg(long, global = true, default_value_t = DEFAULT_INFLIGHT)]
    inflight: usize,
    /// pipelined vdi read/write copy the data through memory instead of
    /// moving it with splice(2)/sendfile(2) (for comparison)
    #[arg(long, global = true)]
    no_zero_copy: bool,
}

#[derive(Subcommand, Debug)]
enum Top {
    /// cluster commands
    Cluster {
        #[command(subcommand)]
        c: ClusterCmd,
    },
    /// node commands
    Node {
        #[command(subcommand)]
        c: NodeCmd,
    },
    /// vdi commands
    Vdi {
        #[command(subcommand)]
        c: VdiCmd,
    },
}

#[derive(Subcommand, Debug)]
enum ClusterCmd {
    /// create a sheepdog store
    Format {
        /// number of copies (or D:P for erasure coding)
        #[arg(short = 'c', long)]
        copies: Option<String>,
        /// backend store
        #[arg(short = 'b', long, default_value = "plain")]
        store: String,
        /// object size shift (default: the sheep's, 22 = 4 MiB)
        #[arg(short = 'z', long)]
        block_size_shift: Option<u8>,
        /// fixed vnodes instead of auto vnodes
        #[arg(short = 'V', long)]
        fixed_vnodes: bool,
        /// strict mode: refuse writes with fewer zones than copies
        #[arg(short = 't', long)]
        strict: bool,
        /// do not ask for confirmation when the cluster has VDIs
        #[arg(short = 'y', long)]
        yes: bool,
    },
    /// show cluster information
    Info,
    /// stop the cluster
    Shutdown,
}

#[derive(Subcommand, Debug)]
enum NodeCmd {
    /// list nodes
    List,
    /// show information about each node
    Info,
    /// show recovery progress of the nodes
    Recovery,
}

#[derive(Subcommand, Debug)]
enum VdiCmd {
    /// create an image
    Create {
        name: String,
        size: String,
        /// preallocate all data objects
        #[arg(short = 'P', long)]
        prealloc: bool,
        /// number of copies (0 = cluster default)
        #[arg(short = 'c', long)]
        copies: Option<String>,
        /// object size shift
        #[arg(short = 'z', long)]
        block_size_shift: Option<u8>,
        /// B-tree index (hyper volume)
        #[arg(short = 'y', long)]
        hyper: bool,
    },
    /// list images
    List { name: Option<String> },
    /// delete an image
    Delete {
        name: String,
        /// snapshot id or tag
        #[arg(short = 's', long)]
        snapshot: Option<String>,
    },
    /// create a snapshot
    Snapshot {
        name: String,
        /// snapshot tag
        #[arg(short = 's', long)]
        snapshot: Option<String>,
    },
    /// clone a snapshot
    Clone {
        src: String,
        dst: String,
        /// snapshot id or tag of the source
        #[arg(short = 's', long)]
        snapshot: Option<String>,
        /// preallocate (copy every object)
        #[arg(short = 'P', long)]
        prealloc: bool,
        /// number of copies
        #[arg(short = 'c', long)]
        copies: Option<String>,
    },
    /// resize an image
    Resize { name: String, size: String },
    /// read image data to stdout
    Read {
        name: String,
        offset: Option<String>,
        len: Option<String>,
        /// snapshot id or tag
        #[arg(short = 's', long)]
        snapshot: Option<String>,
    },
    /// write stdin to an image
    Write {
        name: String,
        offset: Option<String>,
        len: Option<String>,
    },
    /// set a VDI attribute (value from stdin when omitted)
    Setattr {
        name: String,
        key: String,
        value: Option<String>,
        /// delete the key
        #[arg(short = 'd', long)]
        delete: bool,
        /// fail if the key exists
        #[arg(short = 'x', long)]
        exclusive: bool,
        /// snapshot id or tag
        #[arg(short = 's', long)]
        snapshot: Option<String>,
    },
    /// print a VDI attribute
    Getattr {
        name: String,
        key: String,
        /// snapshot id or tag
        #[arg(short = 's', long)]
        snapshot: Option<String>,
    },
    /// check and repair the replicas of an image
    Check {
        name: String,
        /// snapshot id or tag
        #[arg(short = 's', long)]
        snapshot: Option<String>,
    },
    /// show images as a tree
    Tree,
}

/// A snapshot selector: a number is a snapshot id, anything else a tag.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snap {
    pub id: u32,
    pub tag: String,
}

fn snap(s: &Option<String>) -> Snap {
    match s {
        None => Snap::default(),
        Some(s) => match s.parse::<u32>() {
            Ok(id) => Snap {
                id,
                tag: String::new(),
            },
            Err(_) => Snap {
                id: 0,
                tag: s.clone(),
            },
        },
    }
}

/// Parses a size like `4096`, `64M`, `1G`, `1.5T` (binary units).
pub fn parse_size(s: &str) -> Result<u64, DogError> {
    let bad = || DogError::Usage(format!("Invalid size '{s}'"));
    let s2 = s.trim();
    let (num, mul) = match s2.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                'P' => 1 << 50,
                'B' => 1,
                _ => return Err(bad()),
            };
            (&s2[..i], m)
        }
        _ => (s2, 1),
    };
    if let Ok(n) = num.parse::<u64>() {
        return n.checked_mul(mul).ok_or_else(bad);
    }
    let f: f64 = num.parse().map_err(|_| bad())?;
    if f.is_nan() || f < 0.0 {
        return Err(bad());
    }
    Ok((f * mul as f64) as u64)
}

fn copies(s: &Option<String>) -> Result<(u8, u8), DogError> {
    let Some(s) = s else { return Ok((0, 0)) };
    let bad = || DogError::Usage(format!("Invalid redundancy level '{s}'"));
    if let Some((d, p)) = s.split_once(':') {
        let d: u8 = d.parse().map_err(|_| bad())?;
        let p: u8 = p.parse().map_err(|_| bad())?;
        if !matches!(d, 2 | 4 | 8 | 16) || p == 0 || p >= d {
            return Err(bad());
        }
        Ok((d + p, (d / 2) << 4 | p))
    } else {
        let c: u8 = s.parse().map_err(|_| bad())?;
        if c == 0 || c > 31 {
            return Err(bad());
        }
        Ok((c, 0))
    }
}

fn offset_len(o: &Option<String>, l: &Option<String>) -> Result<(u64, Option<u64>), DogError> {
    let off = o.as_deref().map(parse_size).transpose()?.unwrap_or(0);
    let len = l.as_deref().map(parse_size).transpose()?;
    Ok((off, len))
}

/// Runs one dog command line (`args[0]` is the program name).
///
/// # Errors
///
/// Usage errors, connection failures and error results from the sheep.
pub async fn run<I, T>(args: I, env: &mut Env) -> Result<(), DogError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            print!("{e}");
            return Ok(());
        }
        Err(e) => {
            let s = e.to_string();
            let first = s.lines().next().unwrap_or("bad arguments").to_string();
            return Err(DogError::Usage(format!(
                "{}  (try 'dog --help')",
                first.trim_start_matches("error: ")
            )));
        }
    };
    let c = &cli.common;
    let gw = (c.address.as_str(), c.port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| DogError::Usage(format!("Invalid address '{}'", c.address)))?;
    let inflight = c.inflight.max(1);
    let mut d = verbs::Dog {
        env,
        gw,
        json: c.json,
        raw: c.raw,
        inflight,
        zero_copy: !c.no_zero_copy,
    };
    match cli.cmd {
        Top::Cluster { c } => match c {
            ClusterCmd::Format {
                copies: cp,
                store,
                block_size_shift,
                fixed_vnodes,
                strict,
                yes,
            } => {
                let (nr, policy) = copies(&cp)?;
                let nr = if nr == 0 { 3 } else { nr };
                let mut flags = if fixed_vnodes {
                    ClusterFlags::EMPTY
                } else {
                    ClusterFlags::AUTO_VNODES
                };
                if strict {
                    flags |= ClusterFlags::STRICT;
                }
                d.cluster_format(
                    nr,
                    policy,
                    flags,
                    block_size_shift.unwrap_or(0),
                    &store,
                    yes,
                )
                .await
            }
            ClusterCmd::Info => d.cluster_info().await,
            ClusterCmd::Shutdown => d.cluster_shutdown().await,
        },
        Top::Node { c } => match c {
            NodeCmd::List => d.node_list().await,
            NodeCmd::Info => d.node_info().await,
            NodeCmd::Recovery => d.node_recovery().await,
        },
        Top::Vdi { c } => match c {
            VdiCmd::Create {
                name,
                size,
                prealloc,
                copies: cp,
                block_size_shift,
                hyper,
            } => {
                let size = parse_size(&size)?;
                let (nr, policy) = copies(&cp)?;
                d.vdi_create(
                    &name,
                    size,
                    nr,
                    policy,
                    u8::from(hyper),
                    block_size_shift.unwrap_or(0),
                    prealloc,
                )
                .await
            }
            VdiCmd::List { name } => d.vdi_list(name.as_deref()).await,
            VdiCmd::Delete { name, snapshot } => d.vdi_delete(&name, &snap(&snapshot)).await,
            VdiCmd::Snapshot { name, snapshot } => {
                let s = snap(&snapshot);
                if s.id != 0 {
                    return Err(DogError::Usage(
                        "Please specify a non-integer value for a snapshot tag name".into(),
                    ));
                }
                d.vdi_snapshot(&name, &s.tag).await
            }
            VdiCmd::Clone {
                src,
                dst,
                snapshot,
                prealloc,
                copies: cp,
            } => {
                let s = snap(&snapshot);
                if s.id == 0 && s.tag.is_empty() {
                    return Err(DogError::Usage(
                        "Only snapshot VDIs can be cloned; please specify a snapshot with -s"
                            .into(),
                    ));
                }
                let (nr, policy) = copies(&cp)?;
                d.vdi_clone(&src, &s, &dst, prealloc, nr, policy).await
            }
            VdiCmd::Resize { name, size } => d.vdi_resize(&name, parse_size(&size)?).await,
            VdiCmd::Read {
                name,
                offset,
                len,
                snapshot,
            } => {
                let (off, len) = offset_len(&offset, &len)?;
                d.vdi_read(&name, &snap(&snapshot), off, len).await
            }
            VdiCmd::Write { name, offset, len } => {
                let (off, len) = offset_len(&offset, &len)?;
                d.vdi_write(&name, off, len).await
            }
            VdiCmd::Setattr {
                name,
                key,
                value,
                delete,
                exclusive,
                snapshot,
            } => {
                d.vdi_setattr(&name, &snap(&snapshot), &key, value, delete, exclusive)
                    .await
            }
            VdiCmd::Getattr {
                name,
                key,
                snapshot,
            } => d.vdi_getattr(&name, &snap(&snapshot), &key).await,
            VdiCmd::Check { name, snapshot } => d.vdi_check(&name, &snap(&snapshot)).await,
            VdiCmd::Tree => d.vdi_tree().await,
        },
    }
}

/// The `dog` binary's main: runs the command line, prints an error as one
/// line on stderr and returns the exit status.
pub fn main() -> i32 {
    crate::alloc::keep_freed_buffers();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dog: cannot start the runtime: {e}");
            return 1;
        }
    };
    let mut env = Env::process();
    let r = rt.block_on(async {
        let r = run(std::env::args_os(), &mut env).await;
        use tokio::io::AsyncWriteExt;
        let _ = env.stdout.flush().await;
        r
    });
    match r {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            e.exit_code()
        }
    }
}
