//! Code for one field at a time, used by struct bodies (buffer path) and by
//! enum variants: decode, encode, size, and layout-table entries.

use crate::ast::{Field, Order};
use crate::ty::TyKind;
use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned, ToTokens};
use syn::{spanned::Spanned, Type};

use super::ver;

pub fn order_suffix(f: &Field) -> &'static str {
    match f.order {
        Some(Order::Be) => "be",
        _ => "le",
    }
}

fn helper(k: &TokenStream, base: &str, f: &Field) -> TokenStream {
    let id = quote::format_ident!("{}_{}", base, order_suffix(f));
    quote!(#k::__private::#id)
}

/// `tokens` with every span set to `span`.
fn respan(tokens: &TokenStream, span: Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut tt| {
            if let TokenTree::Group(g) = &tt {
                let mut ng = proc_macro2::Group::new(g.delimiter(), respan(&g.stream(), span));
                ng.set_span(span);
                tt = TokenTree::Group(ng);
            } else {
                tt.set_span(span);
            }
            tt
        })
        .collect()
}

/// `<T as Wire>`, spanned at `T`: every use of a field's type as `Wire`
/// then carries the same span, so a type that does not implement `Wire` is
/// reported once, at the field, instead of once per use in generated code.
pub fn wire_of(k: &TokenStream, ty: &Type) -> TokenStream {
    let span = ty.span();
    let k = respan(k, span);
    quote_spanned!(span=> <#ty as #k::Wire>)
}

/// `path::to::helper::<T, _>` of `__private`, spanned at `T` (see [`wire_of`]).
pub fn private_fn_of(k: &TokenStream, name: &str, ty: &Type) -> TokenStream {
    let span = ty.span();
    let k = respan(k, span);
    let id = syn::Ident::new(name, span);
    quote_spanned!(span=> #k::__private::#id::<#ty, _>)
}

/// `Option<usize>` const expression: the field's fixed size.
pub fn size_tokens(k: &TokenStream, f: &Field) -> TokenStream {
    let ty = f.ty;
    match &f.kind {
        TyKind::Byte(p) | TyKind::Int(p) => {
            let n = p.size;
            quote!(::core::option::Option::Some(#n))
        }
        TyKind::IntArray { elem, len, .. } => {
            let n = elem.size;
            quote!(::core::option::Option::Some(#n * (#len)))
        }
        TyKind::Nested { .. } => {
            let w = wire_of(k, ty);
            quote!(#w::FIXED_SIZE)
        }
        _ => quote!(::core::option::Option::None),
    }
}

/// `usize` const expression: the field's natural alignment.
pub fn align_tokens(k: &TokenStream, f: &Field) -> TokenStream {
    let ty = f.ty;
    match &f.kind {
        TyKind::Byte(p) | TyKind::Int(p) | TyKind::IntArray { elem: p, .. } => {
            let n = p.size;
            quote!(#n)
        }
        TyKind::Nested { .. } => {
            let w = wire_of(k, ty);
            quote!(#w::ALIGN)
        }
        TyKind::Vec(t) => {
            let w = wire_of(k, t);
            quote!(#w::ALIGN)
        }
        _ => quote!(1usize),
    }
}

/// Size of a fixed-size field as a `usize` expression (reserved fields).
/// Evaluated at compile time (an inline `const`, so also in generic code): a
/// reserved field of a variable-size type is a compile error, not a panic
/// at run time.
fn fixed_size_expr(k: &TokenStream, f: &Field) -> TokenStream {
    let s = size_tokens(k, f);
    let msg = format!(
        "reserved field `{}` of `{}` is `{}`, which has no fixed size: a reserved field is written as zeros, so its type needs a fixed size",
        f.name,
        f.owner,
        crate::ty::pretty(f.ty)
    );
    quote_spanned! {f.name_span=>
        const {
            match #s {
                ::core::option::Option::Some(__n) => __n,
                ::core::option::Option::None => ::core::panic!(#msg),
            }
        }
    }
}

/// The `magic = N` constant of a field as a literal of the field's type.
pub fn magic_lit(f: &Field) -> Option<TokenStream> {
    let m = f.attrs.magic.as_ref()?;
    let prim = match &f.kind {
        TyKind::Byte(p) | TyKind::Int(p) => p.name,
        _ => return None,
    };
    // Spanned at the macro call, not at the user's literal: lints that read
    // the source text under a literal's span would see the user's spelling.
    let lit = syn::LitInt::new(&format!("{}{prim}", m.v), Span::call_site());
    Some(quote!(#lit))
}

/// Runtime condition "this field exists at version `__v`".
pub fn present_cond(since: Option<u64>, until: Option<u64>) -> Option<TokenStream> {
    match (since.map(ver), until.map(ver)) {
        // A range, not `__v >= s && __v < u`, which clippy's
        // `manual_range_contains` flags in the user's crate.
        (Some(s), Some(u)) => Some(quote!((#s..#u).contains(&__v))),
        (Some(s), None) => Some(quote!(__v >= #s)),
        (None, Some(u)) => Some(quote!(__v < #u)),
        (None, None) => None,
    }
}

/// The field's default value. A user expression is checked against the
/// field's type in the same `let` everywhere it is used, so rustc reports a
/// wrong-typed default once.
pub fn default_expr(f: &Field) -> TokenStream {
    let ty = f.ty;
    match f.attrs.default.as_ref().and_then(|d| d.v.as_ref()) {
        Some(e) => quote!({
            let __d: #ty = #e;
            __d
        }),
        // Spanned at the type, so a type without `Default` is reported there.
        None => quote_spanned!(ty.span()=> <#ty as ::core::default::Default>::default()),
    }
}

/// Decode statement for the buffer path: `let __fN: Ty = ...;`.
pub fn decode_stmt(k: &TokenStream, ty_name: &str, f: &Field, all: &[Field]) -> TokenStream {
    let ty = f.ty;
    let local = &f.local;
    let name = &f.path_name;
    let pad = f.pad();
    let pad_stmt = if pad > 0 {
        quote!(#k::__private::skip(__buf, #pad).map_err(|__e| __e.in_field(#ty_name, #name, __start - __buf.remaining(), __v))?;)
    } else {
        quote!()
    };
    let expr = if f.reserved() {
        let sz = fixed_size_expr(k, f);
        let d = default_expr(f);
        quote!(#k::__private::skip(__buf, #sz).map(|()| #d))
    } else if let Some(m) = magic_lit(f) {
        let read = match &f.kind {
            TyKind::Int(_) => {
                let h = helper(k, "dec", f);
                quote!(#h::<#ty, _>(__buf))
            }
            _ => quote!(<#ty as #k::Wire>::decode(__buf, __v)),
        };
        quote!(#read.and_then(|__x| #k::__private::check_magic(__x, #m)))
    } else {
        match &f.kind {
            TyKind::Optional(t) => {
                let w = wire_of(k, t);
                quote! {
                    if #k::bytes::Buf::has_remaining(__buf) {
                        #w::decode(__buf, __v).map(::core::option::Option::Some)
                    } else {
                        ::core::result::Result::Ok(::core::option::Option::None)
                    }
                }
            }
            TyKind::Byte(_) | TyKind::Nested { .. } => {
                let w = wire_of(k, ty);
                quote!(#w::decode(__buf, __v))
            }
            TyKind::Int(_) => {
                let h = helper(k, "dec", f);
                quote!(#h::<#ty, _>(__buf))
            }
            TyKind::IntArray { boxed, .. } => {
                let h = helper(k, if *boxed { "dec_box_array" } else { "dec_array" }, f);
                quote!(#h(__buf))
            }
            TyKind::Bytes | TyKind::VecU8 | TyKind::Vec(_) => {
                let take = match &f.kind {
                    TyKind::Bytes => quote!(#k::__private::take_bytes(__buf, __n)),
                    TyKind::VecU8 => quote!(#k::__private::take_vec(__buf, __n)),
                    TyKind::Vec(t) => {
                        let h = private_fn_of(k, "dec_vec", t);
                        quote!(#h(__buf, __n, __v))
                    }
                    _ => unreachable!(),
                };
                match f.bound_to {
                    Some(j) => {
                        let lf = &all[j].local;
                        let max = f.attrs.max.as_ref().map_or(u64::MAX, |m| m.v);
                        quote!(#k::__private::checked_len(#k::WireInt::to_u64(#lf), #max).and_then(|__n| #take))
                    }
                    None => match &f.kind {
                        TyKind::Vec(t) => {
                            let h = private_fn_of(k, "dec_vec_rest", t);
                            quote!(#h(__buf, __v))
                        }
                        _ => quote!({ let __n = #k::bytes::Buf::remaining(__buf); #take }),
                    },
                }
            }
            TyKind::Unsupported(_) => quote!(::core::unreachable!()),
        }
    };
    let body = quote! {
        {
            let __before = #k::bytes::Buf::remaining(__buf);
            #expr.map_err(|__e| __e.in_field(#ty_name, #name, __start - __before, __v))?
        }
    };
    match present_cond(f.since(), f.until()) {
        Some(cond) => {
            let d = default_expr(f);
            quote!(let #local: #ty = if #cond { #pad_stmt #body } else { #d };)
        }
        None => quote!(#pad_stmt let #local: #ty = #body;),
    }
}

/// Encode statement for the buffer path. `acc` is a place expression of the value.
pub fn encode_stmt(
    k: &TokenStream,
    ty_name: &str,
    f: &Field,
    all: &[Field],
    acc: &dyn Fn(&Field) -> TokenStream,
    off: TokenStream,
) -> TokenStream {
    let ty = f.ty;
    let name = &f.path_name;
    let a = acc(f);
    let pad = f.pad();
    let pad_stmt = if pad > 0 {
        quote!(#k::__private::enc_zeros(__buf, #pad).map_err(|__e| __e.in_field(#ty_name, #name, #off, __v))?;)
    } else {
        quote!()
    };
    let expr = if f.reserved() {
        let sz = fixed_size_expr(k, f);
        quote!(#k::__private::enc_zeros(__buf, #sz))
    } else if let Some(m) = magic_lit(f) {
        match &f.kind {
            TyKind::Int(_) => {
                let h = helper(k, "enc", f);
                quote!(#h::<#ty, _>(__buf, #m))
            }
            _ => quote!(<#ty as #k::Wire>::encode(&#m, __buf, __v)),
        }
    } else if let Some(j) = f.measures {
        let p = acc(&all[j]);
        let max = all[j].attrs.max.as_ref().map_or(u64::MAX, |m| m.v);
        let put = match &f.kind {
            TyKind::Byte(_) => quote!(<#ty as #k::Wire>::encode(&__l, __buf, __v)),
            _ => {
                let h = helper(k, "enc", f);
                quote!(#h::<#ty, _>(__buf, __l))
            }
        };
        quote!(#k::__private::len_to_field::<#ty>(#p.len(), #max).and_then(|__l| #put))
    } else {
        match &f.kind {
            TyKind::Byte(_) | TyKind::Nested { .. } => {
                let w = wire_of(k, ty);
                quote!(#w::encode(&#a, __buf, __v))
            }
            TyKind::Int(_) => {
                let h = helper(k, "enc", f);
                quote!(#h::<#ty, _>(__buf, #a))
            }
            TyKind::IntArray { .. } => {
                let h = helper(k, "enc_slice", f);
                quote!(#h(__buf, &#a[..]))
            }
            TyKind::Bytes | TyKind::VecU8 => quote!(#k::__private::enc_bytes(__buf, &#a[..])),
            TyKind::Optional(t) => {
                let w = wire_of(k, t);
                quote! {
                    match &#a {
                        ::core::option::Option::Some(__x) => #w::encode(__x, __buf, __v),
                        ::core::option::Option::None => ::core::result::Result::Ok(()),
                    }
                }
            }
            TyKind::Vec(t) => {
                let h = private_fn_of(k, "enc_vec", t);
                quote!(#h(__buf, &#a[..], __v))
            }
            TyKind::Unsupported(_) => quote!(::core::unreachable!()),
        }
    };
    let stmt = quote! {
        #pad_stmt
        #expr.map_err(|__e| __e.in_field(#ty_name, #name, #off, __v))?;
    };
    match present_cond(f.since(), f.until()) {
        Some(cond) => {
            let check = if f.attrs.ignorable.is_some() {
                quote!()
            } else {
                let d = default_expr(f);
                quote! {
                    else {
                        let __d: #ty = #d;
                        if #a != __d {
                            return ::core::result::Result::Err(#k::__private::field_dropped(#ty_name, #name, __v));
                        }
                    }
                }
            };
            quote!(if #cond { #stmt } #check)
        }
        None => stmt,
    }
}

/// `usize` expression: encoded size of the field at `__v`.
pub fn size_expr(k: &TokenStream, f: &Field, acc: &dyn Fn(&Field) -> TokenStream) -> TokenStream {
    let a = acc(f);
    let pad = f.pad();
    let ty = f.ty;
    let sz = if f.reserved() {
        fixed_size_expr(k, f)
    } else {
        match &f.kind {
            TyKind::Byte(p) | TyKind::Int(p) => {
                let n = p.size;
                quote!(#n)
            }
            TyKind::IntArray { elem, len, .. } => {
                let n = elem.size;
                quote!((#n * (#len)))
            }
            TyKind::Bytes | TyKind::VecU8 => quote!(#a.len()),
            TyKind::Optional(t) => {
                let w = wire_of(k, t);
                quote!(match &#a {
                    ::core::option::Option::Some(__x) => #w::wire_size(__x, __v),
                    ::core::option::Option::None => 0usize,
                })
            }
            TyKind::Vec(t) => {
                let w = wire_of(k, t);
                quote!(::core::iter::Iterator::sum::<usize>(::core::iter::Iterator::map(
                    #a.iter(),
                    |__x| #w::wire_size(__x, __v),
                )))
            }
            TyKind::Nested { .. } => {
                let w = wire_of(k, ty);
                quote!(#w::wire_size(&#a, __v))
            }
            TyKind::Unsupported(_) => quote!(0usize),
        }
    };
    match present_cond(f.since(), f.until()) {
        Some(cond) => quote!((if #cond { #pad + #sz } else { 0usize })),
        None => quote!((#pad + #sz)),
    }
}

/// A `FieldLayout` literal.
pub fn layout_entry(
    k: &TokenStream,
    f: &Field,
    all: &[Field],
    offset: TokenStream,
    size: TokenStream,
) -> TokenStream {
    let name = &f.wire_name;
    let ty = f.ty.to_token_stream().to_string();
    let order = match (&f.kind, f.order) {
        (TyKind::Int(p) | TyKind::IntArray { elem: p, .. }, Some(Order::Le)) if p.size > 1 => {
            quote!(#k::Order::Le)
        }
        (TyKind::Int(p) | TyKind::IntArray { elem: p, .. }, Some(Order::Be)) if p.size > 1 => {
            quote!(#k::Order::Be)
        }
        _ => quote!(#k::Order::None),
    };
    let opt_ver = |v: Option<u64>| match v {
        Some(v) => {
            let v = ver(v);
            quote!(::core::option::Option::Some(#v))
        }
        None => quote!(::core::option::Option::None),
    };
    let since = opt_ver(f.since());
    let until = opt_ver(f.until());
    let reserved = f.reserved();
    let default = match &f.attrs.default {
        Some(d) => {
            let s = d.v.as_ref().map_or_else(
                || "Default::default()".to_string(),
                |e| e.to_token_stream().to_string(),
            );
            quote!(::core::option::Option::Some(#s))
        }
        None => quote!(::core::option::Option::None),
    };
    let measures = match f.measures {
        Some(j) => {
            let n = &all[j].wire_name;
            quote!(::core::option::Option::Some(#n))
        }
        None => quote!(::core::option::Option::None),
    };
    quote! {
        #k::FieldLayout {
            name: #name, ty: #ty, offset: #offset, size: #size, order: #order,
            since: #since, until: #until, reserved: #reserved, default: #default, measures: #measures,
        }
    }
}
