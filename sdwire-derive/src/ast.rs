//! Phase 2: the typed IR. Built from `syn` plus the parsed attributes; code
//! generation works only from this.

use crate::attr::{self, ContainerAttrs, FieldAttrs, Place, VariantAttrs};
use crate::ctxt::Ctxt;
use crate::ty::{classify, TyKind};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{spanned::Spanned, Data as SynData, DeriveInput, Fields, Ident, Member, Type};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Order {
    Le,
    Be,
}

pub struct Container<'a> {
    pub input: &'a DeriveInput,
    pub ident: &'a Ident,
    pub attrs: ContainerAttrs,
    pub order: Option<Order>,
    /// (compat, current) when the type is versioned.
    pub versions: Option<(u64, u64)>,
    pub krate: TokenStream,
    pub doc: String,
    pub data: Data<'a>,
}

pub enum Data<'a> {
    Struct(Vec<Field<'a>>),
    Enum(Vec<Variant<'a>>),
}

pub struct Field<'a> {
    pub index: usize,
    /// What the field belongs to, for messages: `Header` or `Op::Read`.
    pub owner: String,
    /// Span of the field's name (its type for tuple fields): where layout
    /// errors point.
    pub name_span: Span,
    pub member: Member,
    /// The Rust name: the identifier, or the index of a tuple field.
    pub name: String,
    /// Name in layout tables: `name`, or `#[wire(name = "...")]`.
    pub wire_name: String,
    /// Name in error paths: as `wire_name`, but a tuple field without
    /// `#[wire(name)]` reads `0 (u32)`, not a bare index.
    pub path_name: String,
    /// Local variable holding the decoded value.
    pub local: Ident,
    pub ty: &'a Type,
    pub kind: TyKind,
    pub attrs: FieldAttrs,
    pub order: Option<Order>,
    /// Index of the payload this length/count field measures.
    pub measures: Option<usize>,
    /// Index of the length/count field bound to this payload.
    pub bound_to: Option<usize>,
}

impl Field<'_> {
    pub fn since(&self) -> Option<u64> {
        self.attrs.since.as_ref().map(|s| s.v)
    }
    pub fn until(&self) -> Option<u64> {
        self.attrs.until.as_ref().map(|s| s.v)
    }
    pub fn is_versioned(&self) -> bool {
        self.attrs.since.is_some() || self.attrs.until.is_some()
    }
    pub fn pad(&self) -> usize {
        self.attrs.pad.as_ref().map_or(0, |p| p.v)
    }
    pub fn reserved(&self) -> bool {
        self.attrs.reserved.is_some()
    }
}

pub struct Variant<'a> {
    pub ident: &'a Ident,
    pub attrs: VariantAttrs,
    pub fields: Vec<Field<'a>>,
    pub style: Style,
    pub doc: String,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Named,
    Tuple,
    Unit,
}

fn order_of(cx: &Ctxt, le: Option<Span>, be: Option<Span>, what: &str) -> Option<Order> {
    match (le, be) {
        (Some(_), Some(b)) => {
            cx.error_at(
                b,
                format!("conflicting byte orders on {what}: `le` and `be` cannot both be given; keep one"),
            );
            Some(Order::Le)
        }
        (Some(_), None) => Some(Order::Le),
        (None, Some(_)) => Some(Order::Be),
        (None, None) => None,
    }
}

fn fields<'a>(
    cx: &Ctxt,
    fields: &'a Fields,
    default_order: Option<Order>,
    owner: &str,
    variant: Option<&Ident>,
) -> (Vec<Field<'a>>, Style) {
    let style = match fields {
        Fields::Named(_) => Style::Named,
        Fields::Unnamed(_) => Style::Tuple,
        Fields::Unit => Style::Unit,
    };
    let mut out: Vec<Field<'a>> = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let (member, name) = match &f.ident {
                Some(id) => (Member::Named(id.clone()), id.to_string()),
                None => (Member::Unnamed(syn::Index::from(i)), i.to_string()),
            };
            let what = format!("field `{name}` of `{owner}`");
            let attrs = attr::field(cx, &f.attrs, &what);
            let (wire_name, path_name) = match (&attrs.name, &f.ident) {
                (Some(n), _) => (n.v.clone(), n.v.clone()),
                (None, Some(_)) => (name.clone(), name.clone()),
                (None, None) => (
                    name.clone(),
                    format!("{name} ({})", crate::ty::pretty(&f.ty)),
                ),
            };
            // A variant's fields name the variant too: `Op.Read.offset`.
            let path_name = match variant {
                Some(v) => format!("{v}.{path_name}"),
                None => path_name,
            };
            let order = order_of(cx, attrs.le, attrs.be, &what).or(default_order);
            Field {
                index: i,
                owner: owner.to_string(),
                name_span: f.ident.as_ref().map_or_else(|| f.ty.span(), Ident::span),
                member,
                local: format_ident!("__f{}", i),
                name,
                wire_name,
                path_name,
                ty: &f.ty,
                kind: classify(&f.ty),
                attrs,
                order,
                measures: None,
                bound_to: None,
            }
        })
        .collect();
    // Bind length/count fields to their payloads.
    for i in 0..out.len() {
        let (key, target) = match (&out[i].attrs.len, &out[i].attrs.count) {
            (Some(l), _) => ("len", l.clone()),
            (None, Some(c)) => ("count", c.clone()),
            (None, None) => continue,
        };
        let payload = out[i].name.clone();
        match out.iter().position(|f| target.v == f.name) {
            Some(j) if j == i => cx.error_at(
                target.span,
                format!(
                    "field `{payload}` of `{owner}` cannot hold its own length: `{key}` names the integer field before it that does"
                ),
            ),
            Some(j) if j < i => {
                if let Some(other) = out[j].measures {
                    cx.error_at(
                        target.span,
                        format!(
                            "field `{}` of `{owner}` already measures `{}`: each payload needs its own length field",
                            target.v, out[other].name
                        ),
                    );
                } else {
                    out[j].measures = Some(i);
                    out[i].bound_to = Some(j);
                }
            }
            Some(_) => cx.error_at(
                target.span,
                format!(
                    "length field `{}` of `{owner}` comes after `{payload}`, the payload it measures: it must come before, since it is decoded first",
                    target.v
                ),
            ),
            None => {
                let names: Vec<&str> = out.iter().take(i).map(|f| f.name.as_str()).collect();
                let target_name = target.v.to_string();
                let close = names
                    .iter()
                    .map(|n| (strsim::jaro_winkler(&target_name, n), *n))
                    .filter(|(score, _)| *score > 0.7)
                    .max_by(|a, b| a.0.total_cmp(&b.0));
                let hint = match close {
                    Some((_, n)) => format!("; did you mean `{n}`?"),
                    None => String::new(),
                };
                cx.error_at(
                    target.span,
                    format!(
                        "`{key} = {target_name}` on field `{payload}` of `{owner}`: `{owner}` has no field named `{target_name}`{hint}"
                    ),
                );
            }
        }
    }
    (out, style)
}

impl<'a> Container<'a> {
    pub fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Option<Container<'a>> {
        let place = match input.data {
            SynData::Enum(_) => Place::Enum,
            _ => Place::Struct,
        };
        let kind = match input.data {
            SynData::Enum(_) => "enum",
            SynData::Struct(_) => "struct",
            SynData::Union(_) => "union",
        };
        let what = format!("{kind} `{}`", input.ident);
        let attrs = attr::container(cx, &input.attrs, place, &what);
        let order = order_of(cx, attrs.le, attrs.be, &what);
        let versions = match (&attrs.version, &attrs.compat) {
            (Some(v), Some(c)) => Some((c.v, v.v)),
            (Some(v), None) => Some((v.v, v.v)),
            (None, Some(c)) => {
                cx.error_at(
                    c.span,
                    format!(
                        "`{}` has `compat = {}` but no `version`: a versioned type gives both, `#[wire(version = V, compat = C)]`",
                        input.ident, c.text
                    ),
                );
                None
            }
            (None, None) => None,
        };
        let krate = match &attrs.krate {
            Some(p) => quote!(#p),
            None => quote!(::sdwire),
        };
        let data = match &input.data {
            SynData::Struct(s) => {
                Data::Struct(fields(cx, &s.fields, order, &input.ident.to_string(), None).0)
            }
            SynData::Enum(e) => {
                let variants = e
                    .variants
                    .iter()
                    .map(|v| {
                        let owner = format!("{}::{}", input.ident, v.ident);
                        let va = attr::variant(cx, &v.attrs, &format!("variant `{owner}`"));
                        let (fs, style) = fields(cx, &v.fields, order, &owner, Some(&v.ident));
                        Variant {
                            ident: &v.ident,
                            attrs: va,
                            fields: fs,
                            style,
                            doc: attr::doc_line(&v.attrs),
                        }
                    })
                    .collect();
                Data::Enum(variants)
            }
            SynData::Union(u) => {
                cx.error_spanned_by(
                    u.union_token,
                    format!(
                        "union `{}` cannot derive `Wire`: a union has no tag to say which arm is on the wire; use an enum with `#[wire(tag = ...)]`, or a `[u8; N]` field decoded by the caller",
                        input.ident
                    ),
                );
                return None;
            }
        };
        Some(Container {
            input,
            ident: &input.ident,
            attrs,
            order,
            versions,
            krate,
            doc: attr::doc_line(&input.attrs),
            data,
        })
    }
}
