//! The `#[derive(Wire)]` macro of [sdwire](https://docs.rs/sdwire).
//!
//! The derive runs in phases, like serde_derive and thiserror:
//! `attr` parses `#[wire(...)]` attributes into plain values, `ast` builds
//! a typed IR of the item (codegen never looks at `syn::Attribute`),
//! `check` validates the IR (accumulating every error, each spanned at the
//! offending token), and `expand` generates code. If any check fails, the
//! errors are emitted together with a stub impl (`fallback`) so one
//! mistake does not cascade into unrelated "trait not implemented" errors.
//!
//! See the attribute reference in the sdwire crate docs.

mod ast;
mod attr;
mod check;
mod check_extra;
mod ctxt;
mod expand;
mod fallback;
mod layout;
mod marker;
mod ty;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `sdwire::Wire` (and, for tagged enums, `sdwire::OpTable` plus a
/// handler trait). See the attribute reference in the sdwire crate docs.
#[proc_macro_derive(Wire, attributes(wire))]
pub fn derive_wire(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
