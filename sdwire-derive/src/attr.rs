//! Phase 1: parse `#[wire(...)]` attributes into plain values with spans.
//! Unknown keys get a "did you mean" suggestion; keys valid elsewhere say
//! where they belong; a bad value is reported and skipped so the rest of the
//! attribute is still checked. Nothing here knows about code generation.

use crate::ctxt::Ctxt;
use proc_macro2::Span;
use quote::ToTokens;
use std::cell::Cell;
use syn::{parse::ParseStream, spanned::Spanned, Attribute, Expr, Ident, Lit, Path};

/// A value with the span of the token it came from and its source text (an
/// integer as the user wrote it, `0x0b` or `11`, so messages quote it back).
#[derive(Clone)]
pub struct Sp<T> {
    pub v: T,
    pub span: Span,
    pub text: String,
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
    /// `handler_ctx`: the handler trait takes a per-call context.
    pub handler_ctx: Option<Span>,
    /// An attribute of the container failed to parse: checks that depend on
    /// which attributes are present stay quiet to avoid cascades.
    pub had_errors: bool,
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
    /// `magic = N`: a constant written on encode and checked on decode.
    pub magic: Option<Sp<u64>>,
    /// `name = "..."`: the field's name in error paths and layout tables.
    pub name: Option<Sp<String>>,
    /// `optional`: an `Option<T>` tail, on the wire when `Some`.
    pub optional: Option<Span>,
    /// `payload_len`: the length field of a frame header.
    pub payload_len: Option<Span>,
    /// See [`ContainerAttrs::had_errors`].
    pub had_errors: bool,
}

#[derive(Default)]
pub struct VariantAttrs {
    pub opcode: Option<Sp<u64>>,
    pub since: Option<Sp<u64>>,
    pub until: Option<Sp<u64>>,
    pub other: Option<Span>,
    /// See [`ContainerAttrs::had_errors`].
    pub had_errors: bool,
}

const STRUCT_KEYS: &[&str] = &["le", "be", "size", "packed", "version", "compat", "crate"];
const ENUM_KEYS: &[&str] = &[
    "le",
    "be",
    "version",
    "compat",
    "crate",
    "tag",
    "range",
    "handler",
    "no_handler",
    "handler_ctx",
];
const FIELD_KEYS: &[&str] = &[
    "le",
    "be",
    "since",
    "until",
    "default",
    "ignorable",
    "reserved",
    "pad",
    "len",
    "count",
    "max",
    "rest",
    "magic",
    "name",
    "optional",
    "payload_len",
];
const VARIANT_KEYS: &[&str] = &["opcode", "since", "until", "other"];

#[derive(Clone, Copy, PartialEq)]
pub enum Place {
    Struct,
    Enum,
    Field,
    Variant,
}

impl Place {
    const ALL: [Place; 4] = [Place::Struct, Place::Enum, Place::Field, Place::Variant];

    fn keys(self) -> &'static [&'static str] {
        match self {
            Place::Struct => STRUCT_KEYS,
            Place::Enum => ENUM_KEYS,
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
    fn plural(self) -> &'static str {
        match self {
            Place::Struct => "structs",
            Place::Enum => "enums",
            Place::Field => "fields",
            Place::Variant => "enum variants",
        }
    }
}

/// Reports into the shared `Ctxt` and remembers whether anything failed.
struct Report<'a> {
    cx: &'a Ctxt,
    failed: Cell<bool>,
    /// What the attributes are on, for messages: "field `id` of `Header`".
    what: &'a str,
}

impl<'a> Report<'a> {
    fn new(cx: &'a Ctxt, what: &'a str) -> Self {
        Report {
            cx,
            failed: Cell::new(false),
            what,
        }
    }
    fn at(&self, span: Span, msg: impl std::fmt::Display) {
        self.failed.set(true);
        self.cx.error_at(span, msg);
    }
    fn spanned(&self, obj: impl ToTokens, msg: impl std::fmt::Display) {
        self.failed.set(true);
        self.cx.error_spanned_by(obj, msg);
    }
    fn syn(&self, e: syn::Error) {
        self.failed.set(true);
        self.cx.syn_error(e);
    }
}

/// "a, b and c"
fn and_list<S: AsRef<str>>(items: &[S]) -> String {
    let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
    match items.as_slice() {
        [] => String::new(),
        [one] => (*one).to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn unknown_key(r: &Report, place: Place, key: &str, span: Span) {
    let what = r.what;
    let elsewhere: Vec<&str> = Place::ALL
        .iter()
        .filter(|p| p.keys().contains(&key))
        .map(|p| p.plural())
        .collect();
    if !elsewhere.is_empty() {
        let hint = match (place, key) {
            (Place::Variant, "le" | "be") => {
                "\n= help: put the byte order on the enum or on the variant's fields"
            }
            (Place::Enum, "size" | "packed") => {
                "\n= help: an opcode table's size depends on the variant; declare `size` on the structs its variants carry"
            }
            (Place::Struct, "tag" | "range" | "handler" | "no_handler") => {
                "\n= help: a struct has no opcodes; derive `Wire` on an enum to make an opcode table"
            }
            (Place::Struct | Place::Enum, "since" | "until") => {
                "\n= help: a type declares its window of versions with `version = V, compat = C`"
            }
            _ => "",
        };
        r.at(
            span,
            format!(
                "`{key}` is not allowed on {what}; it applies to {}{hint}",
                and_list(&elsewhere)
            ),
        );
        return;
    }
    let valid = place.keys();
    let best = valid
        .iter()
        .map(|k| (strsim::jaro_winkler(key, k), *k))
        .filter(|(score, _)| *score > 0.75)
        .max_by(|a, b| a.0.total_cmp(&b.0));
    match best {
        Some((_, k)) => r.at(
            span,
            format!("unknown wire attribute `{key}` on {what}; did you mean `{k}`?"),
        ),
        None => r.at(
            span,
            format!(
                "unknown wire attribute `{key}` on {what}\n= help: {} takes {}",
                place.describe(),
                and_list(&valid.iter().map(|k| format!("`{k}`")).collect::<Vec<_>>())
            ),
        ),
    }
}

fn set<T>(r: &Report, slot: &mut Option<T>, v: T, key: &str, span: Span) {
    if slot.is_some() {
        r.at(
            span,
            format!(
                "duplicate wire attribute `{key}` on {}; give it once",
                r.what
            ),
        );
    } else {
        *slot = Some(v);
    }
}

/// Skips the rest of a malformed value, up to the next `,` of the attribute.
fn skip_rest(input: ParseStream) {
    while !input.is_empty() && !input.peek(syn::Token![,]) {
        if input.parse::<proc_macro2::TokenTree>().is_err() {
            break;
        }
    }
}

/// The `= <expr>` after `key`, or an error saying what the key takes.
fn value(
    r: &Report,
    meta: &syn::meta::ParseNestedMeta,
    key: &str,
    span: Span,
    takes: &str,
) -> Option<Expr> {
    if !meta.input.peek(syn::Token![=]) {
        r.at(
            span,
            format!("`{key}` on {} needs a value: `{key} = {takes}`", r.what),
        );
        skip_rest(meta.input);
        return None;
    }
    let parsed = meta.value().and_then(|v| v.parse::<Expr>());
    match parsed {
        Ok(e) => Some(e),
        Err(e) => {
            r.at(
                e.span(),
                format!("`{key}` on {} takes {takes}: {e}", r.what),
            );
            skip_rest(meta.input);
            None
        }
    }
}

fn describe_expr(e: &Expr) -> &'static str {
    match e {
        Expr::Lit(l) => match l.lit {
            Lit::Str(_) => "a string",
            Lit::Float(_) => "a float",
            Lit::Bool(_) => "a bool",
            Lit::Char(_) => "a char",
            _ => "a literal",
        },
        Expr::Path(_) => "a name",
        Expr::Unary(_) => "a negative number",
        _ => "an expression",
    }
}

/// An integer literal value of `key` (no sign, no suffix other than an integer type).
fn int(r: &Report, meta: &syn::meta::ParseNestedMeta, key: &str, span: Span) -> Option<Sp<u64>> {
    let e = value(r, meta, key, span, "<integer>")?;
    // A literal passed through a `macro_rules!` fragment (`$n:literal`/`$n:expr`)
    // arrives wrapped in an invisible group: look through it.
    let mut e = &e;
    while let Expr::Group(g) = e {
        e = &g.expr;
    }
    match e {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(l), ..
        }) => match l.base10_parse::<u64>() {
            Ok(v) => Some(Sp {
                v,
                span: l.span(),
                text: l.to_string(),
            }),
            Err(err) => {
                r.at(
                    l.span(),
                    format!(
                        "`{key}` on {} takes an integer that fits in u64: {err}",
                        r.what
                    ),
                );
                None
            }
        },
        Expr::Path(p) => {
            r.spanned(
                e,
                format!(
                    "`{key}` on {} takes an integer literal: the derive reads the number itself and cannot see the value of `{}`",
                    r.what,
                    p.path.to_token_stream().to_string().replace(' ', "")
                ),
            );
            None
        }
        other => {
            r.spanned(
                other,
                format!(
                    "`{key}` on {} takes a non-negative integer literal, like `{key} = 4`, not {}",
                    r.what,
                    describe_expr(other)
                ),
            );
            None
        }
    }
}

fn usize_value(
    r: &Report,
    meta: &syn::meta::ParseNestedMeta,
    key: &str,
    span: Span,
) -> Option<Sp<usize>> {
    let v = int(r, meta, key, span)?;
    match usize::try_from(v.v) {
        Ok(n) => Some(Sp {
            v: n,
            span: v.span,
            text: v.text,
        }),
        Err(_) => {
            r.at(
                v.span,
                format!(
                    "`{key} = {}` on {} is too large for this target's usize",
                    v.text, r.what
                ),
            );
            None
        }
    }
}

/// A bare identifier value (`tag = u8`, `len = field`).
fn ident(
    r: &Report,
    meta: &syn::meta::ParseNestedMeta,
    key: &str,
    span: Span,
    takes: &str,
) -> Option<Ident> {
    let e = value(r, meta, key, span, takes)?;
    if let Expr::Path(p) = &e {
        if p.qself.is_none() && p.attrs.is_empty() {
            if let Some(id) = p.path.get_ident() {
                return Some(id.clone());
            }
        }
    }
    let hint = match &e {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => {
            format!(": write `{key} = {}` without quotes", s.value())
        }
        _ => String::new(),
    };
    r.spanned(
        &e,
        format!(
            "`{key}` on {} takes {takes}, not {}{hint}",
            r.what,
            describe_expr(&e)
        ),
    );
    None
}

/// A flag takes no value.
fn flag(r: &Report, meta: &syn::meta::ParseNestedMeta, key: &str, span: Span) -> bool {
    if meta.input.peek(syn::Token![=]) || meta.input.peek(syn::token::Paren) {
        r.at(
            span,
            format!(
                "`{key}` on {} is a flag and takes no value: write `{key}` alone",
                r.what
            ),
        );
        skip_rest(meta.input);
        return false;
    }
    true
}

/// Iterates over the `#[wire(...)]` attributes, calling `f(key, span, meta)`.
fn each_meta(
    r: &Report,
    attrs: &[Attribute],
    mut f: impl FnMut(&str, Span, &syn::meta::ParseNestedMeta),
) {
    for attr in attrs.iter().filter(|a| a.path().is_ident("wire")) {
        if !matches!(attr.meta, syn::Meta::List(_)) {
            r.spanned(
                attr,
                format!(
                    "expected `#[wire(...)]` with a list of wire attributes on {}, like `#[wire(le)]`",
                    r.what
                ),
            );
            continue;
        }
        if let Err(e) = attr.parse_nested_meta(|meta| {
            // `crate` is a keyword, but parse_nested_meta gives it as an ident too.
            match meta.path.get_ident() {
                Some(i) => f(&i.to_string(), meta.path.span(), &meta),
                None => {
                    r.spanned(
                        &meta.path,
                        format!(
                            "expected a wire attribute name like `le` or `since` on {}, found the path `{}`",
                            r.what,
                            meta.path.to_token_stream().to_string().replace(' ', "")
                        ),
                    );
                    skip_value(&meta);
                }
            }
            Ok(())
        }) {
            r.syn(e);
        }
    }
}

/// The attributes of a struct or enum; `what` names it in messages
/// ("struct `Header`").
pub fn container(cx: &Ctxt, attrs: &[Attribute], place: Place, what: &str) -> ContainerAttrs {
    let r = Report::new(cx, what);
    let mut out = ContainerAttrs::default();
    each_meta(&r, attrs, |key, span, meta| {
        if !place.keys().contains(&key) {
            unknown_key(&r, place, key, span);
            skip_value(meta);
            return;
        }
        match key {
            "le" | "be" | "packed" | "no_handler" | "handler_ctx" => {
                if flag(&r, meta, key, span) {
                    let slot = match key {
                        "le" => &mut out.le,
                        "be" => &mut out.be,
                        "packed" => &mut out.packed,
                        "handler_ctx" => &mut out.handler_ctx,
                        _ => &mut out.no_handler,
                    };
                    set(&r, slot, span, key, span);
                }
            }
            "size" => {
                if let Some(v) = usize_value(&r, meta, key, span) {
                    set(&r, &mut out.size, v, key, span);
                }
            }
            "version" | "compat" => {
                if let Some(v) = int(&r, meta, key, span) {
                    let slot = if key == "version" {
                        &mut out.version
                    } else {
                        &mut out.compat
                    };
                    set(&r, slot, v, key, span);
                }
            }
            "crate" => {
                let takes = "the path of the sdwire crate as a string, like `crate = \"::sdwire\"`";
                let Some(e) = value(&r, meta, key, span, takes) else {
                    return;
                };
                let Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(s), ..
                }) = &e
                else {
                    r.spanned(
                        &e,
                        format!("`crate` on {what} takes {takes}, not {}", describe_expr(&e)),
                    );
                    return;
                };
                match s.parse::<Path>() {
                    Ok(p) => set(&r, &mut out.krate, p, key, span),
                    Err(_) => r.at(
                        s.span(),
                        format!(
                            "`crate = {:?}` on {what} is not a path: give the path sdwire is reachable at, like `crate = \"::sdwire\"` or `crate = \"my_crate::wire\"`",
                            s.value()
                        ),
                    ),
                }
            }
            "tag" => {
                let takes = "an unsigned integer type (`u8`, `u16`, `u32` or `u64`)";
                if let Some(id) = ident(&r, meta, key, span, takes) {
                    let sp = id.span();
                    let text = id.to_string();
                    set(
                        &r,
                        &mut out.tag,
                        Sp {
                            v: id,
                            span: sp,
                            text,
                        },
                        key,
                        span,
                    );
                }
            }
            "handler" => {
                if let Some(id) = ident(
                    &r,
                    meta,
                    key,
                    span,
                    "the name of the handler trait to generate",
                ) {
                    set(&r, &mut out.handler, id, key, span);
                }
            }
            "range" => {
                let takes = "a range of opcodes, like `0x80..=0xff`";
                let Some(e) = value(&r, meta, key, span, takes) else {
                    return;
                };
                let Expr::Range(rg) = &e else {
                    r.spanned(
                        &e,
                        format!("`range` on {what} takes {takes}, not {}", describe_expr(&e)),
                    );
                    return;
                };
                let (Some(lo), Some(hi)) = (&rg.start, &rg.end) else {
                    r.spanned(
                        &e,
                        format!(
                            "`range` on {what} takes a range with both ends, like `0x80..=0xff`"
                        ),
                    );
                    return;
                };
                let int_of = |x: &Expr| match x {
                    Expr::Lit(syn::ExprLit {
                        lit: Lit::Int(l), ..
                    }) => l.base10_parse::<u64>().ok(),
                    _ => None,
                };
                let (Some(lo_v), Some(hi_v)) = (int_of(lo), int_of(hi)) else {
                    r.spanned(
                        &e,
                        format!("the ends of `range` on {what} must be integer literals, like `0x80..=0xff`"),
                    );
                    return;
                };
                let text = e.to_token_stream().to_string().replace(' ', "");
                let hi_v = match rg.limits {
                    syn::RangeLimits::HalfOpen(_) if hi_v == 0 => None,
                    syn::RangeLimits::HalfOpen(_) => Some(hi_v - 1),
                    syn::RangeLimits::Closed(_) => Some(hi_v),
                };
                match hi_v {
                    Some(h) if lo_v <= h => set(
                        &r,
                        &mut out.range,
                        Sp {
                            v: (lo_v, h),
                            span,
                            text,
                        },
                        key,
                        span,
                    ),
                    _ => r.spanned(
                        &e,
                        format!("`range = {text}` on {what} is empty: no opcode can be in it"),
                    ),
                }
            }
            _ => unreachable!("every key of {} is handled", place.plural()),
        }
    });
    out.had_errors = r.failed.get();
    out
}

/// The attributes of a field; `what` names it ("field `id` of `Header`").
pub fn field(cx: &Ctxt, attrs: &[Attribute], what: &str) -> FieldAttrs {
    let r = Report::new(cx, what);
    let mut out = FieldAttrs::default();
    each_meta(&r, attrs, |key, span, meta| {
        if !FIELD_KEYS.contains(&key) {
            unknown_key(&r, Place::Field, key, span);
            skip_value(meta);
            return;
        }
        match key {
            "le" | "be" | "ignorable" | "reserved" | "rest" | "optional" | "payload_len" => {
                if flag(&r, meta, key, span) {
                    let slot = match key {
                        "le" => &mut out.le,
                        "be" => &mut out.be,
                        "ignorable" => &mut out.ignorable,
                        "reserved" => &mut out.reserved,
                        "optional" => &mut out.optional,
                        "payload_len" => &mut out.payload_len,
                        _ => &mut out.rest,
                    };
                    set(&r, slot, span, key, span);
                }
            }
            "since" | "until" | "max" | "magic" => {
                if let Some(v) = int(&r, meta, key, span) {
                    let slot = match key {
                        "since" => &mut out.since,
                        "until" => &mut out.until,
                        "magic" => &mut out.magic,
                        _ => &mut out.max,
                    };
                    set(&r, slot, v, key, span);
                }
            }
            "pad" => {
                if let Some(v) = usize_value(&r, meta, key, span) {
                    set(&r, &mut out.pad, v, key, span);
                }
            }
            "default" => {
                let e = if meta.input.peek(syn::Token![=]) {
                    match value(&r, meta, key, span, "<expression>") {
                        Some(e) => Some(e),
                        None => return,
                    }
                } else if meta.input.peek(syn::token::Paren) {
                    r.at(
                        span,
                        format!(
                            "`default` on {} takes `default` alone or `default = <expression>`",
                            r.what
                        ),
                    );
                    skip_rest(meta.input);
                    return;
                } else {
                    None
                };
                let text = e
                    .as_ref()
                    .map(|e| e.to_token_stream().to_string())
                    .unwrap_or_default();
                set(&r, &mut out.default, Sp { v: e, span, text }, key, span);
            }
            "name" => {
                let takes = "the field's name for error messages and layout tables, as a string, like `name = \"cookie\"`";
                let Some(e) = value(&r, meta, key, span, takes) else {
                    return;
                };
                match &e {
                    Expr::Lit(syn::ExprLit {
                        lit: Lit::Str(s), ..
                    }) if !s.value().trim().is_empty() => set(
                        &r,
                        &mut out.name,
                        Sp {
                            v: s.value(),
                            span: s.span(),
                            text: s.value(),
                        },
                        key,
                        span,
                    ),
                    _ => r.spanned(
                        &e,
                        format!(
                            "`name` on {} takes {takes}, not {}",
                            r.what,
                            describe_expr(&e)
                        ),
                    ),
                }
            }
            "len" | "count" => {
                if let Some(id) = ident(&r, meta, key, span, "the name of an earlier integer field")
                {
                    let sp = id.span();
                    let text = id.to_string();
                    let slot = if key == "len" {
                        &mut out.len
                    } else {
                        &mut out.count
                    };
                    set(
                        &r,
                        slot,
                        Sp {
                            v: id,
                            span: sp,
                            text,
                        },
                        key,
                        span,
                    );
                }
            }
            _ => unreachable!("every field key is handled"),
        }
    });
    out.had_errors = r.failed.get();
    out
}

/// The attributes of an enum variant; `what` names it ("variant `Op::Read`").
pub fn variant(cx: &Ctxt, attrs: &[Attribute], what: &str) -> VariantAttrs {
    let r = Report::new(cx, what);
    let mut out = VariantAttrs::default();
    each_meta(&r, attrs, |key, span, meta| {
        if !VARIANT_KEYS.contains(&key) {
            unknown_key(&r, Place::Variant, key, span);
            skip_value(meta);
            return;
        }
        match key {
            "other" => {
                if flag(&r, meta, key, span) {
                    set(&r, &mut out.other, span, key, span);
                }
            }
            _ => {
                if let Some(v) = int(&r, meta, key, span) {
                    let slot = match key {
                        "opcode" => &mut out.opcode,
                        "since" => &mut out.since,
                        _ => &mut out.until,
                    };
                    set(&r, slot, v, key, span);
                }
            }
        }
    });
    out.had_errors = r.failed.get();
    out
}

/// Consumes the value after an unknown key so parsing can go on and report
/// further errors in the same attribute.
fn skip_value(meta: &syn::meta::ParseNestedMeta) {
    if meta.input.peek(syn::Token![=]) {
        skip_rest(meta.input);
    } else if meta.input.peek(syn::token::Paren) {
        let _ = meta.input.parse::<proc_macro2::TokenTree>();
    }
}

/// First line of the doc comment.
pub fn doc_line(attrs: &[Attribute]) -> String {
    for a in attrs {
        if a.path().is_ident("doc") {
            if let syn::Meta::NameValue(nv) = &a.meta {
                if let Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(s), ..
                }) = &nv.value
                {
                    return s.value().trim().to_string();
                }
            }
        }
    }
    String::new()
}
