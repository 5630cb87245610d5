//! Phase 3, continued: the rules of the attributes for protocols beyond
//! sheepdog's (magic numbers, optional tails, frame-header length fields,
//! handler contexts). Kept apart from `check` so each file stays readable.

use crate::ast::{Container, Field, Variant};
use crate::ctxt::Ctxt;
use crate::ty::{self, TyKind};

/// Field rules of `magic`, `optional` and `payload_len`.
pub fn check_fields(cx: &Ctxt, c: &Container, variant: Option<&Variant>, fields: &[Field]) {
    let mut first_len: Option<&Field> = None;
    for (i, f) in fields.iter().enumerate() {
        check_magic(cx, f);
        check_optional(cx, f, &fields[i + 1..]);
        if let Some(sp) = f.attrs.payload_len {
            let (fname, owner) = (&f.name, &f.owner);
            if let Some(v) = variant {
                cx.error_at(
                    sp,
                    format!(
                        "`payload_len` on field `{fname}` of `{owner}`: only a struct can be a frame header\n\
                         = help: derive `Wire` on a header struct and use it with `sdwire::codec::FrameCodec`; `{}` is a variant",
                        v.ident
                    ),
                );
                continue;
            }
            if let Some(first) = first_len {
                cx.error_at(
                    sp,
                    format!(
                        "`{owner}` has two `payload_len` fields, `{}` and `{fname}`: a frame header announces one payload",
                        first.name
                    ),
                );
            }
            first_len = Some(f);
            let int = matches!(f.kind, TyKind::Int(p) if !p.name.starts_with('f'))
                || matches!(f.kind, TyKind::Byte(p) if !p.is_bool());
            if !int {
                cx.error_spanned_by(
                    f.ty,
                    format!(
                        "`payload_len` field `{fname}` of `{owner}` must be an integer, not `{}`",
                        ty::pretty(f.ty)
                    ),
                );
            }
            let clash = [
                ("magic", f.attrs.magic.is_some()),
                ("reserved", f.reserved()),
                ("since/until", f.is_versioned()),
                ("a length of another field", f.measures.is_some()),
            ];
            for (what, _) in clash.iter().filter(|(_, on)| *on) {
                cx.error_at(
                    sp,
                    format!("`payload_len` field `{fname}` of `{owner}` cannot also be {what}: it holds the length of the payload after the header"),
                );
            }
            if c.attrs.had_errors {
                continue;
            }
            if let Some(p) = fields.iter().find(|g| {
                matches!(
                    g.kind,
                    TyKind::Bytes | TyKind::VecU8 | TyKind::Vec(_) | TyKind::Optional(_)
                )
            }) {
                cx.error_at(
                    sp,
                    format!(
                        "`payload_len` on field `{fname}` of `{owner}`: a frame header has a fixed size, but field `{}` varies\n\
                         = help: the payload follows the header on the wire; keep it out of the header struct",
                        p.name
                    ),
                );
            }
        }
    }
}

fn check_magic(cx: &Ctxt, f: &Field) {
    let Some(m) = &f.attrs.magic else { return };
    let (fname, owner) = (&f.name, &f.owner);
    let prim = match &f.kind {
        TyKind::Byte(p) | TyKind::Int(p) if matches!(p.name, "u8" | "u16" | "u32" | "u64") => *p,
        _ => {
            cx.error_at(
                m.span,
                format!(
                    "`magic` on field `{fname}` of `{owner}`, which is `{}`: a magic number is an unsigned integer field (`u8`, `u16`, `u32` or `u64`)",
                    ty::pretty(f.ty)
                ),
            );
            return;
        }
    };
    let bits = prim.size * 8;
    if bits < 64 && m.v >> bits != 0 {
        cx.error_at(
            m.span,
            format!(
                "magic {} of field `{fname}` of `{owner}` does not fit its type `{}` (at most {:#x})",
                m.text,
                prim.name,
                (1u64 << bits) - 1
            ),
        );
    }
    // A suffixed literal (`0x25609513u32`) must agree with the field's type.
    if let Some(pos) = m.text.find(['u', 'i']) {
        let suffix = &m.text[pos..];
        if suffix != prim.name {
            cx.error_at(
                m.span,
                format!(
                    "magic {} of field `{fname}` of `{owner}` is written as `{suffix}` but the field is `{}`\n\
                     = help: drop the suffix or make it `{}`",
                    m.text, prim.name, prim.name
                ),
            );
        }
    }
    let clash = [
        ("reserved", f.reserved()),
        ("versioned (`since`/`until`)", f.is_versioned()),
        ("given a `default`", f.attrs.default.is_some()),
        ("a length field", f.measures.is_some()),
    ];
    for (what, _) in clash.iter().filter(|(_, on)| *on) {
        cx.error_at(
            m.span,
            format!(
                "magic field `{fname}` of `{owner}` cannot also be {what}: its value on the wire is always the constant"
            ),
        );
    }
}

fn check_optional(cx: &Ctxt, f: &Field, after: &[Field]) {
    let (fname, owner) = (&f.name, &f.owner);
    let is_option = matches!(f.kind, TyKind::Optional(_));
    match (f.attrs.optional, is_option) {
        (None, true) if !f.attrs.had_errors => cx.error_spanned_by(
            f.ty,
            format!(
                "field `{fname}` of `{owner}` is an `Option`, which needs to say when it is on the wire\n\
                 = help: add `#[wire(optional)]`: written when `Some`, read when input is left (it must then be the last field)"
            ),
        ),
        (Some(sp), false) => cx.error_at(
            sp,
            format!(
                "`optional` on field `{fname}` of `{owner}`, which is `{}`: only an `Option<T>` field can be absent\n\
                 = help: write the field as `Option<{}>`",
                ty::pretty(f.ty),
                ty::pretty(f.ty)
            ),
        ),
        (Some(sp), true) => {
            if let Some(next) = after.iter().find(|g| g.attrs.optional.is_none()) {
                cx.error_at(
                    sp,
                    format!(
                        "optional field `{fname}` of `{owner}` is followed by `{}`, which is always present\n\
                         = help: an optional field is read when input is left, so only optional fields can follow it",
                        next.name
                    ),
                );
            }
            if f.is_versioned() || f.reserved() || f.attrs.rest.is_some() {
                cx.error_at(
                    sp,
                    format!(
                        "optional field `{fname}` of `{owner}` cannot also be versioned, reserved or `rest`: `Some`/`None` already says whether it is on the wire"
                    ),
                );
            }
        }
        _ => {}
    }
}

/// Enum rules of `handler_ctx`.
pub fn check_enum(cx: &Ctxt, c: &Container) {
    if let (Some(sp), Some(_)) = (c.attrs.handler_ctx, c.attrs.no_handler) {
        cx.error_at(
            sp,
            format!(
                "`{}` has both `handler_ctx` and `no_handler`: `handler_ctx` gives the handler trait a per-call context, but `no_handler` generates no trait",
                c.ident
            ),
        );
    }
}
