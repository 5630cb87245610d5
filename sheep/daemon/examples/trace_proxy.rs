//! A recording TCP proxy: writes what passes between sheepdog clients and
//! sheep as an `sdtrace v1` file (format: `tests/data/traces/README.md`).
//!
//! The golden traces of the C sheepdog were captured with dumpcap on the
//! loopback interface; this proxy records the same exchanges without
//! capture privileges. Each `LISTEN=UPSTREAM` pair forwards one sheep port;
//! the trace names the sheep by the LISTEN port. To record peer traffic as
//! well, let each sheep listen on another loopback address and advertise
//! the proxied one (C sheep: `-b 127.0.0.2 -y 127.0.0.1 -p 7000`, proxy
//! `127.0.0.1:7000=127.0.0.2:7000`); for dog-only recordings of one sheep
//! the sheep may simply listen on another port.
//!
//! ```text
//! cargo run --release -p sheep --example trace_proxy -- \
//!     --out cluster-format-1node.trace --scenario cluster-format-1node \
//!     --command 'dog cluster format -p 7000' 127.0.0.1:7000=127.0.0.2:7000
//! ```
//!
//! It stops and writes the file on SIGINT or SIGTERM. The sender of each
//! connection is found like the original captures did it, from the owner
//! of the client socket (`ss -tnpH`): a process named `dog` is `dog`, a
//! process named `sheep` is `sheep:<its -p port>`, anything else `unknown`.
//!
//! Framing (as the README states): a request is the 48-byte header plus
//! `data_length` bytes only with the WRITE flag; a response is the header
//! plus `data_length` bytes always. Responses pair with requests in
//! per-connection order.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use clap::Parser;
use sha2::{Digest, Sha256};
use sheep_proto::header::{ReqFlags, ReqHeader, RspHeader};
use sheep_proto::ops::op_name;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Payload bytes kept in the file; longer payloads keep this prefix.
const KEEP: usize = 65_536;

#[derive(Parser)]
#[command(about = "Record sheepdog exchanges as an sdtrace v1 file")]
struct Args {
    /// The trace file to write.
    #[arg(long)]
    out: std::path::PathBuf,
    /// `# scenario:` (the file name without .trace).
    #[arg(long)]
    scenario: String,
    /// `# command:` lines (repeatable).
    #[arg(long)]
    command: Vec<String>,
    /// `# note:` lines (repeatable).
    #[arg(long)]
    note: Vec<String>,
    /// LISTEN=UPSTREAM socket address pairs, one per sheep.
    #[arg(required = true)]
    pairs: Vec<String>,
}

/// One message (request or response) as it passed.
struct Frame {
    t: f64,
    hdr: [u8; 48],
    payload: Vec<u8>,
}

struct Exchange {
    conn: String,
    from: String,
    to_port: u16,
    req: Frame,
    rsp: Option<Frame>,
}

#[derive(Default)]
struct Log {
    exchanges: Vec<Exchange>,
}

/// Who owns the client end `peer` of a connection to `local`.
fn sender(peer: SocketAddr, local: SocketAddr) -> String {
    let filter = format!("( sport = :{} and dport = :{} )", peer.port(), local.port());
    let out = std::process::Command::new("ss")
        .args(["-tnpH", "state", "established", &filter])
        .output();
    let Ok(out) = out else {
        return "unknown".into();
    };
    let text = String::from_utf8_lossy(&out.stdout);
    // users:(("dog",pid=123,fd=3))
    let Some(users) = text.split("users:((\"").nth(1) else {
        return "unknown".into();
    };
    let name = users.split('"').next().unwrap_or("");
    let pid = users
        .split("pid=")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or("");
    match name {
        "dog" => "dog".into(),
        "sheep" => {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            let port = args
                .windows(2)
                .find(|w| w[0] == b"-p" || w[0] == b"--port")
                .map(|w| String::from_utf8_lossy(w[1]).into_owned());
            match port {
                Some(p) => format!("sheep:{p}"),
                None => "unknown".into(),
            }
        }
        _ => "unknown".into(),
    }
}

/// Copies `from` to `to` and cuts what passes into frames; `request` picks
/// the framing rule. Each frame goes to `sink` as soon as it is complete.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    request: bool,
    t0: Instant,
    mut sink: impl FnMut(Frame),
) {
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = match from.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if to.write_all(&chunk[..n]).await.is_err() {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        while buf.len() >= 48 {
            let hdr: [u8; 48] = buf[..48].try_into().expect("48 bytes");
            let body = if request {
                match sdwire::from_slice::<ReqHeader>(&hdr, 0) {
                    Ok(h) if h.flags.contains(ReqFlags::WRITE) => h.data_length as usize,
                    Ok(_) => 0,
                    Err(_) => 0,
                }
            } else {
                sdwire::from_slice::<RspHeader>(&hdr, 0).map_or(0, |h| h.data_length as usize)
            };
            if buf.len() < 48 + body {
                break;
            }
            let payload = buf[48..48 + body].to_vec();
            buf.drain(..48 + body);
            sink(Frame {
                t: t0.elapsed().as_secs_f64(),
                hdr,
                payload,
            });
        }
    }
    let _ = to.shutdown().await;
}

async fn proxy(client: TcpStream, upstream: SocketAddr, to_port: u16, log: Arc<Mutex<Log>>) {
    let (Ok(peer), Ok(local)) = (client.peer_addr(), client.local_addr()) else {
        return;
    };
    let from = sender(peer, local);
    let Ok(server) = TcpStream::connect(upstream).await else {
        eprintln!("trace_proxy: cannot reach {upstream}");
        return;
    };
    let conn = format!("{peer} > {local}");
    let t0 = *START.get().expect("start time");
    let pending: Arc<Mutex<VecDeque<usize>>> = Arc::default();
    let (cr, cw) = client.into_split();
    let (sr, sw) = server.into_split();
    let (l1, p1) = (log.clone(), pending.clone());
    let requests = pump(cr, sw, true, t0, move |req| {
        let mut l = l1.lock().expect("log lock");
        l.exchanges.push(Exchange {
            conn: conn.clone(),
            from: from.clone(),
            to_port,
            req,
            rsp: None,
        });
        let i = l.exchanges.len() - 1;
        p1.lock().expect("pending lock").push_back(i);
    });
    let responses = pump(sr, cw, false, t0, move |rsp| {
        let Some(i) = pending.lock().expect("pending lock").pop_front() else {
            eprintln!("trace_proxy: a response without a request");
            return;
        };
        log.lock().expect("log lock").exchanges[i].rsp = Some(rsp);
    });
    tokio::join!(requests, responses);
}

static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn payload_lines(out: &mut String, side: &str, p: &[u8]) {
    let _ = writeln!(out, "{side}.payload.len {}", p.len());
    if p.is_empty() {
        return;
    }
    let _ = writeln!(
        out,
        "{side}.payload.sha256 {}",
        hex::encode(Sha256::digest(p))
    );
    if p.len() > KEEP {
        let _ = writeln!(
            out,
            "{side}.payload.truncated yes (first {KEEP} bytes kept)"
        );
    } else {
        let _ = writeln!(out, "{side}.payload.truncated no");
    }
    for line in p[..p.len().min(KEEP)].chunks(64) {
        let _ = writeln!(out, "{side}.payload.hex {}", hex::encode(line));
    }
}

fn decoded_req(h: &[u8; 48]) -> String {
    match sdwire::from_slice::<ReqHeader>(h, 0) {
        Ok(r) => format!(
            "proto_ver={:#04x} opcode={:#04x} flags={:#06x} epoch={} id={} data_length={}",
            r.proto_ver,
            r.opcode,
            r.flags.bits(),
            r.epoch,
            r.id,
            r.data_length
        ),
        Err(e) => format!("undecodable: {e}"),
    }
}

fn decoded_rsp(h: &[u8; 48]) -> String {
    match sdwire::from_slice::<RspHeader>(h, 0) {
        Ok(r) => format!(
            "proto_ver={:#04x} opcode={:#04x} epoch={} id={} data_length={} result={}",
            r.proto_ver,
            r.opcode,
            r.epoch,
            r.id,
            r.data_length,
            r.result.name()
        ),
        Err(e) => format!("undecodable: {e}"),
    }
}

fn render(args: &Args, ports: &[u16], mut ex: Vec<Exchange>) -> String {
    ex.sort_by(|a, b| a.req.t.total_cmp(&b.req.t));
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for x in &ex {
        let name = op_name(x.req.hdr[1]).unwrap_or("UNKNOWN");
        *counts
            .entry(format!("{name}({}->{})", x.from, x.to_port))
            .or_default() += 1;
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# sdtrace v1 -- sheepdog wire trace (see README.md in this folder)"
    );
    let _ = writeln!(out, "# scenario: {}", args.scenario);
    for c in &args.command {
        let _ = writeln!(out, "# command: {c}");
    }
    for n in &args.note {
        let _ = writeln!(out, "# note: {n}");
    }
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    let _ = writeln!(
        out,
        "# sheep ports: {} ; all header integers are little-endian",
        list.join(",")
    );
    let _ = writeln!(out, "# filter: all");
    let _ = writeln!(out, "# exchanges: {}", ex.len());
    let counts: Vec<String> = counts.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(
        out,
        "# opcode counts (op(from->to port)): {}",
        counts.join(", ")
    );
    for (i, x) in ex.iter().enumerate() {
        if x.rsp.is_none() {
            let _ = writeln!(out, "# problem: exchange {} has no response", i + 1);
        }
    }
    for (i, x) in ex.iter().enumerate() {
        let n = i + 1;
        let op = x.req.hdr[1];
        let _ = writeln!(out, "\nBEGIN EXCHANGE {n}");
        let _ = writeln!(out, "conn {}", x.conn);
        let _ = writeln!(out, "from {}", x.from);
        let _ = writeln!(out, "to sheep:{}", x.to_port);
        let _ = writeln!(out, "op {op:#04x} {}", op_name(op).unwrap_or("UNKNOWN"));
        let _ = writeln!(out, "t_req {:.6}", x.req.t);
        let _ = writeln!(out, "req.hdr {}", hex::encode(x.req.hdr));
        let _ = writeln!(out, "req.decoded {}", decoded_req(&x.req.hdr));
        payload_lines(&mut out, "req", &x.req.payload);
        match &x.rsp {
            Some(r) => {
                let _ = writeln!(out, "t_rsp {:.6}", r.t);
                let _ = writeln!(out, "rsp.hdr {}", hex::encode(r.hdr));
                let _ = writeln!(out, "rsp.decoded {}", decoded_rsp(&r.hdr));
                payload_lines(&mut out, "rsp", &r.payload);
            }
            None => {
                let _ = writeln!(out, "rsp.missing yes");
            }
        }
        let _ = writeln!(out, "END EXCHANGE {n}");
    }
    out
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    START.get_or_init(Instant::now);
    let log: Arc<Mutex<Log>> = Arc::default();
    let mut ports = Vec::new();
    for pair in &args.pairs {
        let (listen, upstream) = pair
            .split_once('=')
            .ok_or_else(|| std::io::Error::other(format!("expected LISTEN=UPSTREAM: {pair}")))?;
        let listen: SocketAddr = listen.parse().map_err(std::io::Error::other)?;
        let upstream: SocketAddr = upstream.parse().map_err(std::io::Error::other)?;
        let l = TcpListener::bind(listen).await?;
        ports.push(listen.port());
        let log = log.clone();
        tokio::spawn(async move {
            while let Ok((c, _)) = l.accept().await {
                tokio::spawn(proxy(c, upstream, listen.port(), log.clone()));
            }
        });
    }
    eprintln!("trace_proxy: recording {}", args.pairs.join(" "));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    let ex = std::mem::take(&mut log.lock().expect("log lock").exchanges);
    let text = render(&args, &ports, ex);
    std::fs::write(&args.out, text)?;
    eprintln!("trace_proxy: wrote {}", args.out.display());
    Ok(())
}
