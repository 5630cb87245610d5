//! Markdown tables of a protocol's types, opcodes and flags.
//!
//! The pieces a wire spec is made of: [`type_section`] for one structure
//! (offsets, sizes, byte order, versions, doc of every field),
//! [`op_table`] for an opcode table with its request and response arms,
//! [`flags_table`] and [`values_table`]. [`types`] renders a list of types
//! under one heading. Prose around them stays with the protocol.

use super::{version_note, Protocol};
use crate::{Layout, LayoutKind};
use std::fmt::Write as _;

fn opt(n: Option<usize>) -> String {
    n.map_or_else(|| "var".to_string(), |n| n.to_string())
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The markdown anchor of a type's section (`ObjReq` -> `objreq`).
pub fn anchor(l: &Layout) -> String {
    l.name.to_lowercase()
}

/// A `### `Name`` section: the type's doc, size, alignment, byte order,
/// versions, and a table of its fields.
pub fn type_section(out: &mut String, l: &Layout) {
    let _ = writeln!(out, "### `{}`\n", l.name);
    if !l.doc.is_empty() {
        let _ = writeln!(out, "{}\n", l.doc);
    }
    let kind = match l.kind {
        LayoutKind::Struct => "struct",
        LayoutKind::Enum => "opcode table",
        LayoutKind::Primitive => "primitive",
        LayoutKind::Other => "type",
    };
    let _ = write!(
        out,
        "{kind}, size {} bytes, alignment {}",
        opt(l.size),
        l.align
    );
    if l.order != crate::Order::None {
        let _ = write!(out, ", byte order {}", l.order.as_str());
    }
    if let Some((c, v)) = l.versions {
        let _ = write!(out, ", versions {c:#x}..={v:#x}");
    }
    if l.kind == LayoutKind::Enum {
        let _ = write!(out, ", tag {} byte(s)", l.tag_size);
    }
    out.push_str("\n\n");
    if !l.fields.is_empty() {
        out.push_str("| off | size | field | type | order | versions | description |\n|---:|---:|---|---|---|---|---|\n");
        for f in l.fields {
            let mut notes = Vec::new();
            if !f.doc.is_empty() {
                notes.push(cell(f.doc));
            }
            if f.reserved {
                notes.push("reserved: written as zero, ignored when read".to_string());
            }
            if let Some(d) = f.default {
                notes.push(format!("default `{}`", cell(&d.replace(' ', ""))));
            }
            if let Some(m) = f.measures {
                notes.push(format!("length of `{m}`"));
            }
            let _ = writeln!(
                out,
                "| {} | {} | {} | `{}` | {} | {} | {} |",
                opt(f.offset),
                opt(f.size),
                f.name,
                cell(&f.ty.replace(' ', "")),
                f.order.as_str(),
                version_note(f.since, f.until),
                notes.join("; ")
            );
        }
        out.push('\n');
    }
    if !l.flags.is_empty() {
        flags_table(out, l);
        out.push('\n');
    }
}

/// Sections for every type of `layouts` under a `## heading`.
pub fn types(out: &mut String, heading: &str, layouts: &[&Layout]) {
    let _ = writeln!(out, "\n## {heading}\n");
    for l in layouts {
        type_section(out, l);
    }
}

/// A link to a type's section, or `-`.
fn link(l: Option<&Layout>) -> String {
    match l {
        Some(l) => format!("[`{}`](#{})", l.name, anchor(l)),
        None => "-".to_string(),
    }
}

/// The opcode table of a protocol: opcode, variant, request and response
/// arms, versions and description, plus one column per `extra`
/// (`(title, value of an opcode)`).
pub fn op_table(out: &mut String, p: &Protocol, extra: &[(&str, &dyn Fn(u64) -> String)]) {
    out.push_str("| opcode | variant | request arm | response arm |");
    for (t, _) in extra {
        let _ = write!(out, " {t} |");
    }
    out.push_str(" versions | description |\n|---:|---|---|---|");
    for _ in extra {
        out.push_str("---|");
    }
    out.push_str("---|---|\n");
    let width = 2 * p.ops.tag_size.max(1) + 2;
    for op in p.ops.ops {
        let _ = write!(
            out,
            "| {:#0width$x} | `{}` | {} | {} |",
            op.opcode,
            op.name,
            link(op.layout),
            link((p.response_arm)(op.opcode)),
        );
        for (_, f) in extra {
            let _ = write!(out, " {} |", cell(&f(op.opcode)));
        }
        let _ = writeln!(
            out,
            " {} | {} |",
            version_note(op.since, op.until),
            cell(op.doc)
        );
    }
}

/// The named bits of a flags type.
pub fn flags_table(out: &mut String, l: &Layout) {
    let width = 2 * l.size.unwrap_or(1) + 2;
    out.push_str("| bit | name | description |\n|---:|---|---|\n");
    for f in l.flags {
        let _ = writeln!(
            out,
            "| {:#0width$x} | {} | {} |",
            f.bits,
            cell(&f.name.replace('|', " / ")),
            cell(f.doc)
        );
    }
}

/// The values of a field-less enum (a list of codes): code, name, doc.
pub fn values_table(out: &mut String, l: &Layout) {
    let width = 2 * l.tag_size.max(1) + 2;
    out.push_str("| code | name | meaning |\n|---:|---|---|\n");
    for op in l.ops {
        let _ = writeln!(
            out,
            "| {:#0width$x} | {} | {} |",
            op.opcode,
            super::upper_snake_case(op.name),
            cell(op.doc)
        );
    }
}
