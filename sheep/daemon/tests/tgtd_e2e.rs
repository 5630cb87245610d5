//! End to end with real third-party clients: tgtd's sheepdog backing store
//! in front of our sheep (over the unix socket), driven over iSCSI by
//! libiscsi's `iscsi-test-cu` and a tiny libiscsi initiator compiled from
//! `tests/support/iscsi-rw.c`. Two variants share the checks: one
//! in-process sheep, and node 0 of a cluster of three sheep processes
//! (copies=2) with every node checked as a gateway. A third test shares
//! one VDI between tgtd and the sheep's NBD server (`--nbd`, read and
//! written with qemu-io from qemu-utils).
//!
//! Needs the Debian packages `tgt`, `libiscsi-bin`, `libiscsi-dev` and `gcc`
//! (installed by `.ci/run`); the test fails, not skips, without them. It
//! must run as root (tgtd's control socket lives in /var/run/tgtd).

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sheep_client::Client;
use sheep_proto::oid::Oid;
use support::procs::{cluster_info, holds, spawn_local_cluster, wait_members, SheepProc};
use support::Daemon;

const TGTD: &str = "/usr/sbin/tgtd";
const TGTADM: &str = "/usr/sbin/tgtadm";
const TEST_CU: &str = "/usr/bin/iscsi-test-cu";

/// A tgtd we started; stopped through tgtadm, SIGKILLed by PID otherwise.
struct Tgtd {
    child: Child,
    ctl: u32,
}

impl Tgtd {
    fn start(ctl: u32, portal: u16, log_path: &Path) -> Tgtd {
        let log = std::fs::File::create(log_path).unwrap();
        let child = Command::new(TGTD)
            .args([
                "-f",
                "-C",
                &ctl.to_string(),
                "--iscsi",
                &format!("portal=127.0.0.1:{portal}"),
            ])
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("tgtd must be installed (apt-get install tgt)");
        let t = Tgtd { child, ctl };
        // Generous: tgtd starts 16 worker threads and may be slow on a loaded 2-core machine.
        let deadline = Instant::now() + Duration::from_secs(30);
        while t.adm_status(&["--mode", "system", "--op", "show"]) != Some(0) {
            assert!(
                Instant::now() < deadline,
                "tgtd (control port {ctl}, portal 127.0.0.1:{portal}) did not come up; its log:\n{}",
                std::fs::read_to_string(log_path).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        t
    }

    fn adm_status(&self, args: &[&str]) -> Option<i32> {
        Command::new(TGTADM)
            .arg("-C")
            .arg(self.ctl.to_string())
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .ok()
            .and_then(|s| s.code())
    }

    fn adm(&self, args: &[&str]) {
        let out = Command::new(TGTADM)
            .arg("-C")
            .arg(self.ctl.to_string())
            .args(args)
            .output()
            .expect("tgtadm");
        assert!(
            out.status.success(),
            "tgtadm {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn stop(&mut self) {
        let _ = self.adm_status(&[
            "--lld", "iscsi", "--mode", "target", "--op", "delete", "--force", "--tid", "1",
        ]);
        let _ = self.adm_status(&["--mode", "system", "--op", "delete"]);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                self.remove_socket();
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Last resort, by PID: only the tgtd this test started.
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.remove_socket();
    }

    /// tgtd leaves its control socket behind; remove ours.
    fn remove_socket(&self) {
        let base = format!("/var/run/tgtd/socket.{}", self.ctl);
        let _ = std::fs::remove_file(&base);
        let _ = std::fs::remove_file(format!("{base}.lock"));
    }
}

impl Drop for Tgtd {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.stop();
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn build_helper(dir: &Path) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/iscsi-rw.c");
    let out = dir.join("iscsi-rw");
    let st = Command::new("gcc")
        .args(["-O2", "-Wall", "-o"])
        .arg(&out)
        .arg(&src)
        .arg("-liscsi")
        .status()
        .expect("gcc must be installed");
    assert!(
        st.success(),
        "building iscsi-rw needs libiscsi-dev (apt-get install libiscsi-dev)"
    );
    out
}

fn pattern(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

struct Rw {
    bin: PathBuf,
    url: String,
    dir: PathBuf,
}

impl Rw {
    fn write(&self, lba: u64, data: &[u8]) {
        let f = self.dir.join(format!("w-{lba}"));
        std::fs::write(&f, data).unwrap();
        let out = Command::new(&self.bin)
            .args([&self.url, "write", &lba.to_string()])
            .arg(&f)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "iscsi write: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn read(&self, lba: u64, len: usize) -> Vec<u8> {
        let f = self.dir.join(format!("r-{lba}"));
        let out = Command::new(&self.bin)
            .args([&self.url, "read", &lba.to_string(), &len.to_string()])
            .arg(&f)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "iscsi read: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::fs::read(&f).unwrap()
    }

    fn sync(&self) {
        let out = Command::new(&self.bin)
            .args([&self.url, "sync"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "iscsi sync: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn run_suite(url: &str, suite: &str, log: &Path) {
    let out = Command::new(TEST_CU)
        .args(["-d", "-n", "--test", suite, url])
        .output()
        .expect("iscsi-test-cu must be installed (apt-get install libiscsi-bin)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(log.join(format!("{suite}.log")), &text).unwrap();
    // CUnit summary line: "tests  N  N  passed  failed  inactive".
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("tests"))
        .unwrap_or_else(|| panic!("{suite}: no CUnit summary:\n{text}"));
    let nums: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert!(nums.len() >= 4, "{suite}: odd summary {line:?}");
    let (ran, failed) = (nums[1], nums[3]);
    eprintln!("{suite}: {}", line.trim());
    assert!(ran > 0, "{suite}: nothing ran:\n{text}");
    assert_eq!(failed, 0, "{suite}: failures:\n{text}");
}

/// One tgtd variant: its own control port and target name, so that the
/// variants can run in parallel (one test binary = one pid).
struct Variant {
    /// 0, 1 or 2: picks the control port.
    slot: u32,
    /// Target name.
    iqn: &'static str,
}

const SINGLE: Variant = Variant {
    slot: 0,
    iqn: "iqn.2024-01.sheep.test:e2e",
};
const CLUSTER: Variant = Variant {
    slot: 1,
    iqn: "iqn.2024-01.sheep.test:e2e-cluster",
};
const NBD: Variant = Variant {
    slot: 2,
    iqn: "iqn.2024-01.sheep.test:e2e-nbd",
};

fn tools_present() {
    for b in [TGTD, TGTADM, TEST_CU] {
        assert!(
            Path::new(b).exists(),
            "{b} missing: apt-get install tgt libiscsi-bin"
        );
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// Starts tgtd with target 1, LUN 1 = sheepdog VDI `vdi` over the sheep
/// unix socket `sock`, open to every initiator; returns it and the LUN's URL.
fn tgtd_for(v: &Variant, sock: &Path, vdi: &str, work: &Path) -> (Tgtd, String) {
    // tgtd refuses control ports above 32767 ("-C argument value out of
    // range"): 10000 + 3 * (pid % 6000) + slot <= 28001.
    let ctl = 10_000 + 3 * (std::process::id() % 6_000) + v.slot;
    let portal = free_port();
    let tgtd = Tgtd::start(ctl, portal, &work.join("tgtd.log"));
    tgtd.adm(&[
        "--lld",
        "iscsi",
        "--mode",
        "target",
        "--op",
        "new",
        "--tid",
        "1",
        "--targetname",
        v.iqn,
    ]);
    let backing = format!("unix:{}:{vdi}", sock.display());
    tgtd.adm(&[
        "--lld",
        "iscsi",
        "--mode",
        "logicalunit",
        "--op",
        "new",
        "--tid",
        "1",
        "--lun",
        "1",
        "--bstype",
        "sheepdog",
        "--backing-store",
        &backing,
    ]);
    tgtd.adm(&[
        "--lld",
        "iscsi",
        "--mode",
        "target",
        "--op",
        "bind",
        "--tid",
        "1",
        "--initiator-address",
        "ALL",
    ]);
    (tgtd, format!("iscsi://127.0.0.1:{portal}/{}/1", v.iqn))
}

/// The end-to-end checks on VDI `vid` named `name`, served by `tgtd` at
/// `url`: `gws[0]` is a client of the sheep tgtd talks to, the others of
/// the other gateways of its cluster (if any). Everything written through
/// iSCSI must read back identical through every gateway.
#[allow(clippy::too_many_arguments)]
fn e2e_checks(
    rt: &tokio::runtime::Runtime,
    gws: &[Client],
    mut tgtd: Tgtd,
    url: &str,
    name: &str,
    vid: u32,
    helper: PathBuf,
    work: &Path,
) {
    let c = &gws[0];
    // Known data at several offsets, through iSCSI.
    let rw = Rw {
        bin: helper,
        url: url.to_string(),
        dir: work.to_path_buf(),
    };
    let obj = 4u64 << 20;
    let cases: Vec<(u64, Vec<u8>)> = vec![
        (4096, pattern(8192, 1)),                  // inside object 0
        (obj - (64 << 10), pattern(192 << 10, 2)), // across the 4 MiB boundary
        (40 << 20, pattern(1 << 20, 3)),           // into a hole
        (obj * 7 + (obj - 512), pattern(1024, 4)), // last 512 B of obj 7 + first of 8
    ];
    for (off, data) in &cases {
        rw.write(off / 512, data);
    }
    rw.sync();
    for (off, data) in &cases {
        assert_eq!(
            &rw.read(off / 512, data.len()),
            data,
            "iSCSI read back at {off}"
        );
        for (g, gw) in gws.iter().enumerate() {
            let via_sheep = rt.block_on(gw.vdi_read(vid, *off, data.len())).unwrap();
            assert_eq!(&via_sheep, data, "sheep read back at {off} via gateway {g}");
        }
    }
    // Unwritten space reads as zeros, both ways.
    assert_eq!(rw.read((20 << 20) / 512, 4096), vec![0u8; 4096]);
    for gw in gws {
        let z = rt.block_on(gw.vdi_read(vid, 20 << 20, 4096)).unwrap();
        assert_eq!(z, vec![0u8; 4096]);
    }
    // READ_OBJ straight on a data object, through every gateway.
    for gw in gws {
        let o0 = rt
            .block_on(gw.read_obj(Oid::data(vid, 0).0, 4096, 8192))
            .unwrap();
        assert_eq!(&o0[..], &cases[0].1[..]);
    }
    // Data written through a gateway into an allocated object shows through
    // iSCSI (tgtd caches the inode, so only allocated objects: the same
    // with sheepdog's own sheep).
    let last = gws.last().unwrap();
    let other = pattern(6144, 5);
    let at = (40 << 20) + 8192;
    rt.block_on(last.vdi_write(vid, at, &other)).unwrap();
    assert!(
        rw.read(at / 512, other.len()) == other,
        "a gateway's write does not show through iSCSI"
    );

    // Conformance suites from libiscsi.
    for suite in [
        "ALL.TestUnitReady",
        "ALL.Inquiry",
        "ALL.ReadCapacity10",
        "ALL.ReadCapacity16",
        "ALL.Read10",
        "ALL.Read16",
        "ALL.Write10",
        "ALL.Write16",
    ] {
        run_suite(url, suite, work);
    }

    // Snapshot (through the last gateway) while the LUN is open, then
    // write through iSCSI: tgtd gets READONLY, reloads, and COWs into the
    // new working VDI.
    let before = rw.read(4096 / 512, 8192);
    let (snap, working) = rt.block_on(last.snapshot(name, "snap1")).unwrap();
    assert_eq!(snap, vid);
    let newdata = pattern(4096, 9);
    rw.write(8192 / 512, &newdata);
    rw.sync();
    let mut expect = before.clone();
    expect[4096..].copy_from_slice(&newdata);
    assert_eq!(rw.read(4096 / 512, 8192), expect);
    for (g, gw) in gws.iter().enumerate() {
        assert_eq!(
            rt.block_on(gw.vdi_read(working, 4096, 8192)).unwrap(),
            expect,
            "working VDI via gateway {g}"
        );
        assert_eq!(
            rt.block_on(gw.vdi_read(snap, 4096, 8192)).unwrap(),
            before,
            "snapshot via gateway {g}"
        );
        assert_eq!(rt.block_on(gw.index_entry(working, 0)).unwrap(), working);
    }

    // LUN delete sends RELEASE_VDI: afterwards a normal lock is free (locks
    // are tracked per node, like sheepdog's: ask tgtd's node).
    tgtd.adm(&[
        "--lld",
        "iscsi",
        "--mode",
        "logicalunit",
        "--op",
        "delete",
        "--tid",
        "1",
        "--lun",
        "1",
    ]);
    let locked = rt.block_on(c.lock_vdi(name, 0));
    assert_eq!(
        locked.unwrap(),
        working,
        "tgtd's RELEASE_VDI was not honoured"
    );
    rt.block_on(c.release_vdi(working)).unwrap();
    tgtd.stop();
}

/// tgtd over the unix socket of one in-process sheep (copies=1).
#[test]
fn tgtd_over_sheep() {
    tools_present();
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let helper = build_helper(&work);

    let rt = runtime();
    let d = rt.block_on(Daemon::start(&store, 0));
    let c: Client = rt.block_on(d.unix_client());
    rt.block_on(c.make_fs(1, 22)).unwrap();
    let vid = rt.block_on(c.new_vdi("tgtvol", 64 << 20)).unwrap();
    let (tgtd, url) = tgtd_for(&SINGLE, &store.join("sock"), "tgtvol", &work);
    e2e_checks(
        &rt,
        std::slice::from_ref(&c),
        tgtd,
        &url,
        "tgtvol",
        vid,
        helper,
        &work,
    );
    drop(c);
    rt.block_on(d.stop());
}

/// tgtd over the unix socket of node 0 of a cluster of three real sheep
/// processes (local driver, copies=2); every node is checked as a gateway.
#[test]
fn tgtd_over_three_node_cluster() {
    tools_present();
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let helper = build_helper(&work);

    let rt = runtime();
    let nodes = spawn_local_cluster(tmp.path(), 3, &["-n"]);
    let gws: Vec<Client> = nodes.iter().map(|n| rt.block_on(n.client())).collect();
    // A deadline for a condition, generous for a loaded 2-core machine.
    rt.block_on(wait_members(&gws, 3, Duration::from_secs(60)));
    rt.block_on(gws[1].make_fs(2, 22)).unwrap();
    let vid = rt.block_on(gws[2].new_vdi("clustervol", 64 << 20)).unwrap();
    let (tgtd, url) = tgtd_for(&CLUSTER, &nodes[0].store.join("sock"), "clustervol", &work);
    e2e_checks(&rt, &gws, tgtd, &url, "clustervol", vid, helper, &work);
    // Every data object tgtd wrote has two replicas.
    let epoch = rt.block_on(cluster_info(&gws[0])).header.epoch;
    for idx in [0u32, 1, 7, 8, 10] {
        let oid = Oid::data(vid, idx).0;
        let n = gws
            .iter()
            .filter(|g| rt.block_on(holds(g, epoch, oid)))
            .count();
        assert_eq!(n, 2, "object {idx} of the snapshot has {n} replicas");
    }
    drop(gws);
    drop(nodes);
}

/// qemu-io against an NBD URL; every pattern it checks must match.
fn qemu_io(url: &str, cmds: &[&str]) {
    let mut c = Command::new("qemu-io");
    c.args(["-f", "raw", url]);
    for cmd in cmds {
        c.args(["-c", cmd]);
    }
    let out = c
        .output()
        .expect("qemu-io must be installed (apt-get install qemu-utils)");
    let t = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "qemu-io {cmds:?}: {t}");
    assert!(
        !t.contains("Pattern verification failed"),
        "qemu-io {cmds:?}: {t}"
    );
}

/// tgtd and the sheep's NBD server on one VDI (sheep port 7426, NBD 7427):
/// what tgtd writes reads back through NBD, and the other way round,
/// including objects one side creates and the other then overwrites.
#[test]
fn tgtd_and_nbd_share_a_vdi() {
    tools_present();
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path().join("work");
    std::fs::create_dir_all(&work).unwrap();
    let helper = build_helper(&work);
    let rt = runtime();
    let spec = format!("local:{}", tmp.path().join("cluster").display());
    let node = SheepProc::spawn_on(
        7426,
        &tmp.path().join("s"),
        &spec,
        &["--nbd", "127.0.0.1:7427"],
    );
    let c = rt.block_on(node.client());
    rt.block_on(c.make_fs(1, 22)).unwrap();
    rt.block_on(c.new_vdi("shared", 16 << 20)).unwrap();
    let (mut tgtd, url) = tgtd_for(&NBD, &node.store.join("sock"), "shared", &work);
    let rw = Rw {
        bin: helper.clone(),
        url,
        dir: work.clone(),
    };
    let nbd = "nbd://127.0.0.1:7427/shared";
    // tgtd creates objects 0 and 1 (a write across their boundary);
    // NBD reads them back, then overwrites part of object 1.
    let a = vec![0x3cu8; 2 << 20];
    rw.write((3 << 20) / 512, &a);
    rw.sync();
    qemu_io(
        nbd,
        &[
            "read -P 0 0 3M",
            "read -P 0x3c 3M 2M",
            "write -P 0x5d 4M 512K",
            "write -P 0x6e 12M 1M",
            "flush",
        ],
    );
    // tgtd reads what NBD wrote, in an object NBD created (3) and in
    // one tgtd created (1). tgtd reads a VDI's index when it opens it (an
    // object created by another client meanwhile stays a hole to it, as
    // with dog), so it opens the VDI again.
    tgtd.stop();
    drop(tgtd);
    let (mut tgtd, url) = tgtd_for(&NBD, &node.store.join("sock"), "shared", &work);
    let rw = Rw {
        bin: helper,
        url,
        dir: work.clone(),
    };
    assert!(rw
        .read((4 << 20) / 512, 512 << 10)
        .iter()
        .all(|&b| b == 0x5d));
    assert!(rw
        .read((12 << 20) / 512, 1 << 20)
        .iter()
        .all(|&b| b == 0x6e));
    assert!(rw.read((3 << 20) / 512, 1 << 20).iter().all(|&b| b == 0x3c));
    // tgtd overwrites inside NBD's object; NBD sees it.
    rw.write((12 << 20) / 512 + 8, &[0x7fu8; 4096]);
    rw.sync();
    qemu_io(
        nbd,
        &[
            "read -P 0x6e 12M 4096",
            "read -P 0x7f 12587008 4096",
            "read -P 0x6e 12591104 1040384",
        ],
    );
    tgtd.stop();
    drop(c);
    drop(node);
}
