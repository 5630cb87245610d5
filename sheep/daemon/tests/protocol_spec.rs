//! `docs/protocol.md` is generated from the layout tables by
//! `sheep_proto::spec::render_markdown()`. This test fails when the committed
//! file is stale; `SHEEP_BLESS=1` rewrites it.

use std::path::PathBuf;

fn spec_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("docs")
        .join("protocol.md")
}

#[test]
fn protocol_md_is_up_to_date() {
    let want = sheep_proto::spec::render_markdown();
    let path = spec_path();
    if std::env::var_os("SHEEP_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &want).unwrap();
        eprintln!("blessed {}", path.display());
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        let line = have
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .map_or_else(
                || {
                    format!(
                        "length differs ({} vs {} lines)",
                        have.lines().count(),
                        want.lines().count()
                    )
                },
                |i| format!("first difference at line {}", i + 1),
            );
        panic!(
            "{} is stale ({line}); regenerate with `SHEEP_BLESS=1 cargo test -p sheep --test protocol_spec`",
            path.display()
        );
    }
}

#[test]
fn spec_mentions_every_opcode_and_structure() {
    let md = sheep_proto::spec::render_markdown();
    for p in sheep_proto::Protocol::ALL {
        for op in p.ops() {
            assert!(
                md.contains(&format!("| {:#04x} |", op.opcode)),
                "opcode {:#04x} missing",
                op.opcode
            );
        }
    }
    for (_, group) in sheep_proto::spec::layouts() {
        for l in group {
            assert!(
                md.contains(&format!("### `{}`", l.name)),
                "{} missing",
                l.name
            );
        }
    }
}
