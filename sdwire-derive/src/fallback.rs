//! When a check fails, emit the errors plus a stub impl so the rest of the
//! crate type-checks and one mistake does not cascade (thiserror's fallback).

use crate::ast::Container;
use proc_macro2::TokenStream;
use quote::quote;

pub fn stub(c: &Container, errors: TokenStream) -> TokenStream {
    let ident = c.ident;
    let k = &c.krate;
    let (ig, tg, wc) = c.input.generics.split_for_impl();
    let unversioned = crate::marker::unversioned_impl(c);
    // A header with a `payload_len` field keeps its frame traits, so its
    // users are not reported too.
    let has_len = match &c.data {
        crate::ast::Data::Struct(fs) => fs.iter().any(|f| f.attrs.payload_len.is_some()),
        crate::ast::Data::Enum(_) => false,
    };
    let frame = if has_len {
        quote! {
            #[allow(unused_variables, clippy::all)]
            impl #ig #k::codec::FrameHeader for #ident #tg #wc {
                fn payload_len(&self) -> u64 { ::core::unreachable!() }
            }
            #[allow(unused_variables, clippy::all)]
            impl #ig #k::codec::FillPayloadLen for #ident #tg #wc {
                fn set_payload_len(&mut self, len: usize) -> ::core::result::Result<(), #k::EncodeError> { ::core::unreachable!() }
            }
        }
    } else {
        quote!()
    };
    quote! {
        #errors
        #unversioned
        #frame
        #[allow(unused_variables, unreachable_code, clippy::all)]
        impl #ig #k::Wire for #ident #tg #wc {
            const FIXED_SIZE: ::core::option::Option<usize> = ::core::option::Option::None;
            const ALIGN: usize = 1;
            const LAYOUT: &'static #k::Layout = &#k::Layout::opaque(::core::stringify!(#ident), ::core::option::Option::None, 1);
            fn wire_size(&self, version: #k::Version) -> usize { ::core::unreachable!() }
            fn encode<__B: #k::bytes::BufMut + ?::core::marker::Sized>(&self, buf: &mut __B, version: #k::Version)
                -> ::core::result::Result<(), #k::EncodeError> { ::core::unreachable!() }
            fn decode<__B: #k::bytes::Buf + ?::core::marker::Sized>(buf: &mut __B, version: #k::Version)
                -> ::core::result::Result<Self, #k::DecodeError> { ::core::unreachable!() }
        }
    }
}
