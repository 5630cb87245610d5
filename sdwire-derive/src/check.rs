//! Phase 3: every rule the derive enforces, reported together with spans.
//!
//! Messages follow rustc's style: a lowercase first line naming the type, the
//! field and (for layout rules) the byte offset, then `= help:` lines with
//! the fix. A check that depends on which attributes are present stays quiet
//! when those attributes failed to parse, so one typo gives one error.

use crate::ast::{Container, Data, Field, Variant};
use crate::attr::Sp;
use crate::ctxt::Ctxt;
use crate::layout::{self, static_size_align};
use crate::ty::{self, TyKind};
use proc_macro2::Span;
use quote::ToTokens;
use std::collections::HashMap;

pub fn check(cx: &Ctxt, c: &Container) {
    check_versions(cx, c);
    match &c.data {
        Data::Struct(fields) => {
            check_fields(cx, c, None, fields);
            crate::check_extra::check_fields(cx, c, None, fields);
            check_struct_layout(cx, c, fields);
        }
        Data::Enum(variants) => {
            check_enum(cx, c, variants);
            // The `other` catch-all's one field is the raw tag, not a body
            // (check_enum checks its type).
            for v in variants.iter().filter(|v| v.attrs.other.is_none()) {
                check_fields(cx, c, Some(v), &v.fields);
                crate::check_extra::check_fields(cx, c, Some(v), &v.fields);
            }
            crate::check_extra::check_enum(cx, c);
        }
    }
}

fn ty_string(f: &Field) -> String {
    ty::pretty(f.ty)
}

fn bytes(n: usize) -> String {
    if n == 1 {
        "1 byte".to_string()
    } else {
        format!("{n} bytes")
    }
}

/// A version number, in hex if the type's `version` is written in hex.
fn ver(c: &Container, v: u64) -> String {
    let hex = c
        .attrs
        .version
        .as_ref()
        .is_some_and(|v| v.text.starts_with("0x"));
    if hex {
        format!("{v:#04x}")
    } else {
        v.to_string()
    }
}

/// A type's version window as the user wrote it: `0x0a..=0x0b`.
fn window(c: &Container) -> String {
    match (&c.attrs.compat, &c.attrs.version) {
        (Some(cm), Some(v)) => format!("{}..={}", cm.text, v.text),
        (None, Some(v)) => format!("{0}..={0}", v.text),
        _ => String::new(),
    }
}

fn check_versions(cx: &Ctxt, c: &Container) {
    if let (Some(v), Some(cm)) = (&c.attrs.version, &c.attrs.compat) {
        if cm.v > v.v {
            cx.error_at(
                cm.span,
                format!(
                    "`{}` has `compat = {}` newer than `version = {}`: `compat` is the oldest version it reads, so it must be at most `version`",
                    c.ident, cm.text, v.text
                ),
            );
        }
    }
    if let Some(v) = &c.attrs.version {
        if v.v > u64::from(u16::MAX) {
            cx.error_at(
                v.span,
                format!(
                    "`{}` has `version = {}`, but versions are `u16`: at most 0xffff",
                    c.ident, v.text
                ),
            );
        }
    }
}

/// The first version bound of a field or variant, for spans.
fn bound_span(since: Option<&Sp<u64>>, until: Option<&Sp<u64>>) -> Option<Span> {
    since.map(|s| s.span).or(until.map(|u| u.span))
}

/// Checks a struct field's since/until against the type's window.
fn check_field_versions(cx: &Ctxt, c: &Container, f: &Field) {
    let since = f.attrs.since.as_ref();
    let until = f.attrs.until.as_ref();
    let (fname, owner) = (&f.name, &f.owner);
    let Some(first) = bound_span(since, until) else {
        if let Some(ig) = f.attrs.ignorable {
            cx.error_at(
                ig,
                format!(
                    "`ignorable` on field `{fname}` of `{owner}` means nothing: it lets an older version's encoding drop a field that has `since`/`until`, and this field has neither"
                ),
            );
        }
        return;
    };
    let Some((compat, cur)) = c.versions else {
        if !c.attrs.had_errors {
            let (key, b) = match (since, until) {
                (Some(s), _) => ("since", s),
                (None, Some(u)) => ("until", u),
                (None, None) => unreachable!("a bound exists"),
            };
            let text = &b.text;
            cx.error_at(
                first,
                format!(
                    "field `{fname}` of `{owner}` has `{key} = {text}`, but `{owner}` is not versioned\n\
                     = help: give `{owner}` its window of versions: `#[wire(version = V, compat = C)]`"
                ),
            );
        }
        return;
    };
    let win = window(c);
    if let (Some(s), Some(u)) = (since, until) {
        if s.v >= u.v {
            cx.error_at(
                u.span,
                format!(
                    "field `{fname}` of `{owner}` has `until = {}` not after `since = {}`, so no version has it\n\
                     = help: `until` is the first version without the field",
                    u.text, s.text
                ),
            );
        }
    }
    if let Some(s) = since {
        if s.v > cur {
            cx.error_at(
                s.span,
                format!(
                    "field `{fname}` of `{owner}` has `since = {}`, after the newest version of `{owner}` ({win})\n\
                     = help: raise `version` of `{owner}` if the field is new in {}",
                    s.text, s.text
                ),
            );
        } else if s.v < compat {
            cx.error_at(
                s.span,
                format!(
                    "field `{fname}` of `{owner}` has `since = {}`, before the oldest version of `{owner}` ({win})\n\
                     = help: every version `{owner}` reads has the field: remove `since`",
                    s.text
                ),
            );
        }
    }
    if let Some(u) = until {
        if u.v <= compat || u.v > cur {
            cx.error_at(
                u.span,
                format!(
                    "field `{fname}` of `{owner}` has `until = {}`, outside the versions of `{owner}` ({win})\n\
                     = help: `until` is the first version without the field, so it must be in {}..={}",
                    u.text,
                    ver(c, compat + 1),
                    ver(c, cur)
                ),
            );
        }
    }
    if f.attrs.default.is_none() && !f.attrs.had_errors {
        cx.error_at(
            first,
            format!(
                "versioned field `{fname}` of `{owner}` has no default for the versions without it\n\
                 = help: add `default` (for `Default::default()`) or `default = <expr>`"
            ),
        );
    }
}

fn is_payload(f: &Field) -> bool {
    matches!(f.kind, TyKind::Bytes | TyKind::VecU8 | TyKind::Vec(_))
}

/// A field whose size varies with its value (a payload or an optional tail).
fn is_variable(f: &Field) -> bool {
    is_payload(f) || matches!(f.kind, TyKind::Optional(_))
}

fn check_fields(cx: &Ctxt, c: &Container, variant: Option<&Variant>, fields: &[Field]) {
    let n = fields.len();
    let container_kind = if variant.is_some() { "enum" } else { "struct" };
    // Actual byte offsets (a variant's are relative to its body).
    let offsets = layout::compute(
        fields,
        if variant.is_some() { None } else { c.versions },
        true,
    )
    .offsets;
    let variant_errors = variant.is_some_and(|v| v.attrs.had_errors);
    for (i, f) in fields.iter().enumerate() {
        let (fname, owner, ty_s) = (&f.name, &f.owner, ty_string(f));
        match variant {
            None => check_field_versions(cx, c, f),
            Some(v) => {
                for (key, b) in [("since", &f.attrs.since), ("until", &f.attrs.until)] {
                    if let Some(b) = b {
                        cx.error_at(
                            b.span,
                            format!(
                                "`{key}` on field `{fname}` of `{owner}`: a variant's fields have no versions of their own\n\
                                 = help: put the bound on the variant: `#[wire(opcode = N, {key} = {})]` on `{}`",
                                b.text, v.ident
                            ),
                        );
                    }
                }
            }
        }
        if let Some(d) = &f.attrs.default {
            if !f.is_versioned() && !f.reserved() && !f.attrs.had_errors {
                cx.error_at(
                    d.span,
                    format!(
                        "`default` on field `{fname}` of `{owner}` is never used: only fields with `since`/`until`, and reserved fields, are ever absent"
                    ),
                );
            }
        }
        let attrs_ok = !c.attrs.had_errors && !variant_errors && !f.attrs.had_errors;
        match &f.kind {
            TyKind::Unsupported(reason) => {
                cx.error_spanned_by(
                    f.ty,
                    format!("field `{fname}` of `{owner}` has type `{ty_s}`, which cannot be on the wire: {reason}"),
                );
            }
            TyKind::Int(p) | TyKind::IntArray { elem: p, .. }
                if p.needs_order() && f.order.is_none() && attrs_ok =>
            {
                let at = match (offsets[i], variant) {
                    (Some(o), None) => format!(" at byte offset {o}"),
                    (Some(o), Some(_)) => format!(" at byte offset {o} of the variant's body"),
                    (None, _) => String::new(),
                };
                cx.error_spanned_by(
                    f.ty,
                    format!(
                        "field `{fname}` of `{owner}` (`{ty_s}`{at}) is a multi-byte number with no byte order\n\
                         = help: add `#[wire(le)]` or `#[wire(be)]` to the {container_kind} `{}` or to this field",
                        c.ident
                    ),
                );
            }
            _ => {}
        }
        if let Some((key, sp)) = f
            .attrs
            .le
            .map(|s| ("le", s))
            .or(f.attrs.be.map(|s| ("be", s)))
        {
            let what = match &f.kind {
                TyKind::Byte(_) => Some(format!("`{ty_s}`, a single byte")),
                TyKind::IntArray { elem, .. } if elem.size == 1 => {
                    Some(format!("`{ty_s}`, an array of single bytes"))
                }
                TyKind::Bytes | TyKind::VecU8 => {
                    Some(format!("`{ty_s}`, a payload of single bytes"))
                }
                _ => None,
            };
            if let Some(what) = what {
                cx.error_at(
                    sp,
                    format!("field `{fname}` of `{owner}` is {what}: a byte order means nothing here; remove `{key}`"),
                );
            }
            if matches!(f.kind, TyKind::Nested { .. } | TyKind::Vec(_)) {
                let whose = match &f.kind {
                    TyKind::Vec(t) => format!(
                        "its elements (`{}`) have byte orders of their own",
                        ty::pretty(t)
                    ),
                    _ => "it has a byte order of its own".to_string(),
                };
                cx.error_at(
                    sp,
                    format!(
                        "field `{fname}` of `{owner}` is `{ty_s}`: {whose}, so `{key}` here would be ignored; remove it"
                    ),
                );
            }
        }
        // Payload bindings.
        let both = f.attrs.len.is_some() && f.attrs.count.is_some();
        if both {
            cx.error_at(
                f.attrs.count.as_ref().unwrap().span,
                format!(
                    "field `{fname}` of `{owner}` has both `len` and `count`: a payload has one length (`len` for bytes, `count` for `Vec<T>`)"
                ),
            );
        }
        let supported = !matches!(f.kind, TyKind::Unsupported(_));
        if let (Some(l), true) = (&f.attrs.len, supported) {
            if !matches!(f.kind, TyKind::Bytes | TyKind::VecU8) {
                let hint = if matches!(f.kind, TyKind::Vec(_)) {
                    "; a `Vec<T>` takes `count`, its number of elements"
                } else {
                    ""
                };
                cx.error_at(
                    l.span,
                    format!(
                        "`len` on field `{fname}` of `{owner}`, which is `{ty_s}`: `len` gives the length of a byte payload (`Bytes` or `Vec<u8>`){hint}"
                    ),
                );
            }
        }
        if let (Some(cn), false, true) = (&f.attrs.count, both, supported) {
            if !matches!(f.kind, TyKind::Vec(_)) {
                let hint = if matches!(f.kind, TyKind::Bytes | TyKind::VecU8) {
                    "; a byte payload takes `len`"
                } else {
                    ""
                };
                cx.error_at(
                    cn.span,
                    format!(
                        "`count` on field `{fname}` of `{owner}`, which is `{ty_s}`: `count` gives the number of elements of a `Vec<T>`{hint}"
                    ),
                );
            }
        }
        if let Some(m) = &f.attrs.max {
            if f.attrs.len.is_none() && f.attrs.count.is_none() && !f.attrs.had_errors {
                cx.error_at(
                    m.span,
                    format!(
                        "`max` on field `{fname}` of `{owner}` bounds nothing: it caps a length read by `len`/`count`; add one or remove `max`"
                    ),
                );
            }
        }
        if is_payload(f)
            && f.attrs.len.is_none()
            && f.attrs.count.is_none()
            && f.attrs.rest.is_none()
            && !f.attrs.had_errors
        {
            let key = if matches!(f.kind, TyKind::Vec(_)) {
                "count"
            } else {
                "len"
            };
            cx.error_spanned_by(
                f.ty,
                format!(
                    "payload field `{fname}` of `{owner}` (`{ty_s}`) has no length\n\
                     = help: name the integer field before it that holds the length, `#[wire({key} = <field>)]`, or take the rest of the input with `#[wire(rest)]`"
                ),
            );
        }
        if let Some(r) = f.attrs.rest {
            if i + 1 != n {
                cx.error_at(
                    r,
                    format!(
                        "`rest` takes the rest of the input, so field `{fname}` must be the last field of `{owner}`"
                    ),
                );
            }
            if !is_payload(f) {
                cx.error_at(
                    r,
                    format!(
                        "`rest` on field `{fname}` of `{owner}`, which is `{ty_s}`: only `Bytes`, `Vec<u8>` and `Vec<T>` payloads take the rest of the input"
                    ),
                );
            }
            if f.attrs.len.is_some() || f.attrs.count.is_some() {
                cx.error_at(
                    r,
                    format!("field `{fname}` of `{owner}` has both `rest` and a `len`/`count`: a payload has one length"),
                );
            }
        }
        if let Some(m) = f.measures {
            let payload = &fields[m];
            let int = matches!(f.kind, TyKind::Int(_))
                || matches!(f.kind, TyKind::Byte(p) if !p.is_bool());
            if !int {
                cx.error_spanned_by(
                    f.ty,
                    format!(
                        "length field `{fname}` of `{owner}` (measuring `{}`) must be an integer, not `{ty_s}`",
                        payload.name
                    ),
                );
            }
            for g in [f, payload] {
                if let Some(sp) = bound_span(g.attrs.since.as_ref(), g.attrs.until.as_ref()) {
                    cx.error_at(
                        sp,
                        format!(
                            "length field `{fname}` of `{owner}` and its payload `{}` must exist in the same versions: neither can have `since`/`until`",
                            payload.name
                        ),
                    );
                }
            }
        }
        if let Some(r) = f.attrs.reserved {
            if is_payload(f) {
                cx.error_at(
                    r,
                    format!(
                        "reserved field `{fname}` of `{owner}` is `{ty_s}`, a payload: a reserved field is written as zeros, so it needs a fixed size"
                    ),
                );
            }
            if let Some(m) = f.measures {
                cx.error_at(
                    r,
                    format!(
                        "length field `{fname}` of `{owner}` cannot be reserved: it carries the length of `{}`",
                        fields[m].name
                    ),
                );
            }
        }
    }
}

/// Where a C compiler would put each field: the struct's fields walked in
/// order, each (after its explicit `pad`) at its natural alignment. Offsets
/// are reported as the derive encodes them when every earlier field is
/// aligned, so one misplaced field is reported once, not once per later field.
struct CLayout {
    /// (field index, offset, alignment, implicit padding before it) of every
    /// misaligned field the macro can see.
    misaligned: Vec<(usize, usize, usize, usize)>,
    /// End of the last field with the implicit padding made explicit, if
    /// every field's size is known from syntax.
    end: Option<usize>,
}

fn c_layout(fields: &[Field], versions: Option<(u64, u64)>, packed: bool) -> CLayout {
    let mut out = CLayout {
        misaligned: Vec::new(),
        end: None,
    };
    let mut cur = 0usize;
    for (i, f) in fields.iter().enumerate() {
        if !layout::present_at_current(f, versions) {
            continue;
        }
        let Some((size, align)) = static_size_align(f) else {
            return out;
        };
        let off = cur + f.pad();
        let align = if packed { 1 } else { align.max(1) };
        let gap = (align - off % align) % align;
        if gap != 0 {
            out.misaligned.push((i, off, align, gap));
        }
        cur = off + gap + size;
    }
    out.end = Some(cur);
    out
}

fn check_struct_layout(cx: &Ctxt, c: &Container, fields: &[Field]) {
    let packed = c.attrs.packed.is_some();
    let name = c.ident;
    let cl = c_layout(fields, c.versions, packed);
    // The alignment, when every field's is known from syntax (1 if packed).
    let align = layout::compute(fields, c.versions, packed).align;
    for (n, &(i, off, align, gap)) in cl.misaligned.iter().enumerate() {
        let f = &fields[i];
        let after = if n > 0 {
            " (with the padding reported above made explicit)"
        } else {
            ""
        };
        let instead = match f.pad() {
            0 => String::new(),
            p => format!(" (instead of `pad = {p}`)"),
        };
        cx.error_at(
            f.name_span,
            format!(
                "field `{}` of `{name}` (`{}`, alignment {align}) starts at byte offset {off}{after}, which is not a multiple of {align}\n\
                 = help: a C compiler would insert {} of padding before it: make it explicit with `#[wire(pad = {})]`{instead} on `{}`, or mark `{name}` `#[wire(packed)]`",
                f.name,
                ty_string(f),
                bytes(gap),
                gap + f.pad(),
                f.name
            ),
        );
    }
    let padding_note = if cl.misaligned.is_empty() {
        String::new()
    } else {
        " (with the padding reported above made explicit)".to_string()
    };
    let payload = fields.iter().find(|f| is_variable(f));
    if let (Some(end), Some(align), None) = (cl.end, align, payload) {
        if align > 1 && end % align != 0 {
            let gap = align - end % align;
            let sp = c
                .attrs
                .size
                .as_ref()
                .map_or_else(|| c.ident.span(), |s| s.span);
            cx.error_at(
                sp,
                format!(
                    "`{name}` ends at byte {end}{padding_note}, which is not a multiple of its alignment {align}\n\
                     = help: a C compiler would add {} of padding at the end: make it explicit with a last field `#[wire(reserved)] _pad: [u8; {gap}]`, or mark `{name}` `#[wire(packed)]`",
                    bytes(gap)
                ),
            );
        }
        if let Some(decl) = &c.attrs.size {
            if decl.v != end {
                cx.error_at(
                    decl.span,
                    format!(
                        "`{name}` is declared `size = {}` but its fields encode to {}{padding_note}: {}",
                        decl.text,
                        bytes(end),
                        if end > decl.v {
                            format!("{} too many", bytes(end - decl.v))
                        } else {
                            format!("{} missing", bytes(decl.v - end))
                        }
                    ),
                );
            }
        }
    }
    if let (Some(decl), Some(p)) = (&c.attrs.size, payload) {
        cx.error_at(
            decl.span,
            format!(
                "`{name}` declares `size = {}` but its field `{}` is a variable-size payload\n\
                 = help: remove `size`; a struct with a payload has no fixed size",
                decl.text, p.name
            ),
        );
    }
}

fn tag_bits(c: &Container) -> Option<u32> {
    let t = c.attrs.tag.as_ref()?;
    match t.v.to_string().as_str() {
        "u8" => Some(8),
        "u16" => Some(16),
        "u32" => Some(32),
        "u64" => Some(64),
        _ => None,
    }
}

fn check_enum(cx: &Ctxt, c: &Container, variants: &[Variant]) {
    let name = c.ident;
    let Some(tag) = &c.attrs.tag else {
        if !c.attrs.had_errors {
            cx.error_spanned_by(
                c.ident,
                format!(
                    "enum `{name}` has no tag type, so it cannot be an opcode table\n\
                     = help: add `#[wire(tag = u8)]` (or `u16`, `u32`, `u64`): the integer each variant's opcode is written as"
                ),
            );
        }
        return;
    };
    let Some(bits) = tag_bits(c) else {
        cx.error_at(
            tag.span,
            format!(
                "`tag = {}` on `{name}`: a tag is an unsigned integer type, `u8`, `u16`, `u32` or `u64`",
                tag.text
            ),
        );
        return;
    };
    if bits > 8 && c.order.is_none() && !c.attrs.had_errors {
        cx.error_at(
            tag.span,
            format!(
                "the tag of `{name}` (`{}`) is a multi-byte number with no byte order\n\
                 = help: add `le` or `be`: `#[wire(tag = {}, le)]`",
                tag.text, tag.text
            ),
        );
    }
    if variants.is_empty() {
        cx.error_spanned_by(
            c.ident,
            format!("opcode table `{name}` has no variants: add at least one `#[wire(opcode = N)]` variant"),
        );
    }
    let max_tag = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let mut seen: HashMap<u64, (&syn::Ident, &str)> = HashMap::new();
    let mut other_seen: Option<&syn::Ident> = None;
    for v in variants {
        let vname = v.ident;
        if let Some(o) = v.attrs.other {
            if let Some(first) = other_seen {
                cx.error_at(
                    o,
                    format!(
                        "`{name}` has two `other` catch-alls, `{first}` and `{vname}`: only one variant can take the unknown tags"
                    ),
                );
            }
            other_seen = Some(vname);
            if v.attrs.opcode.is_some() {
                cx.error_at(
                    o,
                    format!(
                        "the `other` catch-all `{vname}` of `{name}` takes every unknown tag, so it cannot also have an `opcode`"
                    ),
                );
            }
            let ok = v.fields.len() == 1
                && v.fields[0].ty.to_token_stream().to_string() == tag.v.to_string().as_str();
            if !ok {
                cx.error_spanned_by(
                    v.ident,
                    format!(
                        "the `other` catch-all `{vname}` of `{name}` must hold the raw tag and nothing else: write `{vname}({})`",
                        tag.text
                    ),
                );
            }
            continue;
        }
        let Some(op) = &v.attrs.opcode else {
            if !v.attrs.had_errors {
                cx.error_spanned_by(
                    v.ident,
                    format!(
                        "variant `{name}::{vname}` has no opcode\n\
                         = help: add `#[wire(opcode = N)]`, or `#[wire(other)]` to make it the catch-all for unknown tags"
                    ),
                );
            }
            continue;
        };
        if op.v > max_tag {
            cx.error_at(
                op.span,
                format!(
                    "opcode {} of `{name}::{vname}` does not fit the tag type `{}` (at most {max_tag:#x})",
                    op.text, tag.text
                ),
            );
        }
        if let Some(r) = &c.attrs.range {
            if op.v < r.v.0 || op.v > r.v.1 {
                cx.error_at(
                    op.span,
                    format!(
                        "opcode {} of `{name}::{vname}` is outside the opcodes of `{name}`, `range = {}`",
                        op.text, r.text
                    ),
                );
            }
        }
        if let Some((prev, prev_text)) = seen.get(&op.v) {
            let same = if *prev_text == op.text {
                String::new()
            } else {
                format!(" (as {prev_text})")
            };
            cx.error_at(
                op.span,
                format!(
                    "opcode {} of `{name}::{vname}` is already used by `{prev}`{same}: each opcode names one variant",
                    op.text
                ),
            );
        } else {
            seen.insert(op.v, (vname, op.text.as_str()));
        }
        if let (Some(s), Some(u)) = (&v.attrs.since, &v.attrs.until) {
            if s.v >= u.v {
                cx.error_at(
                    u.span,
                    format!(
                        "variant `{name}::{vname}` has `until = {}` not after `since = {}`, so no version has it\n\
                         = help: `until` is the first version without the variant",
                        u.text, s.text
                    ),
                );
            }
        }
        if let Some((compat, cur)) = c.versions {
            let win = window(c);
            for (key, b) in [("since", &v.attrs.since), ("until", &v.attrs.until)] {
                let Some(b) = b else { continue };
                let bad = match key {
                    "since" => b.v < compat || b.v > cur,
                    _ => b.v <= compat || b.v > cur,
                };
                if bad {
                    cx.error_at(
                        b.span,
                        format!(
                            "variant `{name}::{vname}` has `{key} = {}`, outside the versions of `{name}` ({win})",
                            b.text
                        ),
                    );
                }
            }
        }
    }
}
