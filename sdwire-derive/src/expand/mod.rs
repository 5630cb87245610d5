//! Phase 4: code generation from the checked IR.

mod enums;
mod fields;
mod structs;

use crate::ast::{Container, Data};
use crate::check;
use crate::ctxt::Ctxt;
use crate::fallback;
use proc_macro2::TokenStream;
use syn::DeriveInput;

pub fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::default();
    let Some(c) = Container::from_ast(&cx, input) else {
        return cx.into_compile_errors().unwrap_or_default();
    };
    check::check(&cx, &c);
    if cx.has_errors() {
        let errors = cx.into_compile_errors().unwrap_or_default();
        // A stub `impl Wire` for an unsized struct would only add errors
        // (`Wire: Sized`): the unsupported-field error already says it all.
        let unsized_field = match &c.data {
            Data::Struct(fields) => fields.iter().any(|f| crate::ty::is_unsized(f.ty)),
            Data::Enum(_) => false,
        };
        if unsized_field {
            return errors;
        }
        return fallback::stub(&c, errors);
    }
    match &c.data {
        Data::Struct(fields) => structs::expand(&c, fields),
        Data::Enum(variants) => enums::expand(&c, variants),
    }
}

/// `u16` literal for a version.
pub fn ver(v: u64) -> TokenStream {
    let v = v as u16;
    quote::quote!(#v)
}
