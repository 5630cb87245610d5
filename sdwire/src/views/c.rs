//! C11 headers with sparse endianness annotations.
//!
//! One header per protocol plus a common one ([`render`]). Every multi-byte
//! number is a `__le16`/`__le32`/`__le64` (or `__be*`) field: under sparse
//! (`__CHECKER__`) these are `bitwise` types, so using one as a host integer
//! without `le32_to_cpu()` and friends is a warning, as in the Linux kernel.
//! Every struct carries `_Static_assert`s on its size and on every field's
//! offset, so a C compiler checks the layout the Rust derive computed.

use super::{as_number, prefixed, snake_case, upper_snake_case, version_note, Family};
use crate::{FieldLayout, Layout, LayoutKind, Order};
use std::fmt::Write as _;

/// One generated header file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// File name (`sheepdog_common.h`).
    pub file: String,
    /// Its text.
    pub text: String,
}

/// The endian types and conversion helpers, shared by every family (guarded,
/// so headers of several families can be included together).
const ENDIAN_PRELUDE: &str = r#"#ifndef SDWIRE_ENDIAN_TYPES
#define SDWIRE_ENDIAN_TYPES
/*
 * Byte-order types, Linux-kernel style: under sparse (__CHECKER__) each is a
 * distinct "bitwise" type, so `sparse -Wbitwise` flags any use as a host
 * integer that does not go through the conversion helpers below.
 */
#ifdef __CHECKER__
#define __sdwire_bitwise __attribute__((bitwise))
#define __sdwire_force __attribute__((force))
#else
#define __sdwire_bitwise
#define __sdwire_force
#endif
typedef uint16_t __sdwire_bitwise __le16;
typedef uint32_t __sdwire_bitwise __le32;
typedef uint64_t __sdwire_bitwise __le64;
typedef uint16_t __sdwire_bitwise __be16;
typedef uint32_t __sdwire_bitwise __be32;
typedef uint64_t __sdwire_bitwise __be64;

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define __sdwire_le(n, x) __builtin_bswap##n(x)
#define __sdwire_be(n, x) (x)
#else
#define __sdwire_le(n, x) (x)
#define __sdwire_be(n, x) __builtin_bswap##n(x)
#endif
"#;

fn conversions() -> String {
    let mut s = String::new();
    for n in [16, 32, 64] {
        for (o, m) in [("le", "__sdwire_le"), ("be", "__sdwire_be")] {
            let _ = writeln!(
                s,
                "static inline uint{n}_t {o}{n}_to_cpu(__{o}{n} v) {{ return {m}({n}, (__sdwire_force uint{n}_t)v); }}\n\
                 static inline __{o}{n} cpu_to_{o}{n}(uint{n}_t v) {{ return (__sdwire_force __{o}{n}){m}({n}, v); }}"
            );
        }
    }
    s.push_str("#endif /* SDWIRE_ENDIAN_TYPES */\n");
    s
}

const C_KEYWORDS: &[&str] = &[
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
    "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
    "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef",
    "union", "unsigned", "void", "volatile", "while",
];

/// The C member name of a field (`0` -> `f0`, keywords get a trailing `_`).
pub fn field_name(f: &FieldLayout) -> String {
    if f.name.starts_with(|c: char| c.is_ascii_digit()) {
        format!("f{}", f.name)
    } else if C_KEYWORDS.contains(&f.name) {
        format!("{}_", f.name)
    } else {
        f.name.to_string()
    }
}

/// `struct <prefix>_<snake name>` tag of a type.
pub fn struct_name(family: &Family, l: &Layout) -> String {
    prefixed(family.c_prefix, &snake_case(l.name))
}

/// Prefix of the `#define`s naming an enum's values or a flag type's bits.
pub fn define_prefix(family: &Family, l: &Layout) -> String {
    prefixed(family.c_prefix, &snake_case(l.name)).to_ascii_uppercase()
}

/// Text safe inside a `/* */` comment, without a trailing period (notes
/// are joined with `; `).
fn comment(s: &str) -> String {
    s.replace("*/", "* /").trim_end_matches('.').to_string()
}

fn number_type(size: usize, order: Order) -> Option<String> {
    match (size, order) {
        (1, _) => Some("uint8_t".into()),
        (2 | 4 | 8, Order::Le) => Some(format!("__le{}", size * 8)),
        (2 | 4 | 8, Order::Be) => Some(format!("__be{}", size * 8)),
        _ => None,
    }
}

/// The C type of a field's element, its C alignment, and a note naming the
/// Rust type when the C type does not say it.
fn element(family: &Family, f: &FieldLayout) -> Option<(String, usize, String)> {
    let l = f.layout?;
    if let Some((n, order)) = as_number(l) {
        let ty = number_type(n, order)?;
        let note = match l.kind {
            LayoutKind::Primitive => String::new(),
            LayoutKind::Enum => format!("{}: {}_*", l.name, define_prefix(family, l)),
            _ if !l.flags.is_empty() => format!("{}: {}_*", l.name, define_prefix(family, l)),
            _ => l.name.to_string(),
        };
        return Some((ty, n, note));
    }
    match l.kind {
        LayoutKind::Struct if l.size.is_some() => Some((
            format!("struct {}", struct_name(family, l)),
            l.align,
            String::new(),
        )),
        _ => None,
    }
}

/// The C declaration of a struct at its current version, with its asserts.
fn render_struct(out: &mut String, family: &Family, l: &Layout) {
    let name = struct_name(family, l);
    let _ = writeln!(out, "/* {}: {} */", l.name, comment(l.doc));
    let Some(size) = l.size else {
        let _ = writeln!(
            out,
            "/* struct {name}: variable size, no C struct; fields in order: */"
        );
        for f in l.fields {
            let _ = writeln!(
                out,
                "/*   {} ({}){} */",
                f.name,
                f.ty.replace(' ', ""),
                if f.doc.is_empty() {
                    String::new()
                } else {
                    format!(": {}", comment(f.doc))
                }
            );
        }
        out.push('\n');
        return;
    };
    if let Some((c, v)) = l.versions {
        let _ = writeln!(
            out,
            "/* Layout at version {v:#04x} (the type reads {c:#04x}..={v:#04x}; fields marked since/until exist only in those versions). */"
        );
    }
    let mut body = String::new();
    let mut asserts = Vec::new();
    let (mut cursor, mut max_align, mut packed) = (0usize, 1usize, false);
    let mut absent = Vec::new();
    for f in l.fields {
        let (Some(off), Some(fsize)) = (f.offset, f.size) else {
            absent.push(f);
            continue;
        };
        if fsize == 0 {
            continue;
        }
        if off > cursor {
            let _ = writeln!(body, "\tuint8_t __gap{cursor}[{}];", off - cursor);
        }
        let member = field_name(f);
        let (ty, align, note) =
            element(family, f).unwrap_or_else(|| ("uint8_t".into(), 1, f.ty.replace(' ', "")));
        let array = match f.count {
            Some(n) => format!("[{n}]"),
            None if ty == "uint8_t" && fsize > 1 => format!("[{fsize}]"),
            None => String::new(),
        };
        if off % align != 0 {
            packed = true;
        }
        max_align = max_align.max(align);
        let mut notes: Vec<String> = Vec::new();
        let v = version_note(f.since, f.until);
        if !v.is_empty() {
            notes.push(v);
        }
        if f.reserved {
            notes.push("reserved: write zero, ignore".into());
        }
        if !note.is_empty() {
            notes.push(note);
        }
        if !f.doc.is_empty() {
            notes.push(comment(f.doc));
        }
        let _ = writeln!(body, "\t{ty} {member}{array}; /* {} */", notes.join("; "));
        asserts.push(format!(
            "_Static_assert(offsetof(struct {name}, {member}) == {off}, \"{name}.{member} at offset {off}\");"
        ));
        cursor = off + fsize;
    }
    if cursor < size {
        let _ = writeln!(body, "\tuint8_t __gap{cursor}[{}];", size - cursor);
    }
    if size % max_align != 0 {
        packed = true;
    }
    for f in absent {
        let _ = writeln!(
            body,
            "\t/* {} ({}): not in this version's layout */",
            f.name,
            version_note(f.since, f.until)
        );
    }
    let _ = write!(out, "struct {name} {{\n{body}}}");
    out.push_str(if packed {
        " __attribute__((packed));\n"
    } else {
        ";\n"
    });
    let _ = writeln!(
        out,
        "_Static_assert(sizeof(struct {name}) == {size}, \"struct {name} is {size} bytes\");"
    );
    for a in asserts {
        out.push_str(&a);
        out.push('\n');
    }
    out.push('\n');
}

/// `#define`s for an enum's values (an opcode table or a code list).
fn render_enum(out: &mut String, family: &Family, l: &Layout) {
    let prefix = define_prefix(family, l);
    let _ = writeln!(
        out,
        "/* {}: {} ({}-byte tag{}) */",
        l.name,
        comment(l.doc),
        l.tag_size,
        match l.order {
            Order::Le if l.tag_size > 1 => ", little-endian",
            Order::Be if l.tag_size > 1 => ", big-endian",
            _ => "",
        }
    );
    if let Some((c, v)) = l.versions {
        let _ = writeln!(
            out,
            "#define {prefix}_VERSION {v:#04x} /* newest version */"
        );
        let _ = writeln!(
            out,
            "#define {prefix}_COMPAT {c:#04x} /* oldest version read */"
        );
    }
    let width = 2 * l.tag_size.max(1);
    for op in l.ops {
        let mut notes = vec![comment(op.doc)];
        let v = version_note(op.since, op.until);
        if !v.is_empty() {
            notes.push(v);
        }
        if let Some(arm) = op.layout {
            if arm.kind == LayoutKind::Struct {
                notes.push(format!("arm: struct {}", struct_name(family, arm)));
            }
        }
        let notes: Vec<String> = notes.into_iter().filter(|n| !n.is_empty()).collect();
        let _ = writeln!(
            out,
            "#define {prefix}_{} {:#0w$x} /* {} */",
            upper_snake_case(op.name),
            op.opcode,
            notes.join("; "),
            w = width + 2
        );
    }
    out.push('\n');
}

/// `#define`s for the named bits of a flags type.
fn render_flags(out: &mut String, family: &Family, l: &Layout) {
    let prefix = define_prefix(family, l);
    let width = 2 * l.size.unwrap_or(1);
    let _ = writeln!(out, "/* {}: {} */", l.name, comment(l.doc));
    for fl in l.flags {
        for alias in fl.name.split('|') {
            let _ = writeln!(
                out,
                "#define {prefix}_{} {:#0w$x} /* {} */",
                upper_snake_case(alias.trim()),
                fl.bits,
                comment(fl.doc),
                w = width + 2
            );
        }
    }
    out.push('\n');
}

fn render_types(out: &mut String, family: &Family, types: &[&Layout]) {
    for l in types {
        if !l.flags.is_empty() {
            render_flags(out, family, l);
        } else if l.kind == LayoutKind::Enum {
            render_enum(out, family, l);
        } else if l.kind == LayoutKind::Struct && as_number(l).is_none() {
            render_struct(out, family, l);
        }
    }
}

fn guard(file: &str) -> String {
    file.to_ascii_uppercase().replace(['.', '-'], "_")
}

fn banner(family: &Family, what: &str) -> String {
    format!(
        "/*\n * {} wire protocol: {what}.\n *\n * Generated by sdwire::views::c from the #[derive(Wire)] layout tables; do not edit.\n * Structs are the wire layout at each type's current version; multi-byte fields\n * are __le16/__le32/__le64 or __be16/__be32/__be64 (convert with le32_to_cpu()\n * etc.); offsets and sizes are checked by _Static_assert.\n */\n",
        family.title
    )
}

/// The common header and one header per protocol, named
/// `<family>_common.h` and `<family>_<protocol>.h`.
pub fn render(family: &Family) -> Vec<Header> {
    let placement = family.placement();
    let common_file = format!("{}_common.h", family.name);
    let mut text = banner(family, "common definitions");
    let g = guard(&common_file);
    let _ = write!(
        text,
        "#ifndef {g}\n#define {g}\n\n#include <stddef.h>\n#include <stdint.h>\n\n{ENDIAN_PRELUDE}{}\n",
        conversions()
    );
    render_types(&mut text, family, &placement.common);
    let _ = writeln!(text, "#endif /* {g} */");
    let mut headers = vec![Header {
        file: common_file.clone(),
        text,
    }];
    for (p, types) in family.protocols.iter().zip(&placement.protocols) {
        let file = format!("{}_{}.h", family.name, p.name);
        let g = guard(&file);
        let mut text = banner(family, &format!("the {} protocol", p.name));
        let _ = write!(
            text,
            "#ifndef {g}\n#define {g}\n\n#include \"{common_file}\"\n\n"
        );
        render_types(&mut text, family, types);
        let _ = writeln!(text, "#endif /* {g} */");
        headers.push(Header { file, text });
    }
    headers
}
