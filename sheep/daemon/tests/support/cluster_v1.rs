//! Cluster protocol v1: the golden files of `tests/data/cluster-v1/` and
//! the fixed inputs they were recorded from (see its README).
//!
//! A case missing from a file is an error, unless `SHEEP_GOLDEN_RECORD=1`
//! is set: then it is appended from what this build produces. Existing
//! cases are never rewritten, so the files keep what 185809b wrote.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use sheep::cluster::driver::MemberId;
use sheep::cluster::join::{
    append_member_ranges, ClusterWindow, JoinMessage, JoinReply, VersionRange, Versions,
};
use sheep::cluster::state::Format;
use sheep::proto::{ClusterFlags, SdNode};

// ---------------------------------------------------------------- golden files

pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/cluster-v1")
}

pub fn recording() -> bool {
    std::env::var_os("SHEEP_GOLDEN_RECORD").is_some_and(|v| v == "1")
}

/// The cases of one golden file: `name hex` lines, `#` comments.
pub fn cases(file: &str) -> BTreeMap<String, Vec<u8>> {
    let text = std::fs::read_to_string(golden_dir().join(file)).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (name, hex) = l.split_once(' ').unwrap_or((l, ""));
            let bytes = hex::decode(hex.trim()).unwrap_or_else(|e| panic!("{file}: {name}: {e}"));
            (name.to_string(), bytes)
        })
        .collect()
}

/// The golden bytes of `case` in `file`. When recording, a missing case is
/// appended from `produced` (what this build writes).
pub fn golden(file: &str, case: &str, produced: &[u8]) -> Vec<u8> {
    if let Some(b) = cases(file).remove(case) {
        return b;
    }
    assert!(
        recording(),
        "golden case {case} missing from {file} (SHEEP_GOLDEN_RECORD=1 records it)"
    );
    assert!(
        !produced.is_empty(),
        "{case} of {file} is recorded by another test"
    );
    std::fs::create_dir_all(golden_dir()).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(golden_dir().join(file))
        .unwrap();
    writeln!(f, "{case} {}", hex::encode(produced)).unwrap();
    produced.to_vec()
}

/// Asserts that `produced` is the golden `case` of `file`, with a readable
/// diff on failure.
pub fn assert_golden(file: &str, case: &str, produced: &[u8]) -> Vec<u8> {
    let want = golden(file, case, produced);
    assert_eq!(
        hex::encode(produced),
        hex::encode(&want),
        "{file}: {case} differs from the bytes 185809b wrote"
    );
    want
}

// ---------------------------------------------------------------- fixed inputs

pub const CTIME: u64 = 0x6571_2a3b_1c2d_3e4f;
pub const INC_A: u64 = 0x1c5e_83a7_9d02_4f61;
pub const INC_B: u64 = 0x8d31_f0c4_52e7_a90b;

pub fn node(port: u16, zone: u32) -> SdNode {
    SdNode {
        zone,
        ..SdNode::new(format!("127.0.0.1:{port}").parse().unwrap(), 128, 512 << 30)
    }
}

pub fn id(n: &SdNode, inc: u64) -> MemberId {
    MemberId::of(n, inc)
}

/// What 185809b speaks: client [0x00, 0x02], peer [0x0a, 0x0b], admin
/// [0x0a, 0x0a].
pub fn v1_versions() -> Versions {
    Versions {
        client: VersionRange::new(0x00, 0x02),
        peer: VersionRange::new(0x0a, 0x0b),
        admin: VersionRange::new(0x0a, 0x0a),
    }
}

pub fn capped_versions() -> Versions {
    Versions {
        peer: VersionRange::new(0x0a, 0x0a),
        ..v1_versions()
    }
}

pub fn join_message(ctime: u64) -> JoinMessage {
    JoinMessage {
        ctime,
        versions: v1_versions(),
    }
}

pub fn window() -> ClusterWindow {
    ClusterWindow {
        ctime: CTIME,
        versions: capped_versions(),
    }
}

pub fn format() -> Format {
    Format {
        ctime: CTIME,
        flags: ClusterFlags::AUTO_VNODES.bits(),
        copies: 2,
        copy_policy: 0,
        block_size_shift: 22,
        store: "plain".into(),
    }
}

pub fn accept_reply_with_members() -> Vec<u8> {
    let mut b = JoinReply::Accepted(window()).encode();
    append_member_ranges(
        &mut b,
        &vec![
            (node(7000, 1).nid.key(), v1_versions()),
            (node(7001, 2).nid.key(), capped_versions()),
        ],
    );
    b
}

/// Splits a local driver log into frames, checking each one's length and
/// CRC by the v1 layout (`len u32 LE | crc32c u32 LE | record`).
pub fn frames(log: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = log;
    while !rest.is_empty() {
        assert!(rest.len() >= 8, "torn frame header");
        let len = u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(rest[4..8].try_into().unwrap());
        let body = &rest[8..8 + len];
        assert_eq!(crc32c::crc32c(body), crc, "frame CRC");
        out.push(rest[..8 + len].to_vec());
        rest = &rest[8 + len..];
    }
    out
}

/// The records of the local driver scenario, in log order.
pub const LOG_KINDS: [&str; 6] = [
    "join_req_a",
    "join_req_b",
    "join_rsp_b",
    "notify_a",
    "leave_b",
    "leave_a",
];
