//! Helpers called by generated code. Not a public API: names and signatures
//! may change in any release.

pub use crate::{DecodeError, DecodeErrorKind, EncodeError, EncodeErrorKind, Version, WireInt};
pub use bytes::{Buf, BufMut, Bytes};
pub use core::result::Result;

/// Fails unless `buf` holds at least `n` more bytes.
#[inline(always)]
pub fn ensure_remaining<B: Buf + ?Sized>(buf: &B, n: usize) -> Result<(), DecodeError> {
    let have = buf.remaining();
    if have < n {
        return Err(DecodeError::truncated(n, have));
    }
    Ok(())
}

/// Fails unless `buf` has room for `n` more bytes.
#[inline(always)]
pub fn ensure_room<B: BufMut + ?Sized>(buf: &B, n: usize) -> Result<(), EncodeError> {
    let have = buf.remaining_mut();
    if have < n {
        return Err(EncodeError::new(EncodeErrorKind::BufferTooSmall {
            needed: n,
            available: have,
        }));
    }
    Ok(())
}

/// A `bool` from its byte: 0 or 1, anything else is an error.
#[inline(always)]
pub fn decode_bool(b: u8) -> Result<bool, DecodeError> {
    match b {
        0 => Ok(false),
        1 => Ok(true),
        v => Err(DecodeError::new(DecodeErrorKind::InvalidValue {
            value: u64::from(v),
            expected: "0 or 1",
        })),
    }
}

/// Reads a little-endian `T` (caller checked the length).
#[inline(always)]
pub fn get_le<T: WireInt, B: Buf + ?Sized>(buf: &mut B) -> T {
    let mut b = T::Bytes::default();
    buf.copy_to_slice(b.as_mut());
    T::from_le_array(b)
}

/// Reads a big-endian `T` (caller checked the length).
#[inline(always)]
pub fn get_be<T: WireInt, B: Buf + ?Sized>(buf: &mut B) -> T {
    let mut b = T::Bytes::default();
    buf.copy_to_slice(b.as_mut());
    T::from_be_array(b)
}

/// Writes a little-endian `T` (caller checked the room).
#[inline(always)]
pub fn put_le<T: WireInt, B: BufMut + ?Sized>(buf: &mut B, v: T) {
    buf.put_slice(v.to_le_array().as_ref());
}

/// Writes a big-endian `T` (caller checked the room).
#[inline(always)]
pub fn put_be<T: WireInt, B: BufMut + ?Sized>(buf: &mut B, v: T) {
    buf.put_slice(v.to_be_array().as_ref());
}

/// Reads a little-endian `T` at `off` of a slice long enough for it.
#[inline(always)]
pub fn read_le<T: WireInt>(c: &[u8], off: usize) -> T {
    T::read_le(&c[off..off + T::SIZE])
}

/// Reads a big-endian `T` at `off`.
#[inline(always)]
pub fn read_be<T: WireInt>(c: &[u8], off: usize) -> T {
    T::read_be(&c[off..off + T::SIZE])
}

/// Writes a little-endian `T` at `off`.
#[inline(always)]
pub fn write_le<T: WireInt>(c: &mut [u8], off: usize, v: T) {
    c[off..off + T::SIZE].copy_from_slice(v.to_le_array().as_ref());
}

/// Writes a big-endian `T` at `off`.
#[inline(always)]
pub fn write_be<T: WireInt>(c: &mut [u8], off: usize, v: T) {
    c[off..off + T::SIZE].copy_from_slice(v.to_be_array().as_ref());
}

/// Fills an integer slice from `buf` in one copy, then fixes the byte order
/// (a no-op loop the optimiser removes when the wire order is the host's).
#[inline]
pub fn get_slice_le<T: WireInt, B: Buf + ?Sized>(buf: &mut B, out: &mut [T]) {
    buf.copy_to_slice(bytemuck::cast_slice_mut(out));
    if cfg!(target_endian = "big") {
        for x in out.iter_mut() {
            *x = x.swap();
        }
    }
}

/// Big-endian counterpart of [`get_slice_le`].
#[inline]
pub fn get_slice_be<T: WireInt, B: Buf + ?Sized>(buf: &mut B, out: &mut [T]) {
    buf.copy_to_slice(bytemuck::cast_slice_mut(out));
    if cfg!(target_endian = "little") && T::SIZE > 1 {
        for x in out.iter_mut() {
            *x = x.swap();
        }
    }
}

/// Fills an integer slice from the bytes `c` (exactly `out.len() * T::SIZE` long).
#[inline]
pub fn read_slice_le<T: WireInt>(c: &[u8], out: &mut [T]) {
    bytemuck::cast_slice_mut::<T, u8>(out).copy_from_slice(c);
    if cfg!(target_endian = "big") {
        for x in out.iter_mut() {
            *x = x.swap();
        }
    }
}

/// Big-endian counterpart of [`read_slice_le`].
#[inline]
pub fn read_slice_be<T: WireInt>(c: &[u8], out: &mut [T]) {
    bytemuck::cast_slice_mut::<T, u8>(out).copy_from_slice(c);
    if cfg!(target_endian = "little") && T::SIZE > 1 {
        for x in out.iter_mut() {
            *x = x.swap();
        }
    }
}

/// Writes an integer slice in one copy when the wire order is the host's.
#[inline]
pub fn put_slice_le<T: WireInt, B: BufMut + ?Sized>(buf: &mut B, v: &[T]) {
    if cfg!(target_endian = "little") || T::SIZE == 1 {
        buf.put_slice(bytemuck::cast_slice(v));
    } else {
        for x in v {
            put_le(buf, *x);
        }
    }
}

/// Big-endian counterpart of [`put_slice_le`].
#[inline]
pub fn put_slice_be<T: WireInt, B: BufMut + ?Sized>(buf: &mut B, v: &[T]) {
    if cfg!(target_endian = "big") || T::SIZE == 1 {
        buf.put_slice(bytemuck::cast_slice(v));
    } else {
        for x in v {
            put_be(buf, *x);
        }
    }
}

/// Writes an integer slice into `c` (exactly `v.len() * T::SIZE` long).
#[inline]
pub fn write_slice_le<T: WireInt>(c: &mut [u8], v: &[T]) {
    if cfg!(target_endian = "little") || T::SIZE == 1 {
        c.copy_from_slice(bytemuck::cast_slice(v));
    } else {
        for (i, x) in v.iter().enumerate() {
            write_le(c, i * T::SIZE, *x);
        }
    }
}

/// Big-endian counterpart of [`write_slice_le`].
#[inline]
pub fn write_slice_be<T: WireInt>(c: &mut [u8], v: &[T]) {
    if cfg!(target_endian = "big") || T::SIZE == 1 {
        c.copy_from_slice(bytemuck::cast_slice(v));
    } else {
        for (i, x) in v.iter().enumerate() {
            write_be(c, i * T::SIZE, *x);
        }
    }
}

/// A zeroed heap array, without building it on the stack first.
pub fn boxed_zeroed<T: WireInt, const N: usize>() -> Box<[T; N]> {
    match vec![T::default(); N].into_boxed_slice().try_into() {
        Ok(b) => b,
        Err(_) => unreachable!("vec of length N converts to [T; N]"),
    }
}

/// The size of a nested fixed-size type, or a compile error naming it.
pub const fn fixed_size(size: Option<usize>, what: &'static str) -> usize {
    match size {
        Some(n) => n,
        None => {
            let _ = what;
            panic!("a field of a fixed-size layout has a variable-size type")
        }
    }
}

/// Picks `n` when a fixed-size value is small enough for a stack buffer, else 0.
pub const fn stack_len(n: usize) -> usize {
    if n <= 512 {
        n
    } else {
        0
    }
}

/// Checks `version` against a type's window.
#[inline(always)]
pub fn check_decode_version(
    ty: &'static str,
    version: Version,
    compat: Version,
    current: Version,
) -> Result<(), DecodeError> {
    if version < compat || version > current {
        return Err(DecodeError::new(DecodeErrorKind::UnsupportedVersion {
            version,
            compat,
            current,
        })
        .in_type(ty, version));
    }
    Ok(())
}

/// Checks `version` against a type's window for encoding.
#[inline(always)]
pub fn check_encode_version(
    ty: &'static str,
    version: Version,
    compat: Version,
    current: Version,
) -> Result<(), EncodeError> {
    if version < compat || version > current {
        return Err(EncodeError::new(EncodeErrorKind::UnsupportedVersion {
            version,
            compat,
            current,
        })
        .in_type(ty, version));
    }
    Ok(())
}

/// A length read from the wire, checked against its maximum and converted.
#[inline(always)]
pub fn checked_len(len: u64, max: u64) -> Result<usize, DecodeError> {
    if len > max {
        return Err(DecodeError::new(DecodeErrorKind::LengthTooLarge {
            len,
            max,
        }));
    }
    usize::try_from(len).map_err(|_| DecodeError::new(DecodeErrorKind::LengthTooLarge { len, max }))
}

/// A payload length converted to the length field's type.
#[inline(always)]
pub fn len_to_field<T: WireInt>(len: usize, max: u64) -> Result<T, EncodeError> {
    let l = len as u64;
    if l > max {
        return Err(EncodeError::new(EncodeErrorKind::LengthOverflow {
            len: l,
            max,
        }));
    }
    T::try_from_u64(l)
        .ok_or_else(|| EncodeError::new(EncodeErrorKind::LengthOverflow { len: l, max }))
}

/// Takes `n` bytes from `buf` as `Bytes` (zero-copy when `buf` is `Bytes`).
#[inline(always)]
pub fn take_bytes<B: Buf + ?Sized>(buf: &mut B, n: usize) -> Result<Bytes, DecodeError> {
    ensure_remaining(buf, n)?;
    Ok(buf.copy_to_bytes(n))
}

/// Takes `n` bytes from `buf` as a `Vec<u8>`.
#[inline(always)]
pub fn take_vec<B: Buf + ?Sized>(buf: &mut B, n: usize) -> Result<Vec<u8>, DecodeError> {
    ensure_remaining(buf, n)?;
    let mut v = vec![0u8; n];
    buf.copy_to_slice(&mut v);
    Ok(v)
}

/// Checks a `#[wire(magic = N)]` field against its constant.
#[inline(always)]
pub fn check_magic<T: WireInt>(got: T, expected: T) -> Result<T, DecodeError> {
    if got != expected {
        return Err(magic_mismatch(expected.to_u64(), got.to_u64()));
    }
    Ok(got)
}

#[cold]
fn magic_mismatch(expected: u64, got: u64) -> DecodeError {
    DecodeError::new(DecodeErrorKind::BadMagic { expected, got })
}

/// Static names for array indices in error paths.
pub fn index_name(i: usize) -> &'static str {
    const NAMES: [&str; 16] = [
        "[0]", "[1]", "[2]", "[3]", "[4]", "[5]", "[6]", "[7]", "[8]", "[9]", "[10]", "[11]",
        "[12]", "[13]", "[14]", "[15]",
    ];
    NAMES.get(i).copied().unwrap_or("[..]")
}

/// Error for a tag that names no variant.
#[cold]
pub fn unknown_tag(ty: &'static str, tag: u64, version: Version) -> DecodeError {
    DecodeError::new(DecodeErrorKind::UnknownTag { tag }).in_type(ty, version)
}

/// Error for a variant written at a version that lacks it.
#[cold]
pub fn variant_unavailable(ty: &'static str, version: Version) -> EncodeError {
    EncodeError::new(EncodeErrorKind::VariantUnavailable { version }).in_type(ty, version)
}

/// Error for a field that would be dropped by encoding an older version.
#[cold]
pub fn field_dropped(ty: &'static str, field: &'static str, version: Version) -> EncodeError {
    EncodeError::new(EncodeErrorKind::FieldDropped { version }).in_field(ty, field, 0, version)
}

// ---- Result-returning field helpers (keep generated code small) ----

/// Decodes a little-endian number.
#[inline(always)]
pub fn dec_le<T: WireInt, B: Buf + ?Sized>(buf: &mut B) -> Result<T, DecodeError> {
    ensure_remaining(buf, T::SIZE)?;
    Ok(get_le(buf))
}

/// Decodes a big-endian number.
#[inline(always)]
pub fn dec_be<T: WireInt, B: Buf + ?Sized>(buf: &mut B) -> Result<T, DecodeError> {
    ensure_remaining(buf, T::SIZE)?;
    Ok(get_be(buf))
}

/// Encodes a little-endian number.
#[inline(always)]
pub fn enc_le<T: WireInt, B: BufMut + ?Sized>(buf: &mut B, v: T) -> Result<(), EncodeError> {
    ensure_room(buf, T::SIZE)?;
    put_le(buf, v);
    Ok(())
}

/// Encodes a big-endian number.
#[inline(always)]
pub fn enc_be<T: WireInt, B: BufMut + ?Sized>(buf: &mut B, v: T) -> Result<(), EncodeError> {
    ensure_room(buf, T::SIZE)?;
    put_be(buf, v);
    Ok(())
}

/// Decodes `[T; N]` of little-endian numbers in one copy.
#[inline]
pub fn dec_array_le<T: WireInt, B: Buf + ?Sized, const N: usize>(
    buf: &mut B,
) -> Result<[T; N], DecodeError> {
    ensure_remaining(buf, T::SIZE * N)?;
    let mut a = [T::default(); N];
    get_slice_le(buf, &mut a);
    Ok(a)
}

/// Decodes `[T; N]` of big-endian numbers.
#[inline]
pub fn dec_array_be<T: WireInt, B: Buf + ?Sized, const N: usize>(
    buf: &mut B,
) -> Result<[T; N], DecodeError> {
    ensure_remaining(buf, T::SIZE * N)?;
    let mut a = [T::default(); N];
    get_slice_be(buf, &mut a);
    Ok(a)
}

/// Decodes `Box<[T; N]>` of little-endian numbers straight onto the heap.
#[inline]
pub fn dec_box_array_le<T: WireInt, B: Buf + ?Sized, const N: usize>(
    buf: &mut B,
) -> Result<Box<[T; N]>, DecodeError> {
    ensure_remaining(buf, T::SIZE * N)?;
    let mut a = boxed_zeroed::<T, N>();
    get_slice_le(buf, &mut a[..]);
    Ok(a)
}

/// Decodes `Box<[T; N]>` of big-endian numbers straight onto the heap.
#[inline]
pub fn dec_box_array_be<T: WireInt, B: Buf + ?Sized, const N: usize>(
    buf: &mut B,
) -> Result<Box<[T; N]>, DecodeError> {
    ensure_remaining(buf, T::SIZE * N)?;
    let mut a = boxed_zeroed::<T, N>();
    get_slice_be(buf, &mut a[..]);
    Ok(a)
}

/// Reads `[T; N]` of little-endian numbers from exactly `N * T::SIZE` bytes.
#[inline(always)]
pub fn read_array_le<T: WireInt, const N: usize>(c: &[u8]) -> [T; N] {
    let mut a = [T::default(); N];
    read_slice_le(c, &mut a);
    a
}

/// Reads `[T; N]` of big-endian numbers.
#[inline(always)]
pub fn read_array_be<T: WireInt, const N: usize>(c: &[u8]) -> [T; N] {
    let mut a = [T::default(); N];
    read_slice_be(c, &mut a);
    a
}

/// Reads `Box<[T; N]>` of little-endian numbers.
#[inline]
pub fn read_box_array_le<T: WireInt, const N: usize>(c: &[u8]) -> Box<[T; N]> {
    let mut a = boxed_zeroed::<T, N>();
    read_slice_le(c, &mut a[..]);
    a
}

/// Reads `Box<[T; N]>` of big-endian numbers.
#[inline]
pub fn read_box_array_be<T: WireInt, const N: usize>(c: &[u8]) -> Box<[T; N]> {
    let mut a = boxed_zeroed::<T, N>();
    read_slice_be(c, &mut a[..]);
    a
}

/// Encodes a slice of little-endian numbers.
#[inline]
pub fn enc_slice_le<T: WireInt, B: BufMut + ?Sized>(
    buf: &mut B,
    v: &[T],
) -> Result<(), EncodeError> {
    ensure_room(buf, core::mem::size_of_val(v))?;
    put_slice_le(buf, v);
    Ok(())
}

/// Encodes a slice of big-endian numbers.
#[inline]
pub fn enc_slice_be<T: WireInt, B: BufMut + ?Sized>(
    buf: &mut B,
    v: &[T],
) -> Result<(), EncodeError> {
    ensure_room(buf, core::mem::size_of_val(v))?;
    put_slice_be(buf, v);
    Ok(())
}

/// Writes `n` zero bytes.
#[inline(always)]
pub fn enc_zeros<B: BufMut + ?Sized>(buf: &mut B, n: usize) -> Result<(), EncodeError> {
    ensure_room(buf, n)?;
    buf.put_bytes(0, n);
    Ok(())
}

/// Skips `n` bytes.
#[inline(always)]
pub fn skip<B: Buf + ?Sized>(buf: &mut B, n: usize) -> Result<(), DecodeError> {
    ensure_remaining(buf, n)?;
    buf.advance(n);
    Ok(())
}

/// Writes raw bytes.
#[inline(always)]
pub fn enc_bytes<B: BufMut + ?Sized>(buf: &mut B, v: &[u8]) -> Result<(), EncodeError> {
    ensure_room(buf, v.len())?;
    buf.put_slice(v);
    Ok(())
}

/// Decodes `count` values of `T` (capacity bounded by the input left).
pub fn dec_vec<T: crate::Wire, B: Buf + ?Sized>(
    buf: &mut B,
    count: usize,
    version: Version,
) -> Result<Vec<T>, DecodeError> {
    let min = match T::FIXED_SIZE {
        Some(0) | None => 1,
        Some(n) => n,
    };
    if let Some(n) = T::FIXED_SIZE {
        ensure_remaining(buf, n.saturating_mul(count))?;
    }
    let mut v = Vec::with_capacity(count.min(buf.remaining() / min));
    let start = buf.remaining();
    for i in 0..count {
        let before = buf.remaining();
        v.push(
            T::decode(buf, version)
                .map_err(|e| e.in_field("Vec", index_name(i), start - before, version))?,
        );
    }
    Ok(v)
}

/// Decodes values of `T` until the input is used up.
pub fn dec_vec_rest<T: crate::Wire, B: Buf + ?Sized>(
    buf: &mut B,
    version: Version,
) -> Result<Vec<T>, DecodeError> {
    let mut v = Vec::new();
    let start = buf.remaining();
    let mut i = 0;
    while buf.has_remaining() {
        let before = buf.remaining();
        v.push(
            T::decode(buf, version)
                .map_err(|e| e.in_field("Vec", index_name(i), start - before, version))?,
        );
        i += 1;
    }
    Ok(v)
}

/// Encodes every value of a slice.
pub fn enc_vec<T: crate::Wire, B: BufMut + ?Sized>(
    buf: &mut B,
    v: &[T],
    version: Version,
) -> Result<(), EncodeError> {
    for (i, x) in v.iter().enumerate() {
        x.encode(buf, version)
            .map_err(|e| e.in_field("Vec", index_name(i), 0, version))?;
    }
    Ok(())
}

/// Field offsets at the current version from per-field sizes, padding and presence.
pub const fn offsets<const K: usize>(
    sizes: &[Option<usize>; K],
    pads: &[usize; K],
    present: &[bool; K],
) -> ([Option<usize>; K], Option<usize>) {
    let mut offs = [None; K];
    let mut cur = Some(0usize);
    let mut i = 0;
    while i < K {
        if present[i] {
            cur = match cur {
                Some(c) => Some(c + pads[i]),
                None => None,
            };
            offs[i] = cur;
            cur = match (cur, sizes[i]) {
                (Some(c), Some(s)) => Some(c + s),
                _ => None,
            };
        }
        i += 1;
    }
    (offs, cur)
}

/// `None` as 0, for offsets used only when the type is known fixed-size.
pub const fn unwrap_all<const K: usize>(v: [Option<usize>; K]) -> [usize; K] {
    let mut out = [0usize; K];
    let mut i = 0;
    while i < K {
        out[i] = match v[i] {
            Some(x) => x,
            None => 0,
        };
        i += 1;
    }
    out
}

/// Largest of the alignments.
pub const fn max_align<const K: usize>(a: [usize; K]) -> usize {
    let mut m = 1;
    let mut i = 0;
    while i < K {
        if a[i] > m {
            m = a[i];
        }
        i += 1;
    }
    m
}

/// Compile-time alignment check for layouts the macro cannot compute.
pub const fn assert_aligned(offset: Option<usize>, align: usize, msg: &'static str) {
    if let Some(o) = offset {
        if align > 1 && o % align != 0 {
            panic!("{}", msg);
        }
    }
}

/// The size to compare with a declared `size = N`; `N` itself when unknown.
pub const fn size_or(size: Option<usize>, declared: usize) -> usize {
    match size {
        Some(s) => s,
        None => declared,
    }
}

/// `Some(n)` option helper usable in consts.
pub const fn mul_opt(a: Option<usize>, n: usize) -> Option<usize> {
    match a {
        Some(x) => Some(x * n),
        None => None,
    }
}

/// The truncation error of a fixed-size struct: names the first field that
/// does not fit in the `have` bytes available.
#[cold]
pub fn truncated_fields(
    ty: &'static str,
    names: &[&'static str],
    offs: &[usize],
    sizes: &[usize],
    total: usize,
    have: usize,
    version: Version,
) -> DecodeError {
    for i in 0..names.len() {
        if offs[i] + sizes[i] > have {
            let avail = have.saturating_sub(offs[i]);
            return DecodeError::truncated(sizes[i], avail)
                .in_field(ty, names[i], offs[i], version);
        }
    }
    DecodeError::truncated(total, have).in_type(ty, version)
}

/// A zeroed scratch buffer for encoding large fixed-size values (generated
/// code names only `::sdwire` and `::core`, never `::std`).
pub fn zeroed_buf(n: usize) -> Vec<u8> {
    vec![0u8; n]
}

/// Fills an existing slice of little-endian numbers from `buf` (in-place decode).
#[inline]
pub fn dec_into_le<T: WireInt, B: Buf + ?Sized>(
    buf: &mut B,
    out: &mut [T],
) -> Result<(), DecodeError> {
    ensure_remaining(buf, core::mem::size_of_val(out))?;
    get_slice_le(buf, out);
    Ok(())
}

/// Fills an existing slice of big-endian numbers from `buf` (in-place decode).
#[inline]
pub fn dec_into_be<T: WireInt, B: Buf + ?Sized>(
    buf: &mut B,
    out: &mut [T],
) -> Result<(), DecodeError> {
    ensure_remaining(buf, core::mem::size_of_val(out))?;
    get_slice_be(buf, out);
    Ok(())
}
