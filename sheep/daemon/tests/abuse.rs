//! The daemon under abuse, on 127.0.0.1 with OS-assigned ports: thousands
//! of connections dropped mid-frame, a header promising 4 GiB (and one
//! promising the maximum) that then stalls, slow-loris byte-at-a-time
//! requests, and valid and invalid requests interleaved on one connection.
//!
//! Throughout, a well-behaved client keeps reading a sentinel object; its
//! latencies are printed (p50/p99, run with `--nocapture` to see them) and
//! only bounded by a generous 5 s. Memory growth (VmRSS of this process,
//! which hosts the daemon) is bounded generously, the sentinel's bytes must
//! be unchanged at the end, and the daemon's log must name what it refused.

mod support;

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sheep_client::Client;
use sheep_proto::frame::MAX_PAYLOAD;
use sheep_proto::{ReqFlags, ReqHeader, RspHeader, SdResult};
use support::Daemon;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const SENTINEL_OID: u64 = 0x00ab_0000_0000_0001;
const SENTINEL: &[u8] = b"abuse sentinel: these bytes must survive every test";
const PROBE_LIMIT: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------
// Log capture: one subscriber for the test binary, writing into a buffer.

#[derive(Clone)]
struct LogBuf(Arc<Mutex<Vec<u8>>>);

impl Write for LogBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let mut v = self.0.lock().unwrap_or_else(|e| e.into_inner());
        // Keep the buffer bounded (drop the oldest half).
        if v.len() > 64 << 20 {
            let half = v.len() / 2;
            v.drain(..half);
        }
        v.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn log() -> &'static LogBuf {
    static LOG: OnceLock<LogBuf> = OnceLock::new();
    LOG.get_or_init(|| {
        let buf = LogBuf(Arc::default());
        let w = buf.clone();
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("sheep=debug"))
            .with_ansi(false)
            .with_writer(move || w.clone())
            .try_init();
        buf
    })
}

/// Log lines written since `mark` that contain `needle`.
fn log_count(mark: usize, needle: &str) -> usize {
    let v = log().0.lock().unwrap_or_else(|e| e.into_inner());
    let s = String::from_utf8_lossy(&v[mark.min(v.len())..]).into_owned();
    s.lines().filter(|l| l.contains(needle)).count()
}

fn log_mark() -> usize {
    log().0.lock().unwrap_or_else(|e| e.into_inner()).len()
}

/// The tests measure process-wide memory and latency: run them one at a time.
/// Runs the abuse tests one at a time (they measure memory and latency).
/// An async mutex: the guard is held across awaits.
async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static M: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    M.lock().await
}

fn vm_rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// A formatted daemon with a sentinel object, and a latency probe.

struct Fixture {
    d: Daemon,
    good: Client,
    _dir: tempfile::TempDir,
}

async fn fixture() -> Fixture {
    log();
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), 0).await;
    let good = d.client().await;
    good.make_fs(1, 22).await.unwrap();
    good.create_and_write_obj(SENTINEL_OID, None, 0, SENTINEL)
        .await
        .unwrap();
    Fixture { d, good, _dir: dir }
}

impl Fixture {
    async fn check_sentinel(&self) -> Duration {
        let t = Instant::now();
        let b = tokio::time::timeout(
            PROBE_LIMIT,
            self.good.read_obj(SENTINEL_OID, 0, SENTINEL.len() as u32),
        )
        .await
        .expect("well-behaved client answered within 5 s")
        .expect("READ_OBJ of the sentinel succeeds");
        assert_eq!(&b[..], SENTINEL, "stored data changed");
        t.elapsed()
    }
}

/// Runs a well-behaved client (its own connection) reading the sentinel
/// every few milliseconds until `stop`; returns its latencies.
fn spawn_probe(
    addr: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Vec<Duration>> {
    tokio::spawn(async move {
        let c = Client::connect(&sheep_client::Target::Tcp(addr))
            .await
            .unwrap();
        let mut lat = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            let t = Instant::now();
            let b = tokio::time::timeout(
                PROBE_LIMIT,
                c.read_obj(SENTINEL_OID, 0, SENTINEL.len() as u32),
            )
            .await
            .expect("probe answered within 5 s during abuse")
            .expect("probe READ_OBJ succeeds during abuse");
            assert_eq!(&b[..], SENTINEL);
            lat.push(t.elapsed());
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        lat
    })
}

fn report(name: &str, mut lat: Vec<Duration>) {
    assert!(!lat.is_empty(), "{name}: no probe completed");
    lat.sort();
    let p = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name}: probe latency n={} p50={:?} p99={:?} max={:?}",
        lat.len(),
        p(0.5),
        p(0.99),
        lat[lat.len() - 1]
    );
}

fn header(opcode: u8, flags: ReqFlags, data_length: u32, id: u32) -> ReqHeader {
    let mut h = ReqHeader::new(opcode, flags, data_length);
    h.id = id;
    h
}

/// A READ_OBJ of the sentinel as raw bytes.
fn read_sentinel_req(id: u32) -> Vec<u8> {
    let mut h = header(0x02, ReqFlags::EMPTY, SENTINEL.len() as u32, id);
    h.body[..8].copy_from_slice(&SENTINEL_OID.to_le_bytes());
    h.to_bytes().to_vec()
}

/// Reads one response frame.
async fn read_rsp(s: &mut TcpStream) -> std::io::Result<(RspHeader, Vec<u8>)> {
    let mut h = [0u8; 48];
    s.read_exact(&mut h).await?;
    let h = RspHeader::from_bytes(&h);
    let mut p = vec![0u8; h.data_length as usize];
    s.read_exact(&mut p).await?;
    Ok((h, p))
}

/// Waits for the server to close `s` (EOF or reset), discarding data.
async fn expect_closed(s: &mut TcpStream, what: &str) {
    let mut buf = [0u8; 4096];
    let r = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(r.is_ok(), "{what}: connection not closed within 5 s");
}

// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousands_of_connections_dropped_mid_frame() {
    let _g = serial().await;
    let f = fixture().await;
    let mark = log_mark();
    let rss0 = vm_rss_kib();
    let stop = Arc::new(AtomicBool::new(false));
    let probe = spawn_probe(f.d.addr, stop.clone());
    let t0 = Instant::now();
    // A write request with a 64 KiB payload: cut it anywhere.
    let mut frame = header(0x03, ReqFlags::WRITE, 65536, 1).to_bytes().to_vec();
    frame[16..24].copy_from_slice(&0x00ab_0000_0000_0002u64.to_le_bytes());
    frame.extend(std::iter::repeat_n(0x5a, 65536));
    let frame = Arc::new(frame);
    const TOTAL: usize = 3000;
    const CONCURRENT: usize = 100;
    let mut done = 0;
    let mut x = 0x9e37_79b9u32;
    while done < TOTAL {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..CONCURRENT {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            // Cut inside the header (1..47) or inside the payload.
            let cut = if x.is_multiple_of(2) {
                1 + (x as usize >> 4) % 47
            } else {
                48 + (x as usize >> 4) % 65536
            };
            let addr = f.d.addr;
            let frame = frame.clone();
            set.spawn(async move {
                let mut s = TcpStream::connect(addr).await.unwrap();
                let _ = s.write_all(&frame[..cut]).await;
                // Dropped: EOF mid-frame (or a reset).
            });
        }
        while let Some(r) = set.join_next().await {
            r.unwrap();
        }
        done += CONCURRENT;
    }
    let elapsed = t0.elapsed();
    // The daemon notices every close; give it a moment to log them.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    let lat = probe.await.unwrap();
    report("dropped mid-frame", lat);
    f.check_sentinel().await;
    let rss1 = vm_rss_kib();
    let refused = log_count(mark, "bad frame, closing connection");
    println!(
        "dropped mid-frame: {TOTAL} connections in {elapsed:?}; VmRSS {rss0} KiB -> {rss1} KiB; {refused} logged as bad frames"
    );
    assert!(
        rss1.saturating_sub(rss0) < 512 * 1024,
        "memory grew by {} KiB",
        rss1 - rss0
    );
    assert!(
        refused >= TOTAL / 2,
        "the log names only {refused} of {TOTAL} truncated frames"
    );
    f.d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_promising_4gib_then_stall() {
    let _g = serial().await;
    let f = fixture().await;
    let mark = log_mark();
    let rss0 = vm_rss_kib();
    let stop = Arc::new(AtomicBool::new(false));
    let probe = spawn_probe(f.d.addr, stop.clone());

    // 1. WRITE with data_length = 4 GiB - 1: refused before any allocation, connection closed.
    let mut s = TcpStream::connect(f.d.addr).await.unwrap();
    s.write_all(&header(0x03, ReqFlags::WRITE, u32::MAX, 7).to_bytes())
        .await
        .unwrap();
    s.write_all(b"a few bytes and then nothing").await.unwrap();
    expect_closed(&mut s, "4 GiB WRITE").await;

    // 2. A read asking for a 4 GiB reply buffer: refused, closed.
    let mut s = TcpStream::connect(f.d.addr).await.unwrap();
    s.write_all(&header(0x02, ReqFlags::EMPTY, u32::MAX, 8).to_bytes())
        .await
        .unwrap();
    expect_closed(&mut s, "4 GiB read").await;

    // 3. Headers promising the largest accepted payload (32 MiB), then a
    //    stall: 64 of them stay open; the sheep must keep serving and not
    //    commit 64 x 32 MiB.
    let mut stalled = Vec::new();
    for i in 0..64u32 {
        let mut s = TcpStream::connect(f.d.addr).await.unwrap();
        let mut h = header(0x03, ReqFlags::WRITE, MAX_PAYLOAD as u32, 100 + i);
        h.body[..8].copy_from_slice(&(0x00ab_0000_0001_0000u64 + u64::from(i)).to_le_bytes());
        s.write_all(&h.to_bytes()).await.unwrap();
        s.write_all(&[1u8; 4096]).await.unwrap();
        stalled.push(s);
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rss_stalled = vm_rss_kib();
    f.check_sentinel().await;
    drop(stalled);
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    report("4 GiB header + stall", probe.await.unwrap());
    f.check_sentinel().await;
    let rss1 = vm_rss_kib();
    println!(
        "4 GiB header + stall: VmRSS {rss0} KiB -> {rss_stalled} KiB with 64 stalled 32 MiB frames -> {rss1} KiB after"
    );
    assert!(
        rss_stalled.saturating_sub(rss0) < 1024 * 1024,
        "64 stalled connections grew memory by {} KiB",
        rss_stalled - rss0
    );
    let too_large = log_count(mark, "exceeds the maximum");
    let above = log_count(mark, "above the");
    println!("4 GiB header + stall: log: {too_large} 'exceeds the maximum', {above} 'data_length above the limit'");
    assert!(too_large >= 1, "the refused 4 GiB WRITE is not in the log");
    assert!(above >= 1, "the refused 4 GiB read is not in the log");
    f.d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_loris_byte_at_a_time() {
    let _g = serial().await;
    let f = fixture().await;
    let stop = Arc::new(AtomicBool::new(false));
    let probe = spawn_probe(f.d.addr, stop.clone());
    let t0 = Instant::now();
    // 40 connections, each sending two READ_OBJ requests one byte every
    // 5 ms (~0.5 s per request), plus 200 connections that send a few header
    // bytes and then sit idle for the whole test.
    let mut idle = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(f.d.addr).await.unwrap();
        s.write_all(&read_sentinel_req(1)[..20]).await.unwrap();
        idle.push(s);
    }
    let mut set = tokio::task::JoinSet::new();
    for c in 0..40u32 {
        let addr = f.d.addr;
        set.spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            let mut bytes = read_sentinel_req(2 * c + 1);
            bytes.extend(read_sentinel_req(2 * c + 2));
            for b in bytes {
                s.write_all(&[b]).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let mut ids = Vec::new();
            for _ in 0..2 {
                let (h, p) = tokio::time::timeout(Duration::from_secs(5), read_rsp(&mut s))
                    .await
                    .expect("slow request answered")
                    .unwrap();
                assert_eq!(h.result, SdResult::Success);
                assert_eq!(&p[..], SENTINEL);
                ids.push(h.id);
            }
            ids.sort_unstable();
            assert_eq!(ids, vec![2 * c + 1, 2 * c + 2]);
        });
    }
    while let Some(r) = set.join_next().await {
        r.unwrap();
    }
    let elapsed = t0.elapsed();
    stop.store(true, Ordering::Relaxed);
    report("slow loris", probe.await.unwrap());
    println!(
        "slow loris: 40 byte-at-a-time connections answered, 200 idle half-headers, in {elapsed:?}"
    );
    f.check_sentinel().await;
    drop(idle);
    f.d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_stalled_past_the_frame_timeout_are_closed() {
    let _g = serial().await;
    log();
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start_with(dir.path(), 0, |c| {
        c.frame_timeout = Duration::from_secs(1);
    })
    .await;
    let good = d.client().await;
    good.make_fs(1, 22).await.unwrap();
    good.create_and_write_obj(SENTINEL_OID, None, 0, SENTINEL)
        .await
        .unwrap();
    let mark = log_mark();
    let fds0 = open_fds();
    // 100 half headers and 20 headers promising 32 MiB with 4 KiB sent.
    let mut stalled = Vec::new();
    for _ in 0..100 {
        let mut s = TcpStream::connect(d.addr).await.unwrap();
        s.write_all(&read_sentinel_req(1)[..20]).await.unwrap();
        stalled.push(s);
    }
    for i in 0..20u32 {
        let mut s = TcpStream::connect(d.addr).await.unwrap();
        let h = header(0x03, ReqFlags::WRITE, MAX_PAYLOAD as u32, 100 + i);
        s.write_all(&h.to_bytes()).await.unwrap();
        s.write_all(&[1u8; 4096]).await.unwrap();
        stalled.push(s);
    }
    // Connections that stay idle between frames are kept: one that never
    // sent anything and one that finished a request.
    let mut idle = TcpStream::connect(d.addr).await.unwrap();
    let mut used = TcpStream::connect(d.addr).await.unwrap();
    used.write_all(&read_sentinel_req(2)).await.unwrap();
    let (h, _) = read_rsp(&mut used).await.unwrap();
    assert_eq!(h.result, SdResult::Success);
    // A byte-at-a-time request that completes within the limit is served.
    let slow = tokio::spawn({
        let addr = d.addr;
        async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            for b in read_sentinel_req(3) {
                s.write_all(&[b]).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            read_rsp(&mut s).await.unwrap()
        }
    });
    for (i, s) in stalled.iter_mut().enumerate() {
        expect_closed(s, &format!("stalled connection {i}")).await;
    }
    let (h, p) = slow.await.unwrap();
    assert_eq!((h.result, &p[..]), (SdResult::Success, SENTINEL));
    for (s, id) in [(&mut idle, 4), (&mut used, 5)] {
        s.write_all(&read_sentinel_req(id)).await.unwrap();
        let (h, p) = read_rsp(s).await.unwrap();
        assert_eq!((h.result, h.id, &p[..]), (SdResult::Success, id, SENTINEL));
    }
    drop(stalled);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fds1 = open_fds();
    let closed = log_count(mark, "incomplete for");
    println!("frame timeout: {closed} stalled connections closed; open fds {fds0} -> {fds1}");
    assert_eq!(closed, 120, "every stalled connection is closed and logged");
    assert!(fds1 <= fds0 + 8, "fds leaked: {fds0} -> {fds1}");
    d.stop().await;
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interleaved_valid_and_invalid_on_one_connection() {
    let _g = serial().await;
    let f = fixture().await;
    let mark = log_mark();
    let stop = Arc::new(AtomicBool::new(false));
    let probe = spawn_probe(f.d.addr, stop.clone());
    let mut s = TcpStream::connect(f.d.addr).await.unwrap();
    let mut expected = std::collections::HashMap::new();
    let mut id = 0u32;
    for round in 0..50u32 {
        let mut batch = Vec::new();
        let mut push = |b: Vec<u8>, want: SdResult, id: &mut u32| {
            *id += 1;
            let mut b = b;
            b[8..12].copy_from_slice(&id.to_le_bytes());
            expected.insert(*id, want);
            batch.extend(b);
        };
        // Valid read.
        push(read_sentinel_req(0), SdResult::Success, &mut id);
        // Unknown opcode.
        push(
            header(0x7e, ReqFlags::EMPTY, 0, 0).to_bytes().to_vec(),
            SdResult::InvalidParms,
            &mut id,
        );
        // Client op with a future proto_ver.
        let mut h = read_sentinel_req(0);
        h[0] = 3;
        push(h, SdResult::VerMismatch, &mut id);
        // Internal op with a client proto_ver.
        push(
            {
                let mut h = header(0x82, ReqFlags::EMPTY, 0, 0);
                h.proto_ver = 2;
                h.to_bytes().to_vec()
            },
            SdResult::VerMismatch,
            &mut id,
        );
        // NEW_VDI with a 3-byte name payload (must be 256).
        push(
            {
                let mut b = header(0x11, ReqFlags::WRITE, 3, 0).to_bytes().to_vec();
                b.extend_from_slice(b"bad");
                b
            },
            SdResult::InvalidParms,
            &mut id,
        );
        // An opcode defined without a handler.
        push(
            header(0x91, ReqFlags::EMPTY, 0, 0).to_bytes().to_vec(),
            SdResult::InvalidParms,
            &mut id,
        );
        // WRITE_OBJ past the end of a 4 MiB object onto the sentinel: refused, data unchanged.
        push(
            {
                let mut h = header(0x03, ReqFlags::WRITE, 8, 0);
                h.body[..8].copy_from_slice(&SENTINEL_OID.to_le_bytes());
                h.body[24..28].copy_from_slice(&(u32::MAX - 3).to_le_bytes());
                let mut b = h.to_bytes().to_vec();
                b.extend_from_slice(b"OVERFLOW");
                b
            },
            SdResult::InvalidParms,
            &mut id,
        );
        // Valid read again.
        push(read_sentinel_req(0), SdResult::Success, &mut id);
        let _ = round;
        s.write_all(&batch).await.unwrap();
    }
    let mut got = 0;
    let mut mismatched = Vec::new();
    while got < expected.len() {
        let (h, p) = tokio::time::timeout(Duration::from_secs(5), read_rsp(&mut s))
            .await
            .expect("interleaved requests answered")
            .expect("connection stays open across invalid requests");
        let want = expected[&h.id];
        if h.result != want {
            mismatched.push((h.id, h.opcode, h.result, want));
        }
        if h.result == SdResult::Success && h.opcode == 0x02 {
            assert_eq!(&p[..], SENTINEL);
        }
        got += 1;
    }
    // Finally a framing-level error: a WRITE above the limit closes the connection.
    s.write_all(&header(0x03, ReqFlags::WRITE, (MAX_PAYLOAD + 1) as u32, 9999).to_bytes())
        .await
        .unwrap();
    expect_closed(&mut s, "oversized frame after interleaved requests").await;
    // Let the probe collect a few samples after the abuse too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    report("interleaved", probe.await.unwrap());
    f.check_sentinel().await;
    let refused = log_count(mark, "request refused");
    let closed = log_count(mark, "exceeds the maximum");
    println!("interleaved: {got} answers; log: {refused} 'request refused', {closed} oversized-frame closes");
    assert!(
        mismatched.is_empty(),
        "unexpected results (id, opcode, got, want): {mismatched:?}"
    );
    // 50 unknown opcodes + 100 version mismatches.
    assert!(
        refused >= 150,
        "refused requests are not all reported in the log"
    );
    assert!(closed >= 1);
    f.d.stop().await;
}
