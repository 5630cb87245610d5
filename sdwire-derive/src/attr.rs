//! Phase 1: parse `#[wire(...)]` attributes into plain values with spans.
//! Unknown keys get a "did you mean" suggestion; keys valid elsewhere say
//! where they belong. Nothing here knows about code generation.

use crate::ctxt::Ctxt;
use proc_macro2::Span;
use syn::{spanned::Spanned, Attribute, Expr, Ident, LitInt, Path};

/// A value with the span of the token it came from.
#[derive(Clone)]
pub struct Sp<T> {
    pub v: T,
    pub span: Span,
}

#[derive(Default)]
pub struct ContainerAttrs {
    pub le: Option<Span>,
    pub be: Option<Span>,
    pub size: Option<Sp<usize>>,
    pub packed: Option<Span>,
    pub version: Option<Sp<u64>>,
    pub compat: Option<Sp<u64>>,
    pub krate: Option<Path>,
    pub tag: Option<Sp<Ident>>,
    pub range: Option<Sp<(u64, u64)>>,
    pub handler: Option<Ident>,
    pub no_handler: Option<Span>,
}

#[derive(Default)]
pub struct FieldAttrs {
    pub le: Option<Span>,
    pub be: Option<Span>,
    pub since: Option<Sp<u64>>,
    pub until: Option<Sp<u64>>,
    /// `default` (None inside = `Default::default()`) or `default = expr`.
    pub default: Option<Sp<Option<Expr>>>,
    pub ignorable: Option<Span>,
    pub reserved: Option<Span>,
    pub pad: Option<Sp<usize>>,
    pub len: Option<Sp<Ident>>,
    pub count: Option<Sp<Ident>>,
    pub max: Option<Sp<u64>>,
    pub rest: Option<Span>,
}

#[derive(Default)]
pub struct VariantAttrs {
    pub opcode: Option<Sp<u64>>,
    pub since: Option<Sp<u64>>,
    pub until: Option<Sp<u64>>,
    pub other: Option<Span>,
}

const CONTAINER_KEYS: &[&str] =
    &["le", "be", "size", "packed", "version", "compat", "crate", "tag", "range", "handler", "no_handler"];
const FIELD_KEYS: &[&str] =
    &["le", "be", "since", "until", "default", "ignorable", "reserved", "pad", "len", "count", "max", "rest"];
const VARIANT_KEYS: &[&str] = &["opcode", "since", "until", "other"];

#[derive(Clone, Copy, PartialEq)]
pub enum Place {
    Struct,
    Enum,
    Field,
    Variant,
}

impl Place {
    fn keys(self) -> &'static [&'static str] {
        match self {
            Place::Struct | Place::Enum => CONTAINER_KEYS,
            Place::Field => FIELD_KEYS,
            Place::Variant => VARIANT_KEYS,
        }
    }
    fn describe(self) -> &'static str {
        match self {
            Place::Struct => "a struct",
            Place::Enum => "an enum",
            Place::Field => "a field",
            Place::Variant => "an enum variant",
        }
    }
}

fn unknown_key(cx: &Ctxt, place: Place, key: &str, span: Span) {
    let valid = place.keys();
    let elsewhere: Vec<&str> = [Place::Struct, Place::Field, Place::Variant]
        .iter()
        .filter(|p| p.keys().contains(&key))
        .map(|p| match p {
            Place::Struct => "structs and enums",
            Place::Field => "fields",
            _ => "enum variants",
        })
        .collect();
    if !elsewhere.is_empty() {
        cx.error_at(
            span,
            format!(
                "`{key}` is not allowed on {}; it applies to {}",
                place.describe(),
                elsewhere.join(" and ")
            ),
        );
        return;
    }
    let best = valid
        .iter()
        .map(|k| (strsim::jaro_winkler(key, k), *k))
        .filter(|(score, _)| *score > 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, k)) => cx.error_at(span, format!("unknown wire attribute `{key}`; did you mean `{k}`?")),
        None => cx.error_at(
            span,
            format!("unknown wire attribute `{key}`; expected one of: {}", valid.join(", ")),
        ),
    }
}

fn set<T>(cx: &Ctxt, slot: &mut Option<T>, v: T, key: &str, span: Span) {
    if slot.is_some() {
        cx.error_at(span, format!("duplicate wire attribute `{key}`"));
    } else {
        *slot = Some(v);
    }
}

fn int_value(meta: &syn::meta::ParseNestedMeta) -> syn::Result<Sp<u64>> {
    let lit: LitInt = meta.value()?.parse()?;
    Ok(Sp { v: lit.base10_parse::<u64>()?, span: lit.span() })
}

fn int_of_expr(e: &Expr) -> syn::Result<u64> {
    match e {
        Expr::Lit(syn::ExprLit { lit: syn::Lit::Int(l), .. }) => l.base10_parse(),
        other => Err(syn::Error::new_spanned(other, "expected an integer literal")),
    }
}

/// Iterates over the `#[wire(...)]` attributes, calling `f(key, meta)`.
fn each_meta(
    cx: &Ctxt,
    attrs: &[Attribute],
    mut f: impl FnMut(&str, Span, &syn::meta::ParseNestedMeta) -> syn::Result<()>,
) {
    for attr in attrs.iter().filter(|a| a.path().is_ident("wire")) {
        if let Err(e) = attr.parse_nested_meta(|meta| {
            let key = match meta.path.get_ident() {
                Some(i) => i.to_string(),
                None => {
                    return Err(meta.error("expected a wire attribute name"));
                }
            };
            // `crate` is a keyword: parse_nested_meta gives it as a path ident too.
            f(&key, meta.path.span(), &meta)
        }) {
            cx.syn_error(e);
        }
    }
}

pub fn container(cx: &Ctxt, attrs: &[Attribute], place: Place) -> ContainerAttrs {
    let mut out = ContainerAttrs::default();
    each_meta(cx, attrs, |key, span, meta| {
        match key {
            "le" => set(cx, &mut out.le, span, key, span),
            "be" => set(cx, &mut out.be, span, key, span),
            "packed" => set(cx, &mut out.packed, span, key, span),
            "no_handler" => set(cx, &mut out.no_handler, span, key, span),
            "size" => {
                let v = int_value(meta)?;
                let n = usize::try_from(v.v).map_err(|_| syn::Error::new(v.span, "size too large"))?;
                set(cx, &mut out.size, Sp { v: n, span: v.span }, key, span);
            }
            "version" => {
                let v = int_value(meta)?;
                set(cx, &mut out.version, v, key, span);
            }
            "compat" => {
                let v = int_value(meta)?;
                set(cx, &mut out.compat, v, key, span);
            }
            "crate" => {
                let s: syn::LitStr = meta.value()?.parse()?;
                let p: Path = s.parse()?;
                set(cx, &mut out.krate, p, key, span);
            }
            "tag" => {
                let id: Ident = meta.value()?.parse()?;
                let sp = id.span();
                set(cx, &mut out.tag, Sp { v: id, span: sp }, key, span);
            }
            "handler" => {
                let id: Ident = meta.value()?.parse()?;
                set(cx, &mut out.handler, id, key, span);
            }
            "range" => {
                let e: Expr = meta.value()?.parse()?;
                match &e {
                    Expr::Range(r) => {
                        let (Some(lo), Some(hi)) = (&r.start, &r.end) else {
                            return Err(syn::Error::new_spanned(&e, "expected a closed range like `0x80..=0xff`"));
                        };
                        let lo = int_of_expr(lo)?;
                        let mut hi = int_of_expr(hi)?;
                        if matches!(r.limits, syn::RangeLimits::HalfOpen(_)) {
                            hi = hi.saturating_sub(1);
                        }
                        set(cx, &mut out.range, Sp { v: (lo, hi), span: e.span() }, key, span);
                    }
                    _ => return Err(syn::Error::new_spanned(&e, "expected a range like `0x80..=0xff`")),
                }
            }
            _ => {
                unknown_key(cx, place, key, span);
                skip_value(meta);
            }
        }
        Ok(())
    });
    out
}

pub fn field(cx: &Ctxt, attrs: &[Attribute]) -> FieldAttrs {
    let mut out = FieldAttrs::default();
    each_meta(cx, attrs, |key, span, meta| {
        match key {
            "le" => set(cx, &mut out.le, span, key, span),
            "be" => set(cx, &mut out.be, span, key, span),
            "ignorable" => set(cx, &mut out.ignorable, span, key, span),
            "reserved" => set(cx, &mut out.reserved, span, key, span),
            "rest" => set(cx, &mut out.rest, span, key, span),
            "since" => {
                let v = int_value(meta)?;
                set(cx, &mut out.since, v, key, span);
            }
            "until" => {
                let v = int_value(meta)?;
                set(cx, &mut out.until, v, key, span);
            }
            "max" => {
                let v = int_value(meta)?;
                set(cx, &mut out.max, v, key, span);
            }
            "pad" => {
                let v = int_value(meta)?;
                let n = usize::try_from(v.v).map_err(|_| syn::Error::new(v.span, "pad too large"))?;
                set(cx, &mut out.pad, Sp { v: n, span: v.span }, key, span);
            }
            "default" => {
                let e = if meta.input.peek(syn::Token![=]) {
                    Some(meta.value()?.parse::<Expr>()?)
                } else {
                    None
                };
                set(cx, &mut out.default, Sp { v: e, span }, key, span);
            }
            "len" | "count" => {
                let id: Ident = meta.value()?.parse()?;
                let sp = id.span();
                let slot = if key == "len" { &mut out.len } else { &mut out.count };
                set(cx, slot, Sp { v: id, span: sp }, key, span);
            }
            _ => {
                unknown_key(cx, Place::Field, key, span);
                skip_value(meta);
            }
        }
        Ok(())
    });
    out
}

pub fn variant(cx: &Ctxt, attrs: &[Attribute]) -> VariantAttrs {
    let mut out = VariantAttrs::default();
    each_meta(cx, attrs, |key, span, meta| {
        match key {
            "other" => set(cx, &mut out.other, span, key, span),
            "opcode" => {
                let v = int_value(meta)?;
                set(cx, &mut out.opcode, v, key, span);
            }
            "since" => {
                let v = int_value(meta)?;
                set(cx, &mut out.since, v, key, span);
            }
            "until" => {
                let v = int_value(meta)?;
                set(cx, &mut out.until, v, key, span);
            }
            _ => {
                unknown_key(cx, Place::Variant, key, span);
                skip_value(meta);
            }
        }
        Ok(())
    });
    out
}

/// Consumes `= value` after an unknown key so parsing can go on and report
/// further errors in the same attribute.
fn skip_value(meta: &syn::meta::ParseNestedMeta) {
    if meta.input.peek(syn::Token![=]) {
        if let Ok(v) = meta.value() {
            let _ = v.parse::<Expr>();
        }
    } else if meta.input.peek(syn::token::Paren) {
        let _ = meta.parse_nested_meta(|m| {
            skip_value(&m);
            Ok(())
        });
    }
}

/// First line of the doc comment.
pub fn doc_line(attrs: &[Attribute]) -> String {
    for a in attrs {
        if a.path().is_ident("doc") {
            if let syn::Meta::NameValue(nv) = &a.meta {
                if let Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) = &nv.value {
                    return s.value().trim().to_string();
                }
            }
        }
    }
    String::new()
}
