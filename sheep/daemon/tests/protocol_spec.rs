//! The wire spec `docs/wire/protocol.md` (`sheep_proto::spec::render_markdown()`)
//! names every opcode and structure. That the committed file is up to date
//! is checked with the other generated views by `wire_views.rs`.

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
