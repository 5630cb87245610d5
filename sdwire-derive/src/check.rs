//! Phase 3: every rule the derive enforces, reported together with spans.

use crate::ast::{Container, Data, Field, Variant};
use crate::ctxt::Ctxt;
use crate::layout::{self, static_size_align};
use crate::ty::TyKind;
use quote::ToTokens;
use std::collections::HashMap;

pub fn check(cx: &Ctxt, c: &Container) {
    check_versions(cx, c);
    match &c.data {
        Data::Struct(fields) => {
            check_fields(cx, c, fields, true);
            check_struct_layout(cx, c, fields);
            check_container_struct_only(cx, c);
        }
        Data::Enum(variants) => {
            check_enum(cx, c, variants);
            for v in variants {
                check_fields(cx, c, &v.fields, false);
            }
        }
    }
}

fn ty_string(f: &Field) -> String {
    f.ty.to_token_stream().to_string().replace(' ', "")
}

fn check_versions(cx: &Ctxt, c: &Container) {
    if let (Some(v), Some(cm)) = (&c.attrs.version, &c.attrs.compat) {
        if cm.v > v.v {
            cx.error_at(
                cm.span,
                format!("`compat = {:#x}` is newer than `version = {:#x}`: compat is the oldest version read", cm.v, v.v),
            );
        }
    }
    if c.attrs
        .version
        .as_ref()
        .is_some_and(|v| v.v > u64::from(u16::MAX))
    {
        cx.error_at(
            c.attrs.version.as_ref().unwrap().span,
            "versions are u16: at most 0xffff",
        );
    }
}

fn check_container_struct_only(cx: &Ctxt, c: &Container) {
    if let Some(r) = &c.attrs.range {
        cx.error_at(r.span, "`range` applies to enums (opcode tables) only");
    }
    if let Some(h) = &c.attrs.handler {
        cx.error_spanned_by(h, "`handler` applies to enums (opcode tables) only");
    }
}

/// Checks a field's since/until against the enclosing window.
fn check_field_versions(cx: &Ctxt, c: &Container, f: &Field) {
    let since = f.attrs.since.as_ref();
    let until = f.attrs.until.as_ref();
    if since.is_none() && until.is_none() {
        if let Some(ig) = f.attrs.ignorable {
            cx.error_at(ig, format!("`ignorable` only means something on a versioned field (`since`/`until`); field `{}` has neither", f.name));
        }
        return;
    }
    let Some((compat, cur)) = c.versions else {
        let sp = since.map(|s| s.span).or(until.map(|u| u.span)).unwrap();
        cx.error_at(
            sp,
            format!(
                "field `{}` has a version bound but `{}` is not versioned: add `#[wire(version = V, compat = C)]` to the type",
                f.name, c.ident
            ),
        );
        return;
    };
    if let (Some(s), Some(u)) = (since, until) {
        if s.v >= u.v {
            cx.error_at(
                u.span,
                format!(
                    "field `{}`: `until = {:#x}` must be greater than `since = {:#x}`",
                    f.name, u.v, s.v
                ),
            );
        }
    }
    if let Some(s) = since {
        if s.v < compat || s.v > cur {
            cx.error_at(
                s.span,
                format!(
                    "field `{}`: `since = {:#x}` lies outside the type's versions {compat:#x}..={cur:#x}",
                    f.name, s.v
                ),
            );
        }
    }
    if let Some(u) = until {
        if u.v <= compat || u.v > cur {
            cx.error_at(
                u.span,
                format!(
                    "field `{}`: `until = {:#x}` lies outside the type's versions: it must be in {:#x}..={cur:#x}",
                    f.name,
                    u.v,
                    compat + 1
                ),
            );
        }
    }
    if f.attrs.default.is_none() {
        let sp = since.map(|s| s.span).or(until.map(|u| u.span)).unwrap();
        cx.error_at(
            sp,
            format!(
                "versioned field `{}` needs a default for the versions that lack it: add `default` (uses `Default::default()`) or `default = <expr>`",
                f.name
            ),
        );
    }
}

fn check_fields(cx: &Ctxt, c: &Container, fields: &[Field], is_struct: bool) {
    let n = fields.len();
    for (i, f) in fields.iter().enumerate() {
        check_field_versions(cx, c, f);
        if !is_struct {
            if let Some(s) = &f.attrs.since {
                cx.error_at(
                    s.span,
                    "`since` on a variant's field is not supported; put `since` on the variant",
                );
            }
        }
        if let Some(d) = &f.attrs.default {
            if !f.is_versioned() && !f.reserved() {
                cx.error_at(d.span, format!("`default` on field `{}` is never used: only versioned (`since`/`until`) or reserved fields take defaults", f.name));
            }
        }
        match &f.kind {
            TyKind::Unsupported(msg) => {
                cx.error_spanned_by(
                    f.ty,
                    format!("unsupported field type `{}`: {msg}", ty_string(f)),
                );
            }
            TyKind::Int(p) | TyKind::IntArray { elem: p, .. }
                if p.needs_order() && f.order.is_none() =>
            {
                let off = if is_struct {
                    let l = layout::compute(fields, c.versions, c.attrs.packed.is_some());
                    l.offsets[i]
                        .map(|o| format!(" at byte offset {o}"))
                        .unwrap_or_default()
                } else {
                    String::new()
                };
                cx.error_spanned_by(
                    f.ty,
                    format!(
                        "field `{}` of `{}` ({}{off}) is a multi-byte number with no byte order: add `#[wire(le)]` or `#[wire(be)]` to the {} or to this field",
                        f.name,
                        c.ident,
                        ty_string(f),
                        if is_struct { "struct" } else { "enum" }
                    ),
                );
            }
            _ => {}
        }
        if (f.attrs.le.is_some() || f.attrs.be.is_some())
            && matches!(f.kind, TyKind::Byte(_) | TyKind::Bytes | TyKind::VecU8)
        {
            let sp = f.attrs.le.or(f.attrs.be).unwrap();
            cx.error_at(sp, format!("field `{}` is made of single bytes: a byte order means nothing here; remove it", f.name));
        }
        // Payload bindings.
        let is_payload = matches!(f.kind, TyKind::Bytes | TyKind::VecU8 | TyKind::Vec(_));
        if let Some(l) = &f.attrs.len {
            if !matches!(f.kind, TyKind::Bytes | TyKind::VecU8) {
                cx.error_at(l.span, format!("`len` binds a byte payload (`Bytes` or `Vec<u8>`); field `{}` is `{}` (use `count` for `Vec<T>`)", f.name, ty_string(f)));
            }
        }
        if let Some(cn) = &f.attrs.count {
            if !matches!(f.kind, TyKind::Vec(_)) {
                cx.error_at(
                    cn.span,
                    format!(
                        "`count` binds a `Vec<T>`; field `{}` is `{}`",
                        f.name,
                        ty_string(f)
                    ),
                );
            }
        }
        if let Some(m) = &f.attrs.max {
            if f.attrs.len.is_none() && f.attrs.count.is_none() {
                cx.error_at(
                    m.span,
                    "`max` bounds a `len` or `count` binding; add one or remove `max`",
                );
            }
        }
        if is_payload && f.attrs.len.is_none() && f.attrs.count.is_none() && f.attrs.rest.is_none()
        {
            cx.error_spanned_by(
                f.ty,
                format!(
                    "payload field `{}` needs its length: `#[wire(len = <field>)]`{} or `#[wire(rest)]` to take the rest of the input",
                    f.name,
                    if matches!(f.kind, TyKind::Vec(_)) { " / `count = <field>`" } else { "" }
                ),
            );
        }
        if let Some(r) = f.attrs.rest {
            if i + 1 != n {
                cx.error_at(
                    r,
                    format!(
                        "`rest` takes the rest of the input, so field `{}` must be the last field",
                        f.name
                    ),
                );
            }
            if !is_payload {
                cx.error_at(
                    r,
                    "`rest` applies to `Bytes`, `Vec<u8>` and `Vec<T>` fields",
                );
            }
            if f.attrs.len.is_some() || f.attrs.count.is_some() {
                cx.error_at(
                    r,
                    "`rest` conflicts with `len`/`count`: a payload has one length",
                );
            }
        }
        if let Some(m) = f.measures {
            if !matches!(f.kind, TyKind::Int(_) | TyKind::Byte(_))
                || matches!(f.kind, TyKind::Byte(p) if p.is_bool())
            {
                cx.error_spanned_by(
                    f.ty,
                    format!(
                        "length field `{}` must be an integer, not `{}`",
                        f.name,
                        ty_string(f)
                    ),
                );
            }
            if f.is_versioned() || fields[m].is_versioned() {
                cx.error_spanned_by(f.ty, "length fields and their payloads cannot be versioned");
            }
        }
        if let Some(r) = f.attrs.reserved {
            if is_payload {
                cx.error_at(
                    r,
                    "a reserved field needs a fixed size; payloads cannot be reserved",
                );
            }
            if f.measures.is_some() {
                cx.error_at(r, "a length field cannot be reserved");
            }
        }
    }
}

fn check_struct_layout(cx: &Ctxt, c: &Container, fields: &[Field]) {
    let packed = c.attrs.packed.is_some();
    let l = layout::compute(fields, c.versions, packed);
    if !packed {
        for (i, f) in fields.iter().enumerate() {
            let (Some(off), Some((_, align))) = (l.offsets[i], static_size_align(f)) else {
                continue;
            };
            if align > 1 && off % align != 0 {
                let gap = align - off % align;
                cx.error_spanned_by(
                    &f.member,
                    format!(
                        "field `{}` of `{}` ({}, alignment {align}) would start at byte offset {off}, which is not naturally aligned: \
                         a C compiler inserts {gap} byte(s) of implicit padding before it. \
                         Make the padding explicit with `#[wire(pad = {gap})]` on this field (or a reserved field), or mark the struct `#[wire(packed)]`",
                        f.name,
                        c.ident,
                        ty_string(f)
                    ),
                );
            }
        }
    }
    if let (Some(size), Some(align)) = (l.size, l.align) {
        if !packed && align > 1 && size % align != 0 {
            let gap = align - size % align;
            let sp = c
                .attrs
                .size
                .as_ref()
                .map(|s| s.span)
                .unwrap_or_else(|| c.ident.span());
            cx.error_at(
                sp,
                format!(
                    "`{}` ends at byte {size} but its alignment is {align}: a C compiler adds {gap} byte(s) of implicit trailing padding. \
                     Add an explicit reserved field of {gap} byte(s) at the end, or mark the struct `#[wire(packed)]`",
                    c.ident
                ),
            );
        }
        if let Some(decl) = &c.attrs.size {
            if decl.v != size {
                cx.error_at(
                    decl.span,
                    format!(
                        "`{}` is declared `size = {}` but its fields encode to {size} bytes ({})",
                        c.ident,
                        decl.v,
                        if size > decl.v {
                            format!("{} too many", size - decl.v)
                        } else {
                            format!("{} missing", decl.v - size)
                        }
                    ),
                );
            }
        }
    }
    if let Some(decl) = &c.attrs.size {
        if fields
            .iter()
            .any(|f| matches!(f.kind, TyKind::Bytes | TyKind::VecU8 | TyKind::Vec(_)))
        {
            cx.error_at(
                decl.span,
                format!(
                    "`{}` has a variable-size payload field, so it cannot declare a fixed `size`",
                    c.ident
                ),
            );
        }
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
    for sp in [c.attrs.size.as_ref().map(|s| s.span), c.attrs.packed]
        .into_iter()
        .flatten()
    {
        cx.error_at(sp, "`size` and `packed` apply to structs only");
    }
    let Some(tag) = &c.attrs.tag else {
        cx.error_spanned_by(
            c.ident,
            format!("enum `{}` needs a tag type to be an opcode table: add `#[wire(tag = u8)]` (or u16, u32, u64)", c.ident),
        );
        return;
    };
    let Some(bits) = tag_bits(c) else {
        cx.error_at(
            tag.span,
            format!("unsupported tag type `{}`: use u8, u16, u32 or u64", tag.v),
        );
        return;
    };
    if bits > 8 && c.order.is_none() {
        cx.error_at(
            tag.span,
            format!(
                "tag type `{}` is multi-byte: add `le` or `be` to the enum",
                tag.v
            ),
        );
    }
    if variants.is_empty() {
        cx.error_spanned_by(c.ident, "an opcode table needs at least one variant");
    }
    let max_tag = if bits == 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let mut seen: HashMap<u64, &syn::Ident> = HashMap::new();
    let mut other_seen = false;
    for v in variants {
        if let Some(o) = v.attrs.other {
            if other_seen {
                cx.error_at(o, "only one variant can be the `other` catch-all");
            }
            other_seen = true;
            if v.attrs.opcode.is_some() {
                cx.error_at(o, "the `other` catch-all takes every unknown tag; it cannot also have an `opcode`");
            }
            let ok = v.fields.len() == 1
                && v.fields[0].ty.to_token_stream().to_string() == tag.v.to_string().as_str();
            if !ok {
                cx.error_spanned_by(
                    v.ident,
                    format!(
                        "the `other` variant must hold exactly the raw tag: `{}({})`",
                        v.ident, tag.v
                    ),
                );
            }
            continue;
        }
        let Some(op) = &v.attrs.opcode else {
            cx.error_spanned_by(
                v.ident,
                format!("variant `{}` has no opcode: add `#[wire(opcode = N)]` (or `#[wire(other)]` for the catch-all)", v.ident),
            );
            continue;
        };
        if op.v > max_tag {
            cx.error_at(
                op.span,
                format!("opcode {:#x} does not fit the tag type `{}`", op.v, tag.v),
            );
        }
        if let Some(r) = &c.attrs.range {
            if op.v < r.v.0 || op.v > r.v.1 {
                cx.error_at(
                    op.span,
                    format!(
                        "opcode {:#x} of `{}` lies outside this protocol's range {:#x}..={:#x}",
                        op.v, v.ident, r.v.0, r.v.1
                    ),
                );
            }
        }
        if let Some(prev) = seen.get(&op.v) {
            cx.error_at(
                op.span,
                format!("duplicate opcode {:#x}: `{}` and `{}` share it; every opcode names one variant", op.v, prev, v.ident),
            );
        } else {
            seen.insert(op.v, v.ident);
        }
        if let (Some(s), Some(u)) = (&v.attrs.since, &v.attrs.until) {
            if s.v >= u.v {
                cx.error_at(
                    u.span,
                    format!(
                        "variant `{}`: `until = {:#x}` must be greater than `since = {:#x}`",
                        v.ident, u.v, s.v
                    ),
                );
            }
        }
        if let Some((compat, cur)) = c.versions {
            for (name, b) in [("since", &v.attrs.since), ("until", &v.attrs.until)] {
                if let Some(b) = b {
                    if b.v < compat || b.v > cur {
                        cx.error_at(b.span, format!("variant `{}`: `{name} = {:#x}` lies outside the enum's versions {compat:#x}..={cur:#x}", v.ident, b.v));
                    }
                }
            }
        }
    }
}
