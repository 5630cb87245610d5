//! Structs: a fixed-offset fast path when the size is fixed (reads with
//! `from_le_bytes` at constant offsets, like hand-written code), and a
//! sequential buffer path for versioned or variable-size structs.

use super::fields::{self, align_tokens, default_expr, size_tokens};
use crate::ast::{Container, Field};
use crate::layout;
use crate::ty::TyKind;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};

use super::ver;

fn versions_tokens(c: &Container) -> TokenStream {
    match c.versions {
        Some((cm, cur)) => {
            let (cm, cur) = (ver(cm), ver(cur));
            quote!(::core::option::Option::Some((#cm, #cur)))
        }
        None => quote!(::core::option::Option::None),
    }
}

fn fixed_read(k: &TokenStream, ty_name: &str, f: &Field, i: usize) -> TokenStream {
    let ty = f.ty;
    let name = &f.name;
    if f.reserved() {
        return default_expr(f);
    }
    let o = quote!(__O[#i]);
    let s = quote!(__S[#i]);
    let sfx = fields::order_suffix(f);
    match &f.kind {
        TyKind::Byte(p) => match p.name {
            "u8" => quote!(__c[#o]),
            "i8" => quote!(__c[#o] as i8),
            _ => {
                quote!(#k::__private::decode_bool(__c[#o]).map_err(|__e| __e.in_field(#ty_name, #name, #o, __v))?)
            }
        },
        TyKind::Int(_) => {
            let h = quote::format_ident!("read_{}", sfx);
            quote!(#k::__private::#h::<#ty>(__c, #o))
        }
        TyKind::IntArray { boxed, .. } => {
            let h = quote::format_ident!(
                "{}_{}",
                if *boxed {
                    "read_box_array"
                } else {
                    "read_array"
                },
                sfx
            );
            quote!(#k::__private::#h(&__c[#o..#o + #s]))
        }
        _ => quote! {
            <#ty as #k::Wire>::__decode_fixed(&__c[#o..#o + #s], __v)
                .map_err(|__e| __e.in_field(#ty_name, #name, #o, __v))?
        },
    }
}

fn fixed_write(k: &TokenStream, ty_name: &str, f: &Field, i: usize) -> TokenStream {
    let m = &f.member;
    let name = &f.name;
    let o = quote!(__O[#i]);
    let s = quote!(__S[#i]);
    let pad = f.pad();
    let pad_fill = if pad > 0 {
        quote!(__c[#o - #pad..#o].fill(0);)
    } else {
        quote!()
    };
    let sfx = fields::order_suffix(f);
    let w = if f.reserved() {
        quote!(__c[#o..#o + #s].fill(0);)
    } else {
        match &f.kind {
            TyKind::Byte(p) => match p.name {
                "u8" => quote!(__c[#o] = self.#m;),
                "i8" => quote!(__c[#o] = self.#m as u8;),
                _ => quote!(__c[#o] = <u8 as ::core::convert::From<bool>>::from(self.#m);),
            },
            TyKind::Int(_) => {
                let h = quote::format_ident!("write_{}", sfx);
                quote!(#k::__private::#h(__c, #o, self.#m);)
            }
            TyKind::IntArray { .. } => {
                let h = quote::format_ident!("write_slice_{}", sfx);
                quote!(#k::__private::#h(&mut __c[#o..#o + #s], &self.#m[..]);)
            }
            _ => quote! {
                #k::Wire::__encode_fixed(&self.#m, &mut __c[#o..#o + #s], __v)
                    .map_err(|__e| __e.in_field(#ty_name, #name, #o, __v))?;
            },
        }
    };
    quote!(#pad_fill #w)
}

pub fn expand(c: &Container, fields: &[Field]) -> TokenStream {
    let k = &c.krate;
    let ident = c.ident;
    let ty_name = ident.to_string();
    let (ig, tg, wc) = c.input.generics.split_for_impl();
    let generic = !c.input.generics.params.is_empty();
    let packed = c.attrs.packed.is_some();
    let n = fields.len();

    let sizes: Vec<TokenStream> = fields.iter().map(|f| size_tokens(k, f)).collect();
    let aligns: Vec<TokenStream> = fields.iter().map(|f| align_tokens(k, f)).collect();
    let pads: Vec<usize> = fields.iter().map(|f| f.pad()).collect();
    let present: Vec<bool> = fields
        .iter()
        .map(|f| layout::present_at_current(f, c.versions))
        .collect();
    let has_payload = fields
        .iter()
        .any(|f| matches!(f.kind, TyKind::Bytes | TyKind::VecU8 | TyKind::Vec(_)));
    let versioned_fields = fields.iter().any(|f| f.is_versioned());
    let fixed_capable = !has_payload && !versioned_fields && !generic;
    let st = layout::compute(fields, c.versions, packed);
    let statically_fixed = fixed_capable && st.size.is_some();

    let construct = |locals: &dyn Fn(&Field) -> TokenStream| -> TokenStream {
        match fields
            .first()
            .map(|f| matches!(f.member, syn::Member::Named(_)))
        {
            Some(true) => {
                let inits = fields.iter().map(|f| {
                    let m = &f.member;
                    let l = locals(f);
                    quote!(#m: #l)
                });
                quote!(#ident { #(#inits),* })
            }
            Some(false) => {
                let inits = fields.iter().map(locals);
                quote!(#ident ( #(#inits),* ))
            }
            None => match &c.input.data {
                syn::Data::Struct(s) if matches!(s.fields, syn::Fields::Unnamed(_)) => {
                    quote!(#ident())
                }
                syn::Data::Struct(s) if matches!(s.fields, syn::Fields::Named(_)) => {
                    quote!(#ident {})
                }
                _ => quote!(#ident),
            },
        }
    };

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

    let fixed_size = if has_payload || versioned_fields {
        quote!(::core::option::Option::None)
    } else {
        quote!(Self::__SDWIRE_OFFSETS.1)
    };
    let align = if packed {
        quote!(1usize)
    } else {
        quote!(#k::__private::max_align([#(#aligns),*]))
    };

    // Layout table.
    let entries = fields.iter().enumerate().map(|(i, f)| {
        fields::layout_entry(
            k,
            f,
            fields,
            quote!(Self::__SDWIRE_OFFSETS.0[#i]),
            quote!(Self::__SDWIRE_FIELD_SIZES[#i]),
        )
    });
    let order = match c.order {
        Some(crate::ast::Order::Le) => quote!(#k::Order::Le),
        Some(crate::ast::Order::Be) => quote!(#k::Order::Be),
        None => quote!(#k::Order::None),
    };
    let versions = versions_tokens(c);
    let doc = &c.doc;

    // Buffer path.
    let acc_self = |f: &Field| {
        let m = &f.member;
        quote!(self.#m)
    };
    let dec_stmts = fields
        .iter()
        .map(|f| fields::decode_stmt(k, &ty_name, f, fields));
    let enc_stmts = fields.iter().enumerate().map(|(i, f)| {
        let off = quote!(Self::__SDWIRE_OFFSETS.0[#i].unwrap_or(0));
        fields::encode_stmt(k, &ty_name, f, fields, &acc_self, off)
    });
    let size_terms: Vec<TokenStream> = fields
        .iter()
        .map(|f| fields::size_expr(k, f, &acc_self))
        .collect();
    let construct_locals = construct(&|f: &Field| {
        let l = &f.local;
        quote!(#l)
    });
    let slow_decode = quote! {
        let __start = #k::bytes::Buf::remaining(__buf);
        #(#dec_stmts)*
        ::core::result::Result::Ok(#construct_locals)
    };
    let slow_encode = quote! {
        #(#enc_stmts)*
        ::core::result::Result::Ok(())
    };
    let sum = quote!(0usize #(+ #size_terms)*);

    let names: Vec<&String> = fields.iter().map(|f| &f.name).collect();
    let n_const = quote!(#k::__private::size_or(#ident::__SDWIRE_OFFSETS.1, 0));

    let (decode_body, encode_body, size_body, fixed_fns) = if fixed_capable {
        let fast_decode = quote! {
            let __c = #k::bytes::Buf::chunk(__buf);
            if __c.len() >= __N {
                let __r = <Self as #k::Wire>::__decode_fixed(&__c[..__N], __v)?;
                #k::bytes::Buf::advance(__buf, __N);
                return ::core::result::Result::Ok(__r);
            }
            let __have = #k::bytes::Buf::remaining(__buf);
            if __have < __N {
                const __O: [usize; #n] = #k::__private::unwrap_all(#ident::__SDWIRE_OFFSETS.0);
                const __S: [usize; #n] = #k::__private::unwrap_all(#ident::__SDWIRE_FIELD_SIZES);
                return ::core::result::Result::Err(#k::__private::truncated_fields(
                    #ty_name, &[#(#names),*], &__O, &__S, __N, __have, __v));
            }
            const __SMALL: usize = #k::__private::stack_len(#n_const);
            if __SMALL != 0 {
                let mut __t = [0u8; __SMALL];
                #k::bytes::Buf::copy_to_slice(__buf, &mut __t);
                return <Self as #k::Wire>::__decode_fixed(&__t, __v);
            }
            let __t = #k::bytes::Buf::copy_to_bytes(__buf, __N);
            return <Self as #k::Wire>::__decode_fixed(&__t, __v);
        };
        let fast_encode = quote! {
            #k::__private::ensure_room(__buf, __N).map_err(|__e| __e.in_type(#ty_name, __v))?;
            const __SMALL: usize = #k::__private::stack_len(#n_const);
            if __SMALL != 0 {
                let mut __t = [0u8; __SMALL];
                <Self as #k::Wire>::__encode_fixed(self, &mut __t, __v)?;
                #k::bytes::BufMut::put_slice(__buf, &__t);
                return ::core::result::Result::Ok(());
            }
            let mut __t = ::std::vec![0u8; __N];
            <Self as #k::Wire>::__encode_fixed(self, &mut __t, __v)?;
            #k::bytes::BufMut::put_slice(__buf, &__t);
            return ::core::result::Result::Ok(());
        };
        let (dec, enc, size) = if statically_fixed {
            (
                quote! { const __N: usize = #n_const; #fast_decode },
                quote! { const __N: usize = #n_const; #fast_encode },
                quote! { #n_const },
            )
        } else {
            (
                quote! {
                    if #ident::__SDWIRE_OFFSETS.1.is_some() {
                        const __N: usize = #n_const;
                        #fast_decode
                    }
                    #slow_decode
                },
                quote! {
                    if #ident::__SDWIRE_OFFSETS.1.is_some() {
                        const __N: usize = #n_const;
                        #fast_encode
                    }
                    #slow_encode
                },
                quote! {
                    match #ident::__SDWIRE_OFFSETS.1 { ::core::option::Option::Some(__n) => __n, ::core::option::Option::None => #sum }
                },
            )
        };
        let reads = fields.iter().enumerate().map(|(i, f)| {
            let l = &f.local;
            let ty = f.ty;
            let r = fixed_read(k, &ty_name, f, i);
            quote!(let #l: #ty = #r;)
        });
        let writes = fields
            .iter()
            .enumerate()
            .map(|(i, f)| fixed_write(k, &ty_name, f, i));
        let fns = quote! {
            #[inline]
            fn __decode_fixed(__c: &[u8], __v: #k::Version) -> ::core::result::Result<Self, #k::DecodeError> {
                #vcheck_dec
                const __N: usize = #n_const;
                const __O: [usize; #n] = #k::__private::unwrap_all(#ident::__SDWIRE_OFFSETS.0);
                const __S: [usize; #n] = #k::__private::unwrap_all(#ident::__SDWIRE_FIELD_SIZES);
                let __c: &[u8] = &__c[..__N];
                let _ = (&__O, &__S, &__c);
                #(#reads)*
                ::core::result::Result::Ok(#construct_locals)
            }
            #[inline]
            fn __encode_fixed(&self, __c: &mut [u8], __v: #k::Version) -> ::core::result::Result<(), #k::EncodeError> {
                #vcheck_enc
                const __N: usize = #n_const;
                const __O: [usize; #n] = #k::__private::unwrap_all(#ident::__SDWIRE_OFFSETS.0);
                const __S: [usize; #n] = #k::__private::unwrap_all(#ident::__SDWIRE_FIELD_SIZES);
                let __c: &mut [u8] = &mut __c[..__N];
                let _ = (&__O, &__S);
                #(#writes)*
                ::core::result::Result::Ok(())
            }
        };
        (dec, enc, size, fns)
    } else {
        (slow_decode, slow_encode, sum, quote!())
    };

    // Compile-time checks the macro could not do from syntax.
    let mut const_checks = Vec::new();
    if !generic {
        if !packed {
            for (i, f) in fields.iter().enumerate() {
                let known = st.offsets[i].is_some() && layout::static_size_align(f).is_some();
                if known || !present[i] {
                    continue;
                }
                let a = &aligns[i];
                let msg = format!(
                    "field `{}` of `{}` is not at its natural alignment: make the implicit padding explicit with `#[wire(pad = N)]` or a reserved field, or mark the struct `#[wire(packed)]`",
                    f.name, ty_name
                );
                const_checks.push(quote_spanned! {f.span=>
                    const _: () = #k::__private::assert_aligned(#ident::__SDWIRE_OFFSETS.0[#i], #a, #msg);
                });
            }
            if st.size.is_none() && !has_payload {
                let msg = format!(
                    "`{ty_name}` has implicit trailing padding (its size is not a multiple of its alignment): add an explicit reserved field at the end, or mark it `#[wire(packed)]`"
                );
                const_checks.push(quote! {
                    const _: () = #k::__private::assert_aligned(#ident::__SDWIRE_OFFSETS.1, <#ident as #k::Wire>::ALIGN, #msg);
                });
            }
        }
        if let (Some(decl), None) = (&c.attrs.size, st.size) {
            let d = decl.v;
            const_checks.push(quote_spanned! {decl.span=>
                const _: [(); #d] = [(); #k::__private::size_or(#ident::__SDWIRE_OFFSETS.1, #d)];
            });
        }
    }

    quote! {
        #[automatically_derived]
        impl #ig #ident #tg #wc {
            #[doc(hidden)]
            pub const __SDWIRE_FIELD_SIZES: [::core::option::Option<usize>; #n] = [#(#sizes),*];
            #[doc(hidden)]
            pub const __SDWIRE_OFFSETS: ([::core::option::Option<usize>; #n], ::core::option::Option<usize>) =
                #k::__private::offsets(&Self::__SDWIRE_FIELD_SIZES, &[#(#pads),*], &[#(#present),*]);
        }

        #(#const_checks)*

        #[automatically_derived]
        #[allow(clippy::identity_op, clippy::erasing_op, unused_comparisons, unreachable_code)]
        impl #ig #k::Wire for #ident #tg #wc {
            const FIXED_SIZE: ::core::option::Option<usize> = #fixed_size;
            const ALIGN: usize = #align;
            const LAYOUT: &'static #k::Layout = &#k::Layout {
                name: #ty_name,
                kind: #k::LayoutKind::Struct,
                size: Self::__SDWIRE_OFFSETS.1,
                align: #align,
                order: #order,
                versions: #versions,
                fields: &[#(#entries),*],
                ops: &[],
                tag_size: 0,
                doc: #doc,
            };

            #[inline]
            fn wire_size(&self, __v: #k::Version) -> usize {
                let _ = __v;
                #size_body
            }

            #[inline]
            fn encode<__B: #k::bytes::BufMut + ?::core::marker::Sized>(&self, __buf: &mut __B, __v: #k::Version)
                -> ::core::result::Result<(), #k::EncodeError>
            {
                #vcheck_enc
                #encode_body
            }

            #[inline]
            fn decode<__B: #k::bytes::Buf + ?::core::marker::Sized>(__buf: &mut __B, __v: #k::Version)
                -> ::core::result::Result<Self, #k::DecodeError>
            {
                #vcheck_dec
                #decode_body
            }

            #fixed_fns
        }
    }
}
