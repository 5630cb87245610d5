//! `sheep-bench`: drives a sheep over the client protocol with N requests in
//! flight on one pipelined connection and prints a table: 4 MiB sequential
//! write (new objects) / overwrite / read in MB/s (MiB/s: 2^20 bytes), and
//! 4 KiB random write / read IOPS with p50/p99 latency, on a fresh VDI.
//! `scripts/bench-cluster.sh` runs it against a 3-node cluster.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use sheep_client::{req_for, rsp_arm, Client, ClientError, Target};
use sheep_proto::oid::{Oid, SD_INODE_DATA_VDI_ID_OFFSET};
use sheep_proto::{ClientOp, NoArgs, Request, RspArm, SdResult};

/// Benchmark a sheep over the client protocol (formats an unformatted
/// sheep with copies=1).
#[derive(Parser, Debug)]
#[command(name = "sheep-bench")]
struct Args {
    /// Daemon TCP address.
    #[arg(short = 'a', long, default_value = "127.0.0.1:7000")]
    addr: String,
    /// Use this unix socket instead of TCP.
    #[arg(short = 'u', long)]
    unix: Option<std::path::PathBuf>,
    /// Requests in flight.
    #[arg(short = 'd', long, default_value_t = 32)]
    depth: usize,
    /// VDI size in MiB.
    #[arg(short = 's', long, default_value_t = 256)]
    size_mib: u64,
    /// Seconds per random-I/O phase.
    #[arg(short = 't', long, default_value_t = 5)]
    secs: u64,
    /// Only the 4 MiB sequential phases (skip random I/O); prints
    /// `seq new|overwrite|read MB/s` lines for scripts.
    #[arg(long)]
    seq_only: bool,
}

const OBJ: u64 = 4 << 20;

fn pct(v: &mut [Duration], p: f64) -> Duration {
    if v.is_empty() {
        return Duration::ZERO;
    }
    v.sort_unstable();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

async fn seq(
    c: &Arc<Client>,
    vid: u32,
    nobj: u32,
    depth: usize,
    kind: u8,
) -> Result<f64, ClientError> {
    let next = Arc::new(AtomicU64::new(0));
    let data = Bytes::from(vec![0xA5u8; OBJ as usize]);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..depth.min(nobj as usize) {
        let (c, next, data) = (c.clone(), next.clone(), data.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed) as u32;
                if i >= nobj {
                    return Ok::<(), ClientError>(());
                }
                let oid = Oid::data(vid, i).0;
                match kind {
                    0 => {
                        c.create_and_write_obj(oid, None, 0, data.clone()).await?;
                        let off = SD_INODE_DATA_VDI_ID_OFFSET as u32 + 4 * i;
                        c.write_obj(Oid::inode(vid).0, off, vid.to_le_bytes().to_vec())
                            .await?;
                    }
                    1 => c.write_obj(oid, 0, data.clone()).await?,
                    _ => {
                        c.read_obj(oid, 0, OBJ as u32).await?;
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("task")?;
    }
    Ok(nobj as f64 * OBJ as f64 / (1 << 20) as f64 / t0.elapsed().as_secs_f64())
}

async fn random(
    c: &Arc<Client>,
    vid: u32,
    nobj: u32,
    depth: usize,
    secs: u64,
    write: bool,
) -> Result<(f64, Duration, Duration), ClientError> {
    let stop = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for w in 0..depth {
        let c = c.clone();
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15 ^ (w as u64 + 1);
            let data = Bytes::from(vec![w as u8; 4096]);
            while Instant::now() < stop {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let idx = (x % u64::from(nobj)) as u32;
                let off = ((x >> 32) % (OBJ / 4096)) as u32 * 4096;
                let oid = Oid::data(vid, idx).0;
                let t = Instant::now();
                if write {
                    c.write_obj(oid, off, data.clone()).await?;
                } else {
                    c.read_obj(oid, off, 4096).await?;
                }
                lat.push(t.elapsed());
            }
            Ok::<_, ClientError>(lat)
        }));
    }
    let t0 = Instant::now();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task")?);
    }
    let iops = all.len() as f64 / t0.elapsed().as_secs_f64();
    let p50 = pct(&mut all, 0.50);
    let p99 = pct(&mut all, 0.99);
    Ok((iops, p50, p99))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = Args::parse();
    let target = match &a.unix {
        Some(p) => Target::Unix(p.clone()),
        None => Target::Tcp(a.addr.parse()?),
    };
    let c = Arc::new(Client::connect(&target).await?);
    let op = Request::Client(ClientOp::GetClusterDefault(NoArgs::default()));
    let (r, _) = c.raw(req_for(op), Bytes::new()).await?;
    let copies = match rsp_arm(&r) {
        RspArm::ClusterDefault(d) => d.nr_copies,
        _ => 0,
    };
    // An unformatted sheep answers copies = 0.
    if r.result == SdResult::WaitForFormat || copies == 0 {
        c.make_fs(1, 22).await?;
    }
    let name = format!(
        "bench-{}-{}",
        std::process::id(),
        sheep_proto::time::now_secs()
    );
    let size = a.size_mib << 20;
    let vid = c.new_vdi(&name, size).await?;
    let nobj = (size / OBJ) as u32;
    println!(
        "sheep-bench: vdi {name} ({vid:#x}), {} MiB, {} in flight",
        a.size_mib, a.depth
    );
    let new = seq(&c, vid, nobj, a.depth, 0).await?;
    let over = seq(&c, vid, nobj, a.depth, 1).await?;
    let read = seq(&c, vid, nobj, a.depth, 2).await?;
    if a.seq_only {
        println!("seq new {new:.1}");
        println!("seq overwrite {over:.1}");
        println!("seq read {read:.1}");
        return Ok(());
    }
    let (wi, w50, w99) = random(&c, vid, nobj, a.depth, a.secs, true).await?;
    let (ri, r50, r99) = random(&c, vid, nobj, a.depth, a.secs, false).await?;
    println!("| test | result | p50 | p99 |");
    println!("|---|---:|---:|---:|");
    println!("| 4 MiB seq write (new objects) | {new:.1} MB/s | | |");
    println!("| 4 MiB seq overwrite | {over:.1} MB/s | | |");
    println!("| 4 MiB seq read | {read:.1} MB/s | | |");
    println!(
        "| 4 KiB random write | {wi:.0} IOPS | {:.2} ms | {:.2} ms |",
        ms(w50),
        ms(w99)
    );
    println!(
        "| 4 KiB random read | {ri:.0} IOPS | {:.2} ms | {:.2} ms |",
        ms(r50),
        ms(r99)
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
