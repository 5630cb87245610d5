//! Layout arithmetic the macro can do from syntax alone (numbers and arrays
//! of numbers). Where a nested type hides its size, the generated code does
//! the same arithmetic in a `const` instead (see `expand::structs`).

use crate::ast::Field;
use crate::ty::TyKind;

/// Size and natural alignment of a field, when syntax tells.
pub fn static_size_align(f: &Field) -> Option<(usize, usize)> {
    match &f.kind {
        TyKind::Byte(p) | TyKind::Int(p) => Some((p.size, p.size)),
        TyKind::IntArray {
            elem,
            len_val: Some(n),
            ..
        } => Some((elem.size * n, elem.size)),
        TyKind::Nested { known: Some(k) } => Some(*k),
        _ => None,
    }
}

/// Whether the field exists at the type's current version.
pub fn present_at_current(f: &Field, versions: Option<(u64, u64)>) -> bool {
    match versions {
        None => true,
        Some((_, cur)) => f.since().is_none_or(|s| s <= cur) && f.until().is_none_or(|u| cur < u),
    }
}

pub struct StaticLayout {
    /// Offset of each field at the current version (None if unknown or absent).
    pub offsets: Vec<Option<usize>>,
    /// Total size including trailing padding needs, if every field is known.
    pub size: Option<usize>,
    /// Alignment, if every field is known.
    pub align: Option<usize>,
}

pub fn compute(fields: &[Field], versions: Option<(u64, u64)>, packed: bool) -> StaticLayout {
    let mut offsets = Vec::with_capacity(fields.len());
    let mut cur = Some(0usize);
    let mut align = Some(1usize);
    for f in fields {
        if !present_at_current(f, versions) {
            offsets.push(None);
            continue;
        }
        cur = cur.map(|c| c + f.pad());
        offsets.push(cur);
        match static_size_align(f) {
            Some((s, a)) => {
                cur = cur.map(|c| c + s);
                align = align.map(|x| if packed { 1 } else { x.max(a) });
            }
            None => {
                cur = None;
                align = None;
            }
        }
    }
    StaticLayout {
        offsets,
        size: cur,
        align,
    }
}
