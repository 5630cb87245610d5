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
    pub member: Member,
    pub name: String,
    /// Local variable holding the decoded value.
    pub local: Ident,
    pub ty: &'a Type,
    pub kind: TyKind,
    pub attrs: FieldAttrs,
    pub order: Option<Order>,
    pub span: Span,
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

fn order_of(cx: &Ctxt, le: Option<Span>, be: Option<Span>) -> Option<Order> {
    match (le, be) {
        (Some(_), Some(b)) => {
            cx.error_at(
                b,
                "conflicting byte orders: `le` and `be` cannot both be given; keep one",
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
            let attrs = attr::field(cx, &f.attrs);
            let order = order_of(cx, attrs.le, attrs.be).or(default_order);
            let (member, name) = match &f.ident {
                Some(id) => (Member::Named(id.clone()), id.to_string()),
                None => (Member::Unnamed(syn::Index::from(i)), i.to_string()),
            };
            Field {
                index: i,
                member,
                local: format_ident!("__f{}", i),
                name,
                ty: &f.ty,
                kind: classify(&f.ty),
                attrs,
                order,
                span: f.span(),
                measures: None,
                bound_to: None,
            }
        })
        .collect();
    // Bind length/count fields to their payloads.
    for i in 0..out.len() {
        let target = out[i]
            .attrs
            .len
            .clone()
            .or_else(|| out[i].attrs.count.clone());
        if let Some(t) = target {
            match out.iter().position(|f| t.v == f.name) {
                Some(j) if j < i => {
                    if out[j].measures.is_some() {
                        cx.error_at(
                            t.span,
                            format!("field `{}` already measures another payload", t.v),
                        );
                    } else {
                        out[j].measures = Some(i);
                        out[i].bound_to = Some(j);
                    }
                }
                Some(_) => cx.error_at(
                    t.span,
                    format!(
                        "length field `{}` must come before the payload it measures",
                        t.v
                    ),
                ),
                None => cx.error_at(t.span, format!("no field named `{}` in this struct", t.v)),
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
        let attrs = attr::container(cx, &input.attrs, place);
        let order = order_of(cx, attrs.le, attrs.be);
        let versions = match (&attrs.version, &attrs.compat) {
            (Some(v), Some(c)) => Some((c.v, v.v)),
            (Some(v), None) => Some((v.v, v.v)),
            (None, Some(c)) => {
                cx.error_at(
                    c.span,
                    "`compat` needs `version` too: `#[wire(version = V, compat = C)]`",
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
                if let Some(tag) = &attrs.tag {
                    cx.error_at(tag.span, "`tag` applies to enums only");
                }
                Data::Struct(fields(cx, &s.fields, order).0)
            }
            SynData::Enum(e) => {
                let variants = e
                    .variants
                    .iter()
                    .map(|v| {
                        let va = attr::variant(cx, &v.attrs);
                        let (fs, style) = fields(cx, &v.fields, order);
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
                    "unions cannot derive `Wire`: use a `[u8; N]` field and decode the arm by tag, or an enum",
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
