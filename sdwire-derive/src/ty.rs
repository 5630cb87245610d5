//! Classification of field types, purely from syntax: which code path a field
//! takes, and its size/alignment when the macro can know it.

use syn::{Expr, GenericArgument, PathArguments, Type};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Prim {
    pub name: &'static str,
    pub size: usize,
}

impl Prim {
    pub fn needs_order(self) -> bool {
        self.size > 1
    }
    pub fn is_bool(self) -> bool {
        self.name == "bool"
    }
}

pub enum TyKind {
    /// `u8`, `i8`, `bool`.
    Byte(Prim),
    /// A multi-byte number: needs a byte order.
    Int(Prim),
    /// `[P; N]` or `Box<[P; N]>` of numbers: one bulk copy.
    IntArray {
        elem: Prim,
        len: Expr,
        len_val: Option<usize>,
        boxed: bool,
    },
    /// `bytes::Bytes` payload.
    Bytes,
    /// `Vec<u8>` payload.
    VecU8,
    /// `Vec<T>` of nested values.
    Vec(Type),
    /// `Option<T>`: an optional tail (`#[wire(optional)]`).
    Optional(Type),
    /// Any other type implementing `Wire`; `known` = (size, align) when the
    /// macro can tell from syntax (`Le<u32>`, `()`).
    Nested { known: Option<(usize, usize)> },
    /// A type that cannot be on the wire; the message explains why.
    Unsupported(String),
}

pub fn prim(name: &str) -> Option<Prim> {
    let (n, s) = match name {
        "u8" => ("u8", 1),
        "i8" => ("i8", 1),
        "bool" => ("bool", 1),
        "u16" => ("u16", 2),
        "i16" => ("i16", 2),
        "u32" => ("u32", 4),
        "i32" => ("i32", 4),
        "f32" => ("f32", 4),
        "u64" => ("u64", 8),
        "i64" => ("i64", 8),
        "f64" => ("f64", 8),
        "u128" => ("u128", 16),
        "i128" => ("i128", 16),
        _ => return None,
    };
    Some(Prim { name: n, size: s })
}

fn single_ident(ty: &Type) -> Option<String> {
    if let Type::Path(p) = ty {
        if p.qself.is_none() && p.path.segments.len() == 1 {
            let seg = &p.path.segments[0];
            if matches!(seg.arguments, PathArguments::None) {
                return Some(seg.ident.to_string());
            }
        }
    }
    None
}

/// The last segment's name of a plain path without generic arguments
/// (`bytes::Bytes` -> `Bytes`, `std::string::String` -> `String`).
fn last_ident(ty: &Type) -> Option<String> {
    if let Type::Path(p) = ty {
        if p.qself.is_none() {
            let seg = p.path.segments.last()?;
            if matches!(seg.arguments, PathArguments::None) {
                return Some(seg.ident.to_string());
            }
        }
    }
    None
}

fn generic_arg(ty: &Type, name: &str) -> Option<Type> {
    if let Type::Path(p) = ty {
        let seg = p.path.segments.last()?;
        if seg.ident != name {
            return None;
        }
        if let PathArguments::AngleBracketed(a) = &seg.arguments {
            if a.args.len() == 1 {
                if let GenericArgument::Type(t) = &a.args[0] {
                    return Some(t.clone());
                }
            }
        }
    }
    None
}

/// Evaluates simple constant expressions used as array lengths.
pub fn eval_usize(e: &Expr) -> Option<usize> {
    match e {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Int(l),
            ..
        }) => l.base10_parse().ok(),
        Expr::Paren(p) => eval_usize(&p.expr),
        Expr::Group(g) => eval_usize(&g.expr),
        Expr::Binary(b) => {
            let l = eval_usize(&b.left)?;
            let r = eval_usize(&b.right)?;
            match b.op {
                syn::BinOp::Add(_) => l.checked_add(r),
                syn::BinOp::Sub(_) => l.checked_sub(r),
                syn::BinOp::Mul(_) => l.checked_mul(r),
                syn::BinOp::Shl(_) => u32::try_from(r).ok().and_then(|r| l.checked_shl(r)),
                syn::BinOp::Div(_) if r != 0 => Some(l / r),
                _ => None,
            }
        }
        _ => None,
    }
}

fn array_of_prim(ty: &Type, boxed: bool) -> Option<TyKind> {
    if let Type::Array(a) = ty {
        let name = single_ident(&a.elem)?;
        let elem = prim(&name)?;
        if elem.is_bool() {
            return None;
        }
        return Some(TyKind::IntArray {
            elem,
            len: a.len.clone(),
            len_val: eval_usize(&a.len),
            boxed,
        });
    }
    None
}

pub fn classify(ty: &Type) -> TyKind {
    if let Some(name) = single_ident(ty) {
        if let Some(p) = prim(&name) {
            return if p.needs_order() {
                TyKind::Int(p)
            } else {
                TyKind::Byte(p)
            };
        }
        match name.as_str() {
            "usize" | "isize" => {
                return TyKind::Unsupported(
                    "its width depends on the platform; use `u32` or `u64`".into(),
                )
            }
            "char" => {
                return TyKind::Unsupported(
                    "a `char` has no defined encoding; use `u32`, or a byte array for text".into(),
                )
            }
            _ => {}
        }
    }
    // Known library types, also when written as a path (`bytes::Bytes`).
    match last_ident(ty).as_deref() {
        Some("Bytes") => return TyKind::Bytes,
        Some("String") => {
            return TyKind::Unsupported(
                "a `String` has no defined encoding; use a NUL-padded `[u8; N]`, or `Vec<u8>` with `#[wire(len = ...)]`"
                    .into(),
            )
        }
        _ => {}
    }
    match ty {
        Type::Array(_) => {
            if let Some(k) = array_of_prim(ty, false) {
                return k;
            }
            TyKind::Nested { known: None }
        }
        Type::Reference(_) | Type::Ptr(_) => TyKind::Unsupported(
            "references and pointers point into this process's memory; store the value itself"
                .into(),
        ),
        Type::Slice(_) => TyKind::Unsupported(
            "it is unsized; use `[T; N]`, or `Vec<T>` with `#[wire(count = ...)]`".into(),
        ),
        Type::Tuple(t) if t.elems.is_empty() => TyKind::Nested {
            known: Some((0, 1)),
        },
        Type::Tuple(_) => TyKind::Unsupported(
            "tuples have no defined layout; use a struct deriving `Wire`".into(),
        ),
        Type::BareFn(_)
        | Type::TraitObject(_)
        | Type::ImplTrait(_)
        | Type::Never(_)
        | Type::Infer(_) => TyKind::Unsupported("it is not plain data".into()),
        Type::Paren(p) => classify(&p.elem),
        Type::Group(g) => classify(&g.elem),
        Type::Path(_) => {
            if let Some(inner) = generic_arg(ty, "Box") {
                if let Some(k) = array_of_prim(&inner, true) {
                    return k;
                }
                return TyKind::Unsupported(
                    "`Box` is supported only around arrays of numbers, like `Box<[u32; 1024]>`; store the value itself"
                        .into(),
                );
            }
            if let Some(inner) = generic_arg(ty, "Option") {
                return TyKind::Optional(inner);
            }
            if let Some(inner) = generic_arg(ty, "Vec") {
                let elem = single_ident(&inner).and_then(|n| prim(&n));
                if elem.is_some_and(|p| p.name == "u8") {
                    return TyKind::VecU8;
                }
                if let Some(p) = elem.filter(|p| p.needs_order()) {
                    return TyKind::Unsupported(format!(
                        "its elements are multi-byte numbers with no byte order; use `Vec<Le<{0}>>` or `Vec<Be<{0}>>`",
                        p.name
                    ));
                }
                return TyKind::Vec(inner);
            }
            for w in ["Le", "Be"] {
                if let Some(inner) = generic_arg(ty, w) {
                    if let Some(p) = single_ident(&inner).and_then(|n| prim(&n)) {
                        return TyKind::Nested {
                            known: Some((p.size, p.size)),
                        };
                    }
                }
            }
            TyKind::Nested { known: None }
        }
        _ => TyKind::Nested { known: None },
    }
}

/// The type as written, spaced like rustfmt would (`[u32; 4]`, `Box<Inner>`),
/// for messages.
pub fn pretty(ty: &Type) -> String {
    use quote::ToTokens;
    let mut s = ty.to_token_stream().to_string();
    for (from, to) in [
        (" :: ", "::"),
        (":: ", "::"),
        (" < ", "<"),
        ("< ", "<"),
        (" <", "<"),
        (" >", ">"),
        (" ;", ";"),
        (" ,", ","),
        ("& ", "&"),
        ("* const", "*const"),
        ("* mut", "*mut"),
        ("fn (", "fn("),
        ("( ", "("),
        (" )", ")"),
        ("[ ", "["),
        (" ]", "]"),
    ] {
        s = s.replace(from, to);
    }
    s
}

/// A type without a size known at compile time (`[T]`, `str`, `dyn Trait`):
/// a struct holding one cannot implement `Wire` (which is `Sized`), so the
/// derive emits no stub impl for it.
pub fn is_unsized(ty: &Type) -> bool {
    match ty {
        Type::Slice(_) | Type::TraitObject(_) => true,
        Type::Paren(p) => is_unsized(&p.elem),
        Type::Group(g) => is_unsized(&g.elem),
        _ => single_ident(ty).as_deref() == Some("str"),
    }
}
