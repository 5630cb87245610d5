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
    let name = &f.path_name;
    if f.reserved() {
        return default_expr(f);
    }
    let o = quote!(__O[#i]);
    let s = quote!(__S[#i]);
    let sfx = fields::order_suffix(f);
    if let Some(m) = fields::magic_lit(f) {
        let read = match &f.kind {
            TyKind::Int(_) => {
                let h = quote::format_ident!("read_{}", sfx);
                quote!(#k::__private::#h::<#ty>(__c, #o))
            }
            _ => quote!(__c[#o]),
        };
        return quote!(#k::__private::check_magic(#read, #m).map_err(|__e| __e.in_field(#ty_name, #name, #o, __v))?);
    }
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
        _ => {
            let w = fields::wire_of(k, ty);
            quote! {
            #w::__decode_fixed(&__c[#o..#o + #s], __v)
                .map_err(|__e| __e.in_field(#ty_name, #name, #o, __v))?
            }
        }
    }
}

fn fixed_write(k: &TokenStream, ty_name: &str, f: &Field, i: usize) -> TokenStream {
    let m = &f.member;
    let name = &f.path_name;
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
    } else if let Some(m) = fields::magic_lit(f) {
        match &f.kind {
            TyKind::Int(_) => {
                let h = quote::format_ident!("write_{}", sfx);
                quote!(#k::__private::#h(__c, #o, #m);)
            }
            _ => quote!(__c[#o] = #m;),
        }
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
            _ => {
                let wo = fields::wire_of(k, f.ty);
                quote! {
                    #wo::__encode_fixed(&self.#m, &mut __c[#o..#o + #s], __v)
                        .map_err(|__e| __e.in_field(#ty_name, #name, #o, __v))?;
                }
            }
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
    let has_payload = fields.iter().any(|f| {
        matches!(
            f.kind,
            TyKind::Bytes | TyKind::VecU8 | TyKind::Vec(_) | TyKind::Optional(_)
        )
    });
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

    let names: Vec<&String> = fields.iter().map(|f| &f.path_name).collect();
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
            let mut __t = #k::__private::zeroed_buf(__N);
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
        // In-place decode: boxed number arrays are filled inside their existing
        // box and nested values recurse, so large tables decode without allocating.
        let in_place = fields.iter().map(|f| {
            let m = &f.member;
            let name = &f.path_name;
            let ty = f.ty;
            let pad = f.pad();
            let pad_stmt = if pad > 0 {
                quote!(#k::__private::skip(__buf, #pad).map_err(|__e| __e.in_field(#ty_name, #name, __start - #k::bytes::Buf::remaining(__buf), __v))?;)
            } else {
                quote!()
            };
            match &f.kind {
                TyKind::IntArray { boxed: true, .. } if !f.reserved() => {
                    let h = quote::format_ident!("dec_into_{}", fields::order_suffix(f));
                    quote! {
                        #pad_stmt
                        let __before = #k::bytes::Buf::remaining(__buf);
                        #k::__private::#h(__buf, &mut __place.#m[..])
                            .map_err(|__e| __e.in_field(#ty_name, #name, __start - __before, __v))?;
                    }
                }
                TyKind::Nested { .. } if !f.reserved() => quote! {
                    #pad_stmt
                    let __before = #k::bytes::Buf::remaining(__buf);
                    <#ty as #k::Wire>::decode_in_place(&mut __place.#m, __buf, __v)
                        .map_err(|__e| __e.in_field(#ty_name, #name, __start - __before, __v))?;
                },
                _ => {
                    let stmt = fields::decode_stmt(k, &ty_name, f, fields);
                    let l = &f.local;
                    quote! { #stmt __place.#m = #l; }
                }
            }
        });
        let in_place_fn = if fields.iter().any(|f| {
            !f.reserved()
                && matches!(
                    f.kind,
                    TyKind::IntArray { boxed: true, .. } | TyKind::Nested { .. }
                )
        }) {
            quote! {
                #[inline]
                fn decode_in_place<__B: #k::bytes::Buf + ?::core::marker::Sized>(
                    __place: &mut Self, __buf: &mut __B, __v: #k::Version,
                ) -> ::core::result::Result<(), #k::DecodeError> {
                    #vcheck_dec
                    let __start = #k::bytes::Buf::remaining(__buf);
                    #(#in_place)*
                    ::core::result::Result::Ok(())
                }
            }
        } else {
            quote!()
        };
        let fns = quote! {
            #in_place_fn
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
    let const_checks = if generic {
        quote!()
    } else {
        layout_const_checks(c, fields, &st, has_payload, &aligns, &pads, &present)
    };

    let unversioned = crate::marker::unversioned_impl(c);
    let frame_header = frame_header_impl(c, fields);

    quote! {
        #unversioned
        #frame_header

        #[automatically_derived]
        impl #ig #ident #tg #wc {
            #[doc(hidden)]
            pub const __SDWIRE_FIELD_SIZES: [::core::option::Option<usize>; #n] = [#(#sizes),*];
            #[doc(hidden)]
            pub const __SDWIRE_OFFSETS: ([::core::option::Option<usize>; #n], ::core::option::Option<usize>) =
                #k::__private::offsets(&Self::__SDWIRE_FIELD_SIZES, &[#(#pads),*], &[#(#present),*]);
        }

        #const_checks

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

/// `FrameHeader` + `FillPayloadLen` for a header with a `payload_len` field.
fn frame_header_impl(c: &Container, fields: &[Field]) -> TokenStream {
    let Some(f) = fields.iter().find(|f| f.attrs.payload_len.is_some()) else {
        return quote!();
    };
    let k = &c.krate;
    let ident = c.ident;
    let (ig, tg, wc) = c.input.generics.split_for_impl();
    let m = &f.member;
    let ty = f.ty;
    let ty_name = ident.to_string();
    let name = &f.path_name;
    quote! {
        #[automatically_derived]
        impl #ig #k::codec::FrameHeader for #ident #tg #wc {
            #[inline]
            fn payload_len(&self) -> u64 {
                #k::WireInt::to_u64(self.#m)
            }
        }
        #[automatically_derived]
        impl #ig #k::codec::FillPayloadLen for #ident #tg #wc {
            #[inline]
            fn set_payload_len(&mut self, __len: usize) -> ::core::result::Result<(), #k::EncodeError> {
                self.#m = #k::__private::len_to_field::<#ty>(__len, ::core::primitive::u64::MAX)
                    .map_err(|__e| __e.in_field(#ty_name, #name, 0, 0))?;
                ::core::result::Result::Ok(())
            }
        }
    }
}

/// One piece of a compile-time message: a `&str` expression, then a
/// `usize` expression printed after it (`NONE` for no number).
type Piece = (TokenStream, TokenStream);

fn text(t: &str) -> Piece {
    (quote!(#t), quote!(__NONE))
}

fn text_num(t: &str, n: TokenStream) -> Piece {
    (quote!(#t), n)
}

/// `" byte"` or `" bytes"` after the number `n`.
fn unit(n: &TokenStream) -> Piece {
    (
        quote!(if #n == 1 { " byte" } else { " bytes" }),
        quote!(__NONE),
    )
}

/// A `const _` spanned at `span` that panics with a message built at
/// compile time when `cond` holds.
fn const_panic(
    span: proc_macro2::Span,
    ident: &syn::Ident,
    setup: TokenStream,
    cond: TokenStream,
    pieces: &[Piece],
    fallback: &str,
) -> TokenStream {
    let pieces = pieces.iter().map(|(t, n)| quote!((#t, #n)));
    quote_spanned! {span=>
        const _: () = {
            const __NONE: usize = usize::MAX;
            #setup
            if #cond {
                let (__buf, __len) = #ident::__sdwire_fmt(&[#(#pieces),*]);
                match ::core::str::from_utf8(__buf.split_at(__len).0) {
                    ::core::result::Result::Ok(__s) => ::core::panic!("{}", __s),
                    ::core::result::Result::Err(_) => ::core::panic!(#fallback),
                }
            }
        };
    }
}

/// The layout rules (natural alignment, no implicit trailing padding, the
/// declared `size`) for fields whose size only the compiler knows (nested
/// types): the same rules and messages as `check::check_struct_layout`,
/// evaluated in consts over the C layout (every field at its natural
/// alignment after the ones before it), so a misplaced field is reported
/// once, with its byte offset, and the fields after it are not reported
/// again for the shift it causes.
fn layout_const_checks(
    c: &Container,
    fields: &[Field],
    st: &layout::StaticLayout,
    has_payload: bool,
    aligns: &[TokenStream],
    pads: &[usize],
    present: &[bool],
) -> TokenStream {
    let ident = c.ident;
    let name = ident.to_string();
    let packed = c.attrs.packed.is_some();
    let n = fields.len();
    let mut checks = Vec::new();
    if !packed {
        for (i, f) in fields.iter().enumerate() {
            let known = st.offsets[i].is_some() && layout::static_size_align(f).is_some();
            if known || !present[i] {
                continue;
            }
            let pad = pads[i];
            let setup = quote! {
                let (__off, __gap, __known) = #ident::__SDWIRE_C_LAYOUT.0[#i];
                let __a: usize = #ident::__SDWIRE_C_LAYOUT.4[#i];
                let mut __earlier = false;
                let mut __j = 0;
                while __j < #i {
                    __earlier = __earlier || #ident::__SDWIRE_C_LAYOUT.0[__j].1 != 0;
                    __j += 1;
                }
                let __after = if __earlier { " (with the padding reported above made explicit)" } else { "" };
            };
            let instead = if pad > 0 {
                format!(" (instead of `pad = {pad}`)")
            } else {
                String::new()
            };
            let head = format!(
                "field `{}` of `{name}` (`{}`, alignment ",
                f.name,
                crate::ty::pretty(f.ty)
            );
            checks.push(const_panic(
                f.name_span,
                ident,
                setup,
                quote!(__known && __gap != 0),
                &[
                    text_num(&head, quote!(__a)),
                    text_num(") starts at byte offset ", quote!(__off)),
                    (quote!(__after), quote!(__NONE)),
                    text_num(", which is not a multiple of ", quote!(__a)),
                    text_num("\n= help: a C compiler would insert ", quote!(__gap)),
                    unit(&quote!(__gap)),
                    text_num(
                        " of padding before it: make it explicit with `#[wire(pad = ",
                        quote!(__gap + #pad),
                    ),
                    text(&format!(
                        ")]`{instead} on `{}`, or mark `{name}` `#[wire(packed)]`",
                        f.name
                    )),
                ],
                &format!(
                    "field `{}` of `{name}` is not at its natural alignment",
                    f.name
                ),
            ));
        }
    }
    let note = (
        quote!(if #ident::__SDWIRE_C_LAYOUT.3 { " (with the padding reported above made explicit)" } else { "" }),
        quote!(__NONE),
    );
    let size_span = c
        .attrs
        .size
        .as_ref()
        .map_or_else(|| ident.span(), |s| s.span);
    if st.size.is_none() && !has_payload && !packed {
        let setup = quote! {
            let (_, __end, __known, _, _, __align) = #ident::__SDWIRE_C_LAYOUT;
            let __gap = (__align - __end % __align) % __align;
        };
        checks.push(const_panic(
            size_span,
            ident,
            setup,
            quote!(__known && __gap != 0),
            &[
                text_num(&format!("`{name}` ends at byte "), quote!(__end)),
                note.clone(),
                text_num(", which is not a multiple of its alignment ", quote!(__align)),
                text_num("\n= help: a C compiler would add ", quote!(__gap)),
                unit(&quote!(__gap)),
                text_num(
                    " of padding at the end: make it explicit with a last field `#[wire(reserved)] _pad: [u8; ",
                    quote!(__gap),
                ),
                text(&format!("]`, or mark `{name}` `#[wire(packed)]`")),
            ],
            &format!("`{name}` has implicit trailing padding"),
        ));
    }
    if let (Some(decl), None, false) = (&c.attrs.size, st.size, has_payload) {
        let d = decl.v;
        let setup = quote! {
            let (_, __end, __known, _, _, _) = #ident::__SDWIRE_C_LAYOUT;
            let (__diff, __how) = if __end > #d { (__end - #d, " too many") } else { (#d - __end, " missing") };
        };
        checks.push(const_panic(
            decl.span,
            ident,
            setup,
            quote!(__known && __end != #d),
            &[
                text_num(
                    &format!(
                        "`{name}` is declared `size = {}` but its fields encode to ",
                        decl.text
                    ),
                    quote!(__end),
                ),
                unit(&quote!(__end)),
                note,
                text_num(": ", quote!(__diff)),
                unit(&quote!(__diff)),
                (quote!(__how), quote!(__NONE)),
            ],
            &format!("`{name}` does not have its declared size"),
        ));
    }
    if checks.is_empty() {
        return quote!();
    }
    let one = |x: TokenStream| if packed { quote!(1usize) } else { x };
    let aligns = aligns.iter().map(|a| one(a.clone()));
    quote! {
        #[automatically_derived]
        impl #ident {
            /// The C layout at the current version, for the layout checks:
            /// (per field: offset, implicit padding before it, offset known),
            /// end, end known, any implicit padding, alignments, alignment.
            #[doc(hidden)]
            const __SDWIRE_C_LAYOUT: ([(usize, usize, bool); #n], usize, bool, bool, [usize; #n], usize) = {
                let __sizes = Self::__SDWIRE_FIELD_SIZES;
                let __aligns: [usize; #n] = [#(#aligns),*];
                let __pads: [usize; #n] = [#(#pads),*];
                let __present: [bool; #n] = [#(#present),*];
                let mut __out = [(0usize, 0usize, false); #n];
                let (mut __cur, mut __known, mut __any, mut __max) = (0usize, true, false, 1usize);
                let mut __i = 0;
                while __i < #n {
                    if __present[__i] && __known {
                        let __off = __cur + __pads[__i];
                        let __a = if __aligns[__i] == 0 { 1 } else { __aligns[__i] };
                        let __gap = (__a - __off % __a) % __a;
                        __out[__i] = (__off, __gap, true);
                        __any = __any || __gap != 0;
                        if __a > __max {
                            __max = __a;
                        }
                        match __sizes[__i] {
                            ::core::option::Option::Some(__s) => __cur = __off + __gap + __s,
                            ::core::option::Option::None => __known = false,
                        }
                    }
                    __i += 1;
                }
                (__out, __cur, __known, __any, __aligns, __max)
            };

            /// Joins message pieces (text, then a number unless `usize::MAX`) at compile time.
            #[doc(hidden)]
            const fn __sdwire_fmt(__pieces: &[(&str, usize)]) -> ([u8; 1024], usize) {
                let mut __out = [0u8; 1024];
                let mut __len = 0usize;
                let mut __i = 0;
                while __i < __pieces.len() {
                    let __t = __pieces[__i].0.as_bytes();
                    let mut __j = 0;
                    while __j < __t.len() && __len < 1024 {
                        __out[__len] = __t[__j];
                        __len += 1;
                        __j += 1;
                    }
                    let mut __n = __pieces[__i].1;
                    if __n != usize::MAX {
                        let mut __digits = [0u8; 20];
                        let mut __k = 0;
                        loop {
                            __digits[__k] = b'0' + (__n % 10) as u8;
                            __k += 1;
                            __n /= 10;
                            if __n == 0 {
                                break;
                            }
                        }
                        while __k > 0 && __len < 1024 {
                            __k -= 1;
                            __out[__len] = __digits[__k];
                            __len += 1;
                        }
                    }
                    __i += 1;
                }
                (__out, __len)
            }
        }

        #(#checks)*
    }
}
