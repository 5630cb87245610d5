//! Breaking-change check of every wire layout against the committed snapshot
//! `sheep/tests/data/layout.snapshot` (rendered by
//! `sheep_proto::spec::render_snapshot()`).
//!
//! The check fails, naming the type and field (or opcode), when a field is
//! moved, resized, retyped, removed or has its default changed, or an opcode
//! is removed or reused, without a version bump of that type. Additions at a
//! new version (fields with `since` above the old version, after a bump) and
//! new opcodes or types pass. `SHEEP_BLESS=1` re-blesses the snapshot.

use sheep_proto::spec::{check_compat, render_snapshot};
use std::path::PathBuf;

fn snapshot_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("data")
        .join("layout.snapshot")
}

#[test]
fn layouts_are_compatible_with_the_snapshot() {
    let current = render_snapshot();
    let path = snapshot_path();
    if std::env::var_os("SHEEP_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &current).unwrap();
        eprintln!("blessed {}", path.display());
        return;
    }
    let committed = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}; create it with SHEEP_BLESS=1", path.display()));
    let errs = check_compat(&committed, &current).expect("snapshots parse");
    assert!(
        errs.is_empty(),
        "incompatible wire layout changes (bump the type's version, or re-bless deliberately with SHEEP_BLESS=1):\n  {}",
        errs.join("\n  ")
    );
    if committed != current {
        eprintln!("note: compatible layout changes since the snapshot; re-bless with SHEEP_BLESS=1 to record them");
    }
}

// ---- the comparison logic itself, on synthetic snapshots -------------------

const BASE: &str = "\
struct Hdr size=8 align=4
  field op off=0 size=1 order=- ty=u8
  field flags off=1 size=1 order=- ty=u8
  field len off=2 size=2 order=le ty=u16
  field id off=4 size=4 order=le ty=u32

struct Node size=24 align=2 versions=0xa..=0xa
  field addr off=0 size=16 order=- ty=[u8;16]
  field port off=16 size=2 order=le ty=u16
  field _pad off=18 size=6 order=- ty=[u8;6] reserved

enum Ops size=var align=1 tag=1
  op 0x01 Read(ObjReq)
  op 0x02 Write(ObjReq)
";

fn errs(new: &str) -> Vec<String> {
    check_compat(BASE, new).unwrap()
}

#[test]
fn identical_is_ok() {
    assert!(errs(BASE).is_empty());
}

#[test]
fn moved_field_is_named() {
    let new = BASE
        .replace("field id off=4 size=4", "field id off=8 size=4")
        .replace("Hdr size=8", "Hdr size=12");
    let e = errs(&new);
    assert!(
        e.iter().any(|m| m.contains("Hdr.id moved from 4 to 8")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.contains("Hdr: size changed from 8 to 12")),
        "{e:?}"
    );
}

#[test]
fn resized_removed_and_default_changed_fields_are_named() {
    let new = BASE.replace(
        "field len off=2 size=2 order=le ty=u16",
        "field len off=2 size=4 order=le ty=u32",
    );
    assert!(
        errs(&new)
            .iter()
            .any(|m| m.starts_with("Hdr.len resized from 2 to 4")),
        "{:?}",
        errs(&new)
    );
    let new = BASE.replace("  field flags off=1 size=1 order=- ty=u8\n", "");
    assert!(
        errs(&new)
            .iter()
            .any(|m| m.starts_with("Hdr.flags removed")),
        "{:?}",
        errs(&new)
    );
    let with_default = BASE.replace("ty=[u8;6] reserved", "ty=[u8;6] reserved default=[0;6]");
    let changed = BASE.replace("ty=[u8;6] reserved", "ty=[u8;6] reserved default=[1;6]");
    let e = check_compat(&with_default, &changed).unwrap();
    assert!(
        e.iter()
            .any(|m| m.starts_with("Node._pad default changed from [0;6] to [1;6]")),
        "{e:?}"
    );
}

#[test]
fn added_since_field_with_version_bump_is_ok() {
    let new = BASE.replace(
        "struct Node size=24 align=2 versions=0xa..=0xa\n  field addr off=0 size=16 order=- ty=[u8;16]\n  field port off=16 size=2 order=le ty=u16\n",
        "struct Node size=26 align=2 versions=0xa..=0xb\n  field addr off=0 size=16 order=- ty=[u8;16]\n  field port off=16 size=2 order=le ty=u16\n  field io_port off=18 size=2 order=le ty=u16 since=0xb default=Default::default()\n",
    ).replace("field _pad off=18", "field _pad off=20");
    assert_eq!(errs(&new), Vec::<String>::new());
}

#[test]
fn added_field_without_bump_is_an_error() {
    let new = BASE.replace(
        "  field _pad off=18 size=6 order=- ty=[u8;6] reserved\n",
        "  field io_port off=18 size=2 order=le ty=u16\n  field _pad off=20 size=4 order=- ty=[u8;4] reserved\n",
    );
    let e = errs(&new);
    assert!(
        e.iter()
            .any(|m| m.starts_with("Node.io_port added without a version bump")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("Node._pad resized from 6 to 4")),
        "{e:?}"
    );
}

#[test]
fn removed_or_reused_opcode_is_an_error_and_new_opcode_is_ok() {
    let e = errs(&BASE.replace("  op 0x02 Write(ObjReq)\n", ""));
    assert!(
        e.iter().any(|m| m.contains("opcode 0x02 (Write) removed")),
        "{e:?}"
    );
    let e = errs(&BASE.replace("op 0x02 Write(ObjReq)", "op 0x02 Trim(ObjReq)"));
    assert!(
        e.iter()
            .any(|m| m.contains("opcode 0x02 reused: was Write, now Trim")),
        "{e:?}"
    );
    let e = errs(&BASE.replace("op 0x02 Write(ObjReq)", "op 0x02 Write(VdiReq)"));
    assert!(
        e.iter()
            .any(|m| m.contains("opcode 0x02 (Write) payload changed from ObjReq to VdiReq")),
        "{e:?}"
    );
    assert!(errs(&format!("{BASE}  op 0x03 Remove(ObjReq)\n")).is_empty());
}

#[test]
fn removed_type_and_raised_compat_are_errors() {
    let e = errs(&BASE.replace(
        "enum Ops size=var align=1 tag=1\n  op 0x01 Read(ObjReq)\n  op 0x02 Write(ObjReq)\n",
        "",
    ));
    assert!(e.iter().any(|m| m == "Ops: type removed"), "{e:?}");
    let e = errs(&BASE.replace("versions=0xa..=0xa", "versions=0xb..=0xb"));
    assert!(
        e.iter().any(|m| m.starts_with("Node: compat raised")),
        "{e:?}"
    );
}

/// Peer protocol 0x0b's pattern: a `since` field carved out of reserved
/// bytes (the reserved field gains `until`, the new field takes its
/// place) in a type that becomes versioned. Accepted with the bump; the
/// same carve without one is named.
#[test]
fn since_field_in_reserved_bytes_is_ok_with_a_bump() {
    let old = "\
struct Arm size=32 align=8
  field oid off=0 size=8 order=le ty=u64
  field offset off=24 size=4 order=le ty=u32
  field _pad off=28 size=4 order=le ty=u32 reserved
";
    let bumped = "\
struct Arm size=32 align=8 versions=0x0..=0xb
  field oid off=0 size=8 order=le ty=u64
  field offset off=24 size=4 order=le ty=u32
  field _pad off=var size=4 order=le ty=u32 until=0xb reserved default=Default::default()
  field crc off=28 size=4 order=le ty=u32 since=0xb default=Default::default()
";
    assert_eq!(check_compat(old, bumped).unwrap(), Vec::<String>::new());
    // Already versioned at 0xa: the bump to 0xb is what makes it fine.
    let old_v = old.replace("align=8\n", "align=8 versions=0x0..=0xa\n");
    assert_eq!(check_compat(&old_v, bumped).unwrap(), Vec::<String>::new());
    let not_bumped = bumped.replace("versions=0x0..=0xb", "versions=0x0..=0xa");
    let e = check_compat(&old_v, &not_bumped).unwrap();
    assert!(
        e.iter()
            .any(|m| m.starts_with("Arm.crc added without a version bump")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("Arm._pad moved from 28 to var")),
        "{e:?}"
    );
}
