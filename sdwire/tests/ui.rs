//! Compile-fail suite for `#[derive(Wire)]`: every user-facing error of the
//! derive has a case here whose `.stderr` snapshot shows the message, its
//! span, and that nothing else is reported (no cascades).
//!
//! The snapshots are pinned to the one stable toolchain of this machine,
//! rustc 1.95.0: other rustc versions word, order or render diagnostics
//! differently, so run this suite on 1.95 only (like darling and serde pin
//! theirs). Re-bless after an intended change with
//! `TRYBUILD=overwrite cargo test -p sdwire --test ui`, then read every
//! changed `.stderr`.
//!
//! Cases live in topic folders under `tests/ui/`; `tests/ui/pass/` holds
//! inputs that must compile (the fixes suggested by the messages).

/// Topic folders of compile-fail cases (`tests/ui/pass` is compiled apart).
const FAIL_DIRS: &[&str] = &[
    "byte_order",
    "size",
    "alignment",
    "versions",
    "opcodes",
    "attrs",
    "types",
    "multi",
    "protocol",
];

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    for dir in FAIL_DIRS {
        t.compile_fail(format!("tests/ui/{dir}/*.rs"));
    }
    t.pass("tests/ui/pass/*.rs");
}

/// Every `.rs` under `tests/ui/` is in a folder this harness runs, so no
/// case is silently skipped.
#[test]
fn every_case_is_run() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/ui");
    for entry in std::fs::read_dir(&root).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        assert!(
            path.is_dir() && (name == "pass" || FAIL_DIRS.contains(&name.as_str())),
            "tests/ui/{name} is not run by tests/ui.rs"
        );
    }
}
