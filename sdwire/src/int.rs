//! Integers with a byte order: the [`WireInt`] trait the generated code uses,
//! and the [`Le`] / [`Be`] typed integers for zero-copy views.

use crate::{DecodeError, EncodeError, Layout, Order, Version, Wire};
use bytes::{Buf, BufMut};
use core::fmt;

mod sealed {
    pub trait Sealed {}
}

/// A fixed-width number that can be put on the wire in either byte order.
///
/// Implemented for every integer width and for `f32`/`f64`. Generated code
/// calls these with the byte order named by `#[wire(le)]` / `#[wire(be)]`;
/// a bare multi-byte integer field without a byte order does not compile.
pub trait WireInt: Copy + Default + PartialEq + bytemuck::Pod + sealed::Sealed + 'static {
    /// Width in bytes.
    const SIZE: usize;
    /// The value as bytes in memory.
    type Bytes: Copy + Default + AsRef<[u8]> + AsMut<[u8]> + bytemuck::Pod + Eq + core::hash::Hash;
    /// Name used in layout tables and messages.
    const NAME: &'static str;
    /// Reads a little-endian value from the first `SIZE` bytes of `c`.
    fn read_le(c: &[u8]) -> Self;
    /// Reads a big-endian value from the first `SIZE` bytes of `c`.
    fn read_be(c: &[u8]) -> Self;
    /// Little-endian bytes of the value.
    fn to_le_array(self) -> Self::Bytes;
    /// Big-endian bytes of the value.
    fn to_be_array(self) -> Self::Bytes;
    /// Value from little-endian bytes.
    fn from_le_array(b: Self::Bytes) -> Self;
    /// Value from big-endian bytes.
    fn from_be_array(b: Self::Bytes) -> Self;
    /// Reverses the byte order.
    fn swap(self) -> Self;
    /// The value widened to `u64` bits (for error messages and length fields).
    fn to_u64(self) -> u64;
    /// The value narrowed from `u64`, or `None` if it does not fit.
    fn try_from_u64(v: u64) -> Option<Self>;
}

macro_rules! impl_int {
    ($($t:ident => $n:expr),*) => {$(
        impl sealed::Sealed for $t {}
        impl WireInt for $t {
            const SIZE: usize = $n;
            type Bytes = [u8; $n];
            const NAME: &'static str = stringify!($t);
            #[inline(always)]
            fn read_le(c: &[u8]) -> Self { <$t>::from_le_bytes(c[..$n].try_into().unwrap()) }
            #[inline(always)]
            fn read_be(c: &[u8]) -> Self { <$t>::from_be_bytes(c[..$n].try_into().unwrap()) }
            #[inline(always)]
            fn to_le_array(self) -> [u8; $n] { self.to_le_bytes() }
            #[inline(always)]
            fn to_be_array(self) -> [u8; $n] { self.to_be_bytes() }
            #[inline(always)]
            fn from_le_array(b: [u8; $n]) -> Self { <$t>::from_le_bytes(b) }
            #[inline(always)]
            fn from_be_array(b: [u8; $n]) -> Self { <$t>::from_be_bytes(b) }
            #[inline(always)]
            fn swap(self) -> Self { <$t>::from_ne_bytes({ let mut b = self.to_ne_bytes(); b.reverse(); b }) }
            #[inline(always)]
            #[allow(clippy::cast_sign_loss, clippy::cast_possible_truncation)]
            fn to_u64(self) -> u64 { impl_int!(@to_u64 self, $t) }
            #[inline(always)]
            fn try_from_u64(v: u64) -> Option<Self> { impl_int!(@from_u64 v, $t) }
        }
    )*};
    (@to_u64 $s:ident, f32) => { $s.to_bits() as u64 };
    (@to_u64 $s:ident, f64) => { $s.to_bits() };
    (@to_u64 $s:ident, $t:ident) => { $s as u64 };
    (@from_u64 $v:ident, f32) => { u32::try_from($v).ok().map(f32::from_bits) };
    (@from_u64 $v:ident, f64) => { Some(f64::from_bits($v)) };
    (@from_u64 $v:ident, $t:ident) => { <$t>::try_from($v).ok() };
}
impl_int!(u8 => 1, i8 => 1, u16 => 2, i16 => 2, u32 => 4, i32 => 4, u64 => 8, i64 => 8,
          u128 => 16, i128 => 16, f32 => 4, f64 => 8);

macro_rules! typed_int {
    ($name:ident, $order:ident, $read:ident, $to:ident, $from:ident, $doc:literal) => {
        #[doc = $doc]
        ///
        /// It stores the bytes exactly as on the wire, has alignment 1 and
        /// implements [`bytemuck::Pod`], so a `#[repr(C)]` struct of them can
        /// be viewed in place over a received buffer without copying.
        ///
        /// ```
        /// use sdwire::{Le, Be};
        /// let x = Le::<u32>::new(0x0102_0304);
        /// assert_eq!(x.as_bytes(), &[4, 3, 2, 1]);
        /// assert_eq!(Be::<u16>::new(0x0102).as_bytes(), &[1, 2]);
        /// assert_eq!(x.get(), 0x0102_0304);
        /// ```
        #[repr(transparent)]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name<T: WireInt>(T::Bytes);

        impl<T: WireInt> $name<T> {
            /// Wraps a native value.
            #[inline(always)]
            pub fn new(v: T) -> Self {
                $name(v.$to())
            }
            /// The native value.
            #[inline(always)]
            pub fn get(self) -> T {
                T::$from(self.0)
            }
            /// Replaces the value.
            #[inline(always)]
            pub fn set(&mut self, v: T) {
                self.0 = v.$to();
            }
            /// The bytes as they are on the wire.
            pub fn as_bytes(&self) -> &[u8] {
                self.0.as_ref()
            }
        }

        impl<T: WireInt> From<T> for $name<T> {
            fn from(v: T) -> Self {
                Self::new(v)
            }
        }

        impl<T: WireInt + fmt::Debug> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.get(), f)
            }
        }

        // SAFETY: a transparent wrapper over `T::Bytes`, which is itself Pod
        // (a byte array): no padding, every bit pattern valid.
        unsafe impl<T: WireInt> bytemuck::Zeroable for $name<T> {}
        // SAFETY: as above.
        unsafe impl<T: WireInt> bytemuck::Pod for $name<T> {}

        impl<T: WireInt> Wire for $name<T> {
            const FIXED_SIZE: Option<usize> = Some(T::SIZE);
            const ALIGN: usize = T::SIZE;
            const LAYOUT: &'static Layout = &Layout::primitive(T::NAME, T::SIZE, Order::$order);
            #[inline]
            fn wire_size(&self, _: Version) -> usize {
                T::SIZE
            }
            #[inline]
            fn encode<B: BufMut + ?Sized>(
                &self,
                buf: &mut B,
                _: Version,
            ) -> Result<(), EncodeError> {
                crate::__private::ensure_room(buf, T::SIZE)?;
                buf.put_slice(self.0.as_ref());
                Ok(())
            }
            #[inline]
            fn decode<B: Buf + ?Sized>(buf: &mut B, _: Version) -> Result<Self, DecodeError> {
                crate::__private::ensure_remaining(buf, T::SIZE)?;
                let mut b = T::Bytes::default();
                buf.copy_to_slice(b.as_mut());
                Ok($name(b))
            }
        }
    };
}

typed_int!(
    Le,
    Le,
    read_le,
    to_le_array,
    from_le_array,
    "A little-endian integer as stored on the wire."
);
typed_int!(
    Be,
    Be,
    read_be,
    to_be_array,
    from_be_array,
    "A big-endian integer as stored on the wire."
);
