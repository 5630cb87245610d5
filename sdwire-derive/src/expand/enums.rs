//! Tagged enums: opcode tables. Generates `Wire` (tag then body), `OpTable`
//! (O(1) tag -> variant `match`, names, metadata, body codecs) and a handler
//! trait with one method per opcode, plus `dispatch`.

use super::fields;
use super::ver;
use crate::ast::{Container, Field, Style, Variant};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Ident, LitInt};

fn snake(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &ch) in chars.iter().enumerate() {
        if ch.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|c| c.is_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) {
                out.push('_');
            }
            out.extend(ch.to_lowercase());
        } else {
            out.push(ch);
        }
    }
    out
}

fn method_ident(name: &str) -> Ident {
    let s = snake(name);
    const KW: &[&str] = &[
        "as", "break", "const", "continue", "crate", "else", "enum", "extern", "false", "fn",
        "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub", "ref",
        "return", "self", "static", "struct", "super", "trait", "true", "type", "unsafe", "use",
        "where", "while", "async", "await", "dyn", "abstract", "become", "box", "do", "final",
        "macro", "override", "priv", "typeof", "unsized", "virtual", "yield", "try", "gen",
    ];
    if KW.contains(&s.as_str()) {
        if matches!(s.as_str(), "self" | "super" | "crate") {
            return format_ident!("{}_", s);
        }
        return Ident::new_raw(&s, Span::call_site());
    }
    Ident::new(&s, Span::call_site())
}

/// `ObjReq` -> `obj_req` for a tuple variant's handler parameter (`obj_req0`.. when several).
fn param_name(ty: &syn::Type, nfields: usize, index: usize) -> Option<Ident> {
    let syn::Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?.ident.to_string();
    let base = snake(&last);
    let name = if nfields == 1 {
        base
    } else {
        format!("{base}{index}")
    };
    let id = method_ident(&name);
    Some(id)
}

fn bindings(v: &Variant) -> Vec<Ident> {
    v.fields
        .iter()
        .map(|f| format_ident!("__b{}", f.index))
        .collect()
}

fn pattern(v: &Variant, binds: &[Ident]) -> TokenStream {
    let vi = v.ident;
    match v.style {
        Style::Unit => quote!(Self::#vi),
        Style::Tuple => quote!(Self::#vi(#(#binds),*)),
        Style::Named => {
            let ms = v.fields.iter().map(|f| &f.member);
            quote!(Self::#vi { #(#ms: #binds),* })
        }
    }
}

fn construct(v: &Variant) -> TokenStream {
    let vi = v.ident;
    let locals: Vec<&Ident> = v.fields.iter().map(|f| &f.local).collect();
    match v.style {
        Style::Unit => quote!(Self::#vi),
        Style::Tuple => quote!(Self::#vi(#(#locals),*)),
        Style::Named => {
            let ms = v.fields.iter().map(|f| &f.member);
            quote!(Self::#vi { #(#ms: #locals),* })
        }
    }
}

pub fn expand(c: &Container, variants: &[Variant]) -> TokenStream {
    let k = &c.krate;
    let ident = c.ident;
    let ty_name = ident.to_string();
    let (ig, tg, wc) = c.input.generics.split_for_impl();
    let tag_ty = &c.attrs.tag.as_ref().expect("checked").v;
    let tag_str = tag_ty.to_string();
    let tag_size: usize = match tag_str.as_str() {
        "u8" => 1,
        "u16" => 2,
        "u32" => 4,
        _ => 8,
    };
    let sfx = match c.order {
        Some(crate::ast::Order::Be) => "be",
        _ => "le",
    };
    let (read_tag, write_tag) = if tag_size == 1 {
        (
            quote!(<u8 as #k::Wire>::decode(__buf, __v)?),
            quote!(<u8 as #k::Wire>::encode(&__tag, __buf, __v)?;),
        )
    } else {
        let d = format_ident!("dec_{}", sfx);
        let e = format_ident!("enc_{}", sfx);
        (
            quote!(#k::__private::#d::<#tag_ty, _>(__buf)?),
            quote!(#k::__private::#e::<#tag_ty, _>(__buf, __tag)?;),
        )
    };

    let lit = |v: u64| LitInt::new(&format!("{v}{tag_str}"), Span::call_site());
    let other = variants.iter().find(|v| v.attrs.other.is_some());
    let ops: Vec<&Variant> = variants
        .iter()
        .filter(|v| v.attrs.other.is_none())
        .collect();

    // OPS table.
    let op_entries = ops.iter().map(|v| {
        let name = v.ident.to_string();
        let code = v.attrs.opcode.as_ref().unwrap().v;
        let opt = |x: Option<u64>| match x {
            Some(x) => {
                let x = ver(x);
                quote!(::core::option::Option::Some(#x))
            }
            None => quote!(::core::option::Option::None),
        };
        let since = opt(v.attrs.since.as_ref().map(|s| s.v));
        let until = opt(v.attrs.until.as_ref().map(|s| s.v));
        let payload = match v.fields.len() {
            0 => quote!(::core::option::Option::None),
            _ => {
                let tys: Vec<String> = v.fields.iter().map(|f| quote::ToTokens::to_token_stream(f.ty).to_string()).collect();
                let s = tys.join(", ");
                quote!(::core::option::Option::Some(#s))
            }
        };
        let doc = &v.doc;
        quote!(#k::OpInfo { name: #name, opcode: #code as u64, since: #since, until: #until, payload: #payload, doc: #doc })
    });

    let present = |v: &Variant| {
        fields::present_cond(
            v.attrs.since.as_ref().map(|s| s.v),
            v.attrs.until.as_ref().map(|s| s.v),
        )
    };

    // decode_body arms.
    let unknown = match other {
        Some(o) => {
            let oi = o.ident;
            quote!(::core::result::Result::Ok(Self::#oi(__tag)))
        }
        None => {
            quote!(::core::result::Result::Err(#k::__private::unknown_tag(#ty_name, #k::WireInt::to_u64(__tag), __v)))
        }
    };
    let dec_arms = ops.iter().map(|v| {
        let code = lit(v.attrs.opcode.as_ref().unwrap().v);
        let stmts = v
            .fields
            .iter()
            .map(|f| fields::decode_stmt(k, &ty_name, f, &v.fields));
        let cons = construct(v);
        let guard = present(v).map(|p| quote!(if #p));
        quote! {
            #code #guard => {
                let __start = #k::bytes::Buf::remaining(__buf);
                let _ = __start;
                #(#stmts)*
                ::core::result::Result::Ok(#cons)
            }
        }
    });

    // encode_body / body_size / tag / name arms.
    let mut enc_arms = Vec::new();
    let mut size_arms = Vec::new();
    let mut tag_arms = Vec::new();
    let mut name_arms = Vec::new();
    let mut info_arms = Vec::new();
    let mut known_arms = Vec::new();
    for (i, v) in ops.iter().enumerate() {
        let binds = bindings(v);
        let pat = pattern(v, &binds);
        let acc = |f: &Field| {
            let b = format_ident!("__b{}", f.index);
            quote!((*#b))
        };
        let sizes: Vec<TokenStream> = v
            .fields
            .iter()
            .map(|f| fields::size_expr(k, f, &acc))
            .collect();
        // Byte offset of each field inside the body; evaluated only on the error path.
        let stmts = v.fields.iter().enumerate().map(|(j, f)| {
            let prev = &sizes[..j];
            fields::encode_stmt(k, &ty_name, f, &v.fields, &acc, quote!(0usize #(+ #prev)*))
        });
        let avail = match present(v) {
            Some(p) => quote! {
                if !(#p) { return ::core::result::Result::Err(#k::__private::variant_unavailable(#ty_name, __v)); }
            },
            None => quote!(),
        };
        enc_arms.push(quote! {
            #pat => { #avail #(#stmts)* ::core::result::Result::Ok(()) }
        });
        size_arms.push(quote!(#pat => 0usize #(+ #sizes)*));
        let code = lit(v.attrs.opcode.as_ref().unwrap().v);
        let vi = v.ident;
        let name = vi.to_string();
        let wild = match v.style {
            Style::Unit => quote!(Self::#vi),
            Style::Tuple => quote!(Self::#vi(..)),
            Style::Named => quote!(Self::#vi { .. }),
        };
        tag_arms.push(quote!(#wild => #code));
        name_arms.push(quote!(#wild => #name));
        info_arms
            .push(quote!(#code => ::core::option::Option::Some(&<Self as #k::OpTable>::OPS[#i])));
        let cond = present(v).unwrap_or(quote!(true));
        known_arms.push(quote!(#code => #cond));
    }
    if let Some(o) = other {
        let oi = o.ident;
        enc_arms.push(quote!(Self::#oi(_) => ::core::result::Result::Ok(())));
        size_arms.push(quote!(Self::#oi(_) => 0usize));
        tag_arms.push(quote!(Self::#oi(__t) => *__t));
        let name = oi.to_string();
        name_arms.push(quote!(Self::#oi(_) => #name));
    }

    let all_unit = variants
        .iter()
        .all(|v| v.fields.is_empty() || v.attrs.other.is_some());
    let fixed = if all_unit {
        quote!(::core::option::Option::Some(#tag_size))
    } else {
        quote!(::core::option::Option::None)
    };
    let versions = match c.versions {
        Some((cm, cur)) => {
            let (cm, cur) = (ver(cm), ver(cur));
            quote!(::core::option::Option::Some((#cm, #cur)))
        }
        None => quote!(::core::option::Option::None),
    };
    let doc = &c.doc;
    let vis = &c.input.vis;

    // Handler trait.
    let handler = if c.attrs.no_handler.is_some() || !c.input.generics.params.is_empty() {
        quote!()
    } else {
        let hname = c
            .attrs
            .handler
            .clone()
            .unwrap_or_else(|| format_ident!("{}Handler", ident));
        let with_ctx = c.attrs.handler_ctx.is_some();
        let mut methods = Vec::new();
        let mut arms = Vec::new();
        for v in variants {
            let m = if v.attrs.other.is_some() {
                method_ident("unknown_op")
            } else {
                method_ident(&v.ident.to_string())
            };
            let binds = bindings(v);
            let params = v.fields.iter().zip(&binds).map(|(f, b)| {
                let ty = f.ty;
                let pname = match &f.member {
                    syn::Member::Named(n) => n.clone(),
                    // Tuple fields are named after their type (`ObjReq` -> `obj_req`),
                    // so the generated trait documents itself.
                    syn::Member::Unnamed(_) => f
                        .attrs
                        .name
                        .as_ref()
                        .and_then(|n| syn::parse_str::<Ident>(&n.v).ok())
                        .or_else(|| param_name(f.ty, v.fields.len(), f.index))
                        .unwrap_or_else(|| b.clone()),
                };
                quote!(#pname: #ty)
            });
            let doc = if v.attrs.other.is_some() {
                format!(
                    "Called for a tag that names no operation (the `{}` catch-all).",
                    v.ident
                )
            } else if v.doc.is_empty() {
                format!("Handles `{}`.", v.ident)
            } else {
                v.doc.clone()
            };
            let ctx_param = if with_ctx {
                quote!(ctx: Ctx,)
            } else {
                quote!()
            };
            let ctx_arg = if with_ctx { quote!(__ctx,) } else { quote!() };
            methods.push(quote! {
                #[doc = #doc]
                fn #m(&self, #ctx_param #(#params),*) -> impl ::core::future::Future<Output = Self::Output> + ::core::marker::Send;
            });
            let pat = pattern(v, &binds);
            arms.push(quote!(#pat => __h.#m(#ctx_arg #(#binds),*).await));
        }
        if with_ctx {
            let tdoc = format!(
                "One method per operation of [`{ident}`], each given the caller's per-call context `Ctx` (a connection, a session, a negotiated state); a server implements it, and [`{ident}::dispatch_with`] calls the right one."
            );
            quote! {
                #[doc = #tdoc]
                #vis trait #hname<Ctx> {
                    /// What every operation produces (typically a response).
                    type Output;
                    #(#methods)*
                }

                #[automatically_derived]
                impl #ident {
                    /// Calls the handler method for this operation, passing it `ctx`.
                    pub async fn dispatch_with<__Ctx, __H: #hname<__Ctx> + ?::core::marker::Sized>(self, __h: &__H, __ctx: __Ctx) -> __H::Output {
                        match self { #(#arms,)* }
                    }
                }
            }
        } else {
            let tdoc = format!(
                "One method per operation of [`{ident}`]; a server implements it, and [`{ident}::dispatch`] calls the right one."
            );
            quote! {
                #[doc = #tdoc]
                #vis trait #hname {
                    /// What every operation produces (typically a response).
                    type Output;
                    #(#methods)*
                }

                #[automatically_derived]
                impl #ident {
                    /// Calls the handler method for this operation.
                    pub async fn dispatch<__H: #hname + ?::core::marker::Sized>(self, __h: &__H) -> __H::Output {
                        match self { #(#arms,)* }
                    }
                }
            }
        }
    };

    let tag_expr_match = if tag_arms.is_empty() {
        quote!(match *self {})
    } else {
        quote!(match self { #(#tag_arms,)* })
    };

    // A versioned opcode table refuses versions outside its window, like a versioned struct.
    let (vcheck_dec, vcheck_enc) = match c.versions {
        Some((cm, cur)) => {
            let (cm, cur) = (ver(cm), ver(cur));
            (
                quote!(#k::__private::check_decode_version(#ty_name, __v, #cm, #cur)?;),
                quote!(#k::__private::check_encode_version(#ty_name, __v, #cm, #cur)?;),
            )
        }
        None => (quote!(), quote!()),
    };

    let unversioned = crate::marker::unversioned_impl(c);

    quote! {
        #unversioned

        #[automatically_derived]
        #[allow(unreachable_patterns, unused_comparisons, clippy::identity_op)]
        impl #ig #k::OpTable for #ident #tg #wc {
            type Tag = #tag_ty;
            const OPS: &'static [#k::OpInfo] = &[#(#op_entries),*];
            #[inline]
            fn tag(&self) -> #tag_ty { #tag_expr_match }
            fn op_name(&self) -> &'static str { match self { #(#name_arms,)* } }
            #[inline]
            fn op_info(__tag: #tag_ty) -> ::core::option::Option<&'static #k::OpInfo> {
                match __tag { #(#info_arms,)* _ => ::core::option::Option::None }
            }
            #[inline]
            fn is_known(__tag: #tag_ty, __v: #k::Version) -> bool {
                let _ = __v;
                match __tag { #(#known_arms,)* _ => false }
            }
            #[inline]
            fn decode_body<__B: #k::bytes::Buf + ?::core::marker::Sized>(__tag: #tag_ty, __buf: &mut __B, __v: #k::Version)
                -> ::core::result::Result<Self, #k::DecodeError>
            {
                #vcheck_dec
                match __tag {
                    #(#dec_arms)*
                    _ => #unknown,
                }
            }
            #[inline]
            fn encode_body<__B: #k::bytes::BufMut + ?::core::marker::Sized>(&self, __buf: &mut __B, __v: #k::Version)
                -> ::core::result::Result<(), #k::EncodeError>
            {
                let _ = (&__buf, __v);
                #vcheck_enc
                match self { #(#enc_arms,)* }
            }
            #[inline]
            fn body_size(&self, __v: #k::Version) -> usize {
                let _ = __v;
                match self { #(#size_arms,)* }
            }
        }

        #[automatically_derived]
        impl #ig #k::Wire for #ident #tg #wc {
            const FIXED_SIZE: ::core::option::Option<usize> = #fixed;
            const ALIGN: usize = #tag_size;
            const LAYOUT: &'static #k::Layout = &#k::Layout {
                name: #ty_name,
                kind: #k::LayoutKind::Enum,
                size: #fixed,
                align: #tag_size,
                order: #k::Order::None,
                versions: #versions,
                fields: &[],
                ops: <Self as #k::OpTable>::OPS,
                tag_size: #tag_size,
                doc: #doc,
            };
            #[inline]
            fn wire_size(&self, __v: #k::Version) -> usize {
                #tag_size + <Self as #k::OpTable>::body_size(self, __v)
            }
            #[inline]
            fn encode<__B: #k::bytes::BufMut + ?::core::marker::Sized>(&self, __buf: &mut __B, __v: #k::Version)
                -> ::core::result::Result<(), #k::EncodeError>
            {
                let __tag = <Self as #k::OpTable>::tag(self);
                #write_tag
                <Self as #k::OpTable>::encode_body(self, __buf, __v)
            }
            #[inline]
            fn decode<__B: #k::bytes::Buf + ?::core::marker::Sized>(__buf: &mut __B, __v: #k::Version)
                -> ::core::result::Result<Self, #k::DecodeError>
            {
                let __tag: #tag_ty = #read_tag;
                // Body offsets count from the start of the value, tag included.
                <Self as #k::OpTable>::decode_body(__tag, __buf, __v).map_err(|__e| __e.shifted(#tag_size))
            }
        }

        #handler
    }
}
