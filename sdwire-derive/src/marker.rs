//! Impls of marker traits that both the real expansion and the fallback
//! stub emit, so a failed derive does not cascade into "trait not
//! implemented" errors at the type's users.

use crate::ast::Container;

/// `impl Unversioned` for a type without a `version` window, so it can be
/// encoded and decoded without naming a version.
pub fn unversioned_impl(c: &Container) -> proc_macro2::TokenStream {
    if c.versions.is_some() {
        return proc_macro2::TokenStream::new();
    }
    let k = &c.krate;
    let ident = c.ident;
    let (ig, tg, wc) = c.input.generics.split_for_impl();
    quote::quote! {
        #[automatically_derived]
        impl #ig #k::Unversioned for #ident #tg #wc {}
    }
}
