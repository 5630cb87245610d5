//! Types without versions, zero padding, and decoding a message whose last
//! field's length is known from elsewhere.

use crate::{DecodeError, DecodeErrorKind, EncodeError, Layout, Version, Wire};
use bytes::{Buf, BufMut, Bytes};

/// The version the unversioned shorthands pass down (see [`Unversioned`]).
pub const NO_VERSION: Version = 0;

/// A type with no version window, so every call can leave the version out.
///
/// `#[derive(Wire)]` implements it for every struct and enum without
/// `#[wire(version = ..)]`. The methods call the versioned ones with
/// [`NO_VERSION`] (0), which every unversioned type accepts. A versioned
/// type nested inside gets version 0 too, so give it `compat = 0` or call
/// the versioned methods.
///
/// ```
/// use sdwire::{Unversioned, Wire};
///
/// #[derive(Wire, Debug, PartialEq)]
/// #[wire(be, packed)]
/// struct Hello { magic: u64, flags: u16 }
///
/// let h = Hello { magic: 0x4e42444d41474943, flags: 3 };
/// let bytes = sdwire::to_vec_unversioned(&h).unwrap();
/// assert_eq!(&bytes[..8], b"NBDMAGIC");
/// assert_eq!(Hello::decode_unversioned(&mut &bytes[..]).unwrap(), h);
/// assert_eq!(sdwire::from_slice_unversioned::<Hello>(&bytes).unwrap(), h);
/// ```
///
/// A versioned type does not implement it: its caller must say which
/// version to speak.
///
/// ```compile_fail
/// use sdwire::Wire;
/// #[derive(Wire)]
/// #[wire(le, version = 2, compat = 1)]
/// struct Put { key: u32 }
/// sdwire::to_vec_unversioned(&Put { key: 1 }); // error: `Put` is versioned
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is versioned (or not `Wire`): say which version to speak",
    label = "`{Self}` has a version window",
    note = "call the versioned form instead: `sdwire::to_vec(&value, version)`, `T::decode(buf, version)`"
)]
pub trait Unversioned: Wire {
    /// [`Wire::encode`] without a version.
    ///
    /// # Errors
    /// As [`Wire::encode`].
    #[inline]
    fn encode_unversioned<B: BufMut + ?Sized>(&self, buf: &mut B) -> Result<(), EncodeError> {
        self.encode(buf, NO_VERSION)
    }

    /// [`Wire::decode`] without a version.
    ///
    /// # Errors
    /// As [`Wire::decode`].
    #[inline]
    fn decode_unversioned<B: Buf + ?Sized>(buf: &mut B) -> Result<Self, DecodeError> {
        Self::decode(buf, NO_VERSION)
    }

    /// [`Wire::wire_size`] without a version.
    #[inline]
    fn size_unversioned(&self) -> usize {
        self.wire_size(NO_VERSION)
    }
}

/// [`crate::to_vec`] for an [`Unversioned`] type.
///
/// # Errors
/// As [`Wire::encode`].
pub fn to_vec_unversioned<T: Unversioned>(value: &T) -> Result<Vec<u8>, EncodeError> {
    crate::to_vec(value, NO_VERSION)
}

/// [`crate::to_bytes`] for an [`Unversioned`] type.
///
/// # Errors
/// As [`Wire::encode`].
pub fn to_bytes_unversioned<T: Unversioned>(value: &T) -> Result<Bytes, EncodeError> {
    crate::to_bytes(value, NO_VERSION)
}

/// [`crate::from_slice`] for an [`Unversioned`] type.
///
/// # Errors
/// As [`Wire::decode`].
pub fn from_slice_unversioned<T: Unversioned>(bytes: &[u8]) -> Result<T, DecodeError> {
    crate::from_slice(bytes, NO_VERSION)
}

macro_rules! unversioned {
    ($($t:ty),*) => {$( impl Unversioned for $t {} )*};
}
unversioned!(u8, i8, bool, ());
impl<T: crate::WireInt> Unversioned for crate::Le<T> {}
impl<T: crate::WireInt> Unversioned for crate::Be<T> {}
impl<T: Unversioned, const N: usize> Unversioned for [T; N] {}
impl<const N: usize> Unversioned for Zeros<N> {}

/// `N` zero bytes: written as zeros, skipped on decode (whatever they hold,
/// like a `reserved` field).
///
/// Use it for padding that is sometimes absent, as an
/// `Option<Zeros<N>>` field with `#[wire(optional)]` (NBD's 124 zero bytes
/// after the export info, left out once the client asked for
/// `NO_ZEROES`):
///
/// ```
/// use sdwire::{Unversioned, Wire, Zeros};
///
/// #[derive(Wire, Debug, PartialEq)]
/// #[wire(be)]
/// struct ExportInfo {
///     size: u64,
///     flags: u16,
///     #[wire(optional)]
///     zeroes: Option<Zeros<124>>,
/// }
///
/// let padded = ExportInfo { size: 1 << 20, flags: 1, zeroes: Some(Zeros) };
/// assert_eq!(sdwire::to_vec_unversioned(&padded).unwrap().len(), 134);
/// let short = ExportInfo { zeroes: None, ..padded };
/// assert_eq!(sdwire::to_vec_unversioned(&short).unwrap().len(), 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Zeros<const N: usize>;

impl<const N: usize> Wire for Zeros<N> {
    const FIXED_SIZE: Option<usize> = Some(N);
    const ALIGN: usize = 1;
    const LAYOUT: &'static Layout = &Layout::opaque("Zeros", Some(N), 1);
    #[inline]
    fn wire_size(&self, _: Version) -> usize {
        N
    }
    #[inline]
    fn encode<B: BufMut + ?Sized>(&self, buf: &mut B, _: Version) -> Result<(), EncodeError> {
        crate::__private::enc_zeros(buf, N)
    }
    #[inline]
    fn decode<B: Buf + ?Sized>(buf: &mut B, _: Version) -> Result<Self, DecodeError> {
        crate::__private::skip(buf, N)?;
        Ok(Zeros)
    }
}

/// Decodes a `T` whose last field is a `#[wire(rest)]` payload or
/// `#[wire(optional)]` tail of `tail_len` bytes, a length the message does
/// not carry (the protocol knows it from elsewhere: NBD's READ reply carries
/// as many bytes as its request asked for).
///
/// The fields before the last must have a fixed size; `T`'s layout gives
/// where the last one starts. Exactly that many bytes plus `tail_len` are
/// consumed from `buf`, and a `Bytes` payload read from a `Bytes` buffer is
/// not copied.
///
/// ```
/// use bytes::Bytes;
/// use sdwire::Wire;
///
/// #[derive(Wire, Debug)]
/// #[wire(be)]
/// struct SimpleReply {
///     #[wire(magic = 0x67446698)]
///     magic: u32,
///     error: u32,
///     cookie: u64,
///     #[wire(rest)]
///     data: Bytes,
/// }
///
/// // Two replies back to back: a READ of 4 bytes, then one without data.
/// let mut wire = Vec::new();
/// for (cookie, data) in [(1u64, &b"abcd"[..]), (2, &b""[..])] {
///     let r = SimpleReply { magic: 0, error: 0, cookie, data: Bytes::copy_from_slice(data) };
///     r.encode(&mut wire, 0).unwrap();
/// }
/// let mut buf = Bytes::from(wire);
/// let first: SimpleReply = sdwire::decode_with_len(&mut buf, 0, 4).unwrap();
/// assert_eq!((first.cookie, &first.data[..]), (1, &b"abcd"[..]));
/// let second: SimpleReply = sdwire::decode_with_len(&mut buf, 0, 0).unwrap();
/// assert_eq!((second.cookie, second.data.len()), (2, 0));
/// assert!(buf.is_empty());
/// ```
///
/// # Errors
/// As [`Wire::decode`]; `Truncated` when `buf` holds less than the whole
/// message; `Custom` when `T`'s fields before the last have no fixed size.
pub fn decode_with_len<T: Wire, B: Buf + ?Sized>(
    buf: &mut B,
    version: Version,
    tail_len: usize,
) -> Result<T, DecodeError> {
    let Some(prefix) = T::LAYOUT.fields.last().and_then(|f| f.offset) else {
        return Err(DecodeError::new(DecodeErrorKind::Custom(
            "decode_with_len needs a struct whose fields before the last have a fixed size",
        ))
        .in_type(T::LAYOUT.name, version));
    };
    let total = prefix.saturating_add(tail_len);
    crate::__private::ensure_remaining(buf, total)
        .map_err(|e| e.in_type(T::LAYOUT.name, version))?;
    let mut exact = Buf::take(&mut *buf, total);
    let v = T::decode(&mut exact, version)?;
    if exact.has_remaining() {
        return Err(
            DecodeError::new(DecodeErrorKind::Custom("bytes left over after the value")).in_field(
                T::LAYOUT.name,
                "<end>",
                total - exact.remaining(),
                version,
            ),
        );
    }
    Ok(v)
}
