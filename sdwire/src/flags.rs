//! Flag words: a [`bitflags`](https://docs.rs/bitflags) type as a wire field,
//! with a byte order and a policy for bits the type does not name.
//!
//! [`wire_flags!`](crate::wire_flags) implements [`Wire`](crate::Wire) (and
//! [`Unversioned`](crate::Unversioned)) for a type made by
//! `bitflags::bitflags!`:
//!
//! ```
//! use sdwire::{DecodeErrorKind, Wire};
//!
//! sdwire::bitflags::bitflags! {
//!     #[derive(Debug, Clone, Copy, PartialEq, Eq)]
//!     pub struct TransmissionFlags: u16 {
//!         const HAS_FLAGS = 1 << 0;
//!         const READ_ONLY = 1 << 1;
//!         const SEND_FLUSH = 1 << 2;
//!     }
//! }
//! sdwire::wire_flags!(TransmissionFlags, be, unknown = reject);
//!
//! #[derive(Wire, Debug, PartialEq)]
//! #[wire(be, packed)]
//! struct Export { size: u64, flags: TransmissionFlags }
//!
//! let e = Export { size: 4096, flags: TransmissionFlags::HAS_FLAGS | TransmissionFlags::SEND_FLUSH };
//! let b = sdwire::to_vec(&e, 0).unwrap();
//! assert_eq!(&b[8..], &[0, 0b101]);                       // big-endian u16
//! assert_eq!(sdwire::from_slice::<Export>(&b, 0).unwrap(), e);
//!
//! // A bit the type does not name is refused, with the field that held it.
//! let err = sdwire::from_slice::<Export>(&[0, 0, 0, 0, 0, 0, 0x10, 0, 0x80, 1], 0).unwrap_err();
//! assert_eq!(err.path(), ["flags"]);
//! assert!(matches!(err.kind(), DecodeErrorKind::InvalidValue { value: 0x8001, .. }));
//! ```
//!
//! The policies for unknown bits on decode:
//! * `unknown = reject`: an `InvalidValue` error naming the bits read;
//! * `unknown = truncate`: drop them (`from_bits_truncate`);
//! * `unknown = retain`: keep them (`from_bits_retain`), so a relay passes
//!   flags of a newer peer through unchanged.
//!
//! Encoding writes `bits()` as they are.

use crate::{DecodeError, DecodeErrorKind, WireInt};

/// What a decoder does with bits a flags type does not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnknownBits {
    /// Fail with [`DecodeErrorKind::InvalidValue`].
    Reject,
    /// Drop them.
    Truncate,
    /// Keep them.
    Retain,
}

/// The flags value of `bits` under `policy` (used by [`wire_flags!`](crate::wire_flags)).
#[doc(hidden)]
pub fn from_bits<F>(bits: F::Bits, policy: UnknownBits) -> Result<F, DecodeError>
where
    F: bitflags::Flags,
    F::Bits: WireInt,
{
    match policy {
        UnknownBits::Retain => Ok(F::from_bits_retain(bits)),
        UnknownBits::Truncate => Ok(F::from_bits_truncate(bits)),
        UnknownBits::Reject => F::from_bits(bits).ok_or_else(|| {
            DecodeError::new(DecodeErrorKind::InvalidValue {
                value: bits.to_u64(),
                expected: "only the flag bits the type names",
            })
        }),
    }
}

/// Implements [`Wire`](crate::Wire) and [`Unversioned`](crate::Unversioned)
/// for a `bitflags` type: `wire_flags!(Type, le|be, unknown = reject|truncate|retain)`.
///
/// See the [`flags`](crate::flags) module for an example. The type's
/// `Bits` must be an integer; a 1-byte flags type still names a byte order
/// (either) so every use reads the same.
#[macro_export]
macro_rules! wire_flags {
    (@order le) => {};
    (@order be) => {};
    (@order $other:ident) => {
        ::core::compile_error!(::core::concat!(
            "wire_flags!: unknown byte order `", ::core::stringify!($other), "`; write `le` or `be`"
        ));
    };
    (@policy reject) => {};
    (@policy truncate) => {};
    (@policy retain) => {};
    (@policy $other:ident) => {
        ::core::compile_error!(::core::concat!(
            "wire_flags!: unknown policy `unknown = ", ::core::stringify!($other),
            "`; write `unknown = reject` (an error), `unknown = truncate` (drop them) or `unknown = retain` (keep them)"
        ));
    };
    (@order_value le) => { $crate::Order::Le };
    (@order_value be) => { $crate::Order::Be };
    (@order_value $other:ident) => { $crate::Order::None };
    (@policy_value reject) => { $crate::flags::UnknownBits::Reject };
    (@policy_value truncate) => { $crate::flags::UnknownBits::Truncate };
    (@policy_value retain) => { $crate::flags::UnknownBits::Retain };
    (@policy_value $other:ident) => { $crate::flags::UnknownBits::Reject };
    (@enc le, $buf:ident, $bits:ident) => { $crate::__private::enc_le($buf, $bits) };
    (@enc be, $buf:ident, $bits:ident) => { $crate::__private::enc_be($buf, $bits) };
    (@enc $other:ident, $buf:ident, $bits:ident) => { ::core::result::Result::Ok(()) };
    (@dec le, $buf:ident) => { $crate::__private::dec_le($buf) };
    (@dec be, $buf:ident) => { $crate::__private::dec_be($buf) };
    (@dec $other:ident, $buf:ident) => { $crate::__private::dec_le($buf) };
    ($ty:ty, $order:ident, unknown = $policy:ident $(,)?) => {
        $crate::wire_flags!(@order $order);
        $crate::wire_flags!(@policy $policy);
        impl $crate::Wire for $ty {
            const FIXED_SIZE: ::core::option::Option<usize> = ::core::option::Option::Some(
                <<$ty as $crate::bitflags::Flags>::Bits as $crate::WireInt>::SIZE,
            );
            const ALIGN: usize = <<$ty as $crate::bitflags::Flags>::Bits as $crate::WireInt>::SIZE;
            const LAYOUT: &'static $crate::Layout = &$crate::Layout::primitive(
                ::core::stringify!($ty),
                <<$ty as $crate::bitflags::Flags>::Bits as $crate::WireInt>::SIZE,
                $crate::wire_flags!(@order_value $order),
            );
            #[inline]
            fn wire_size(&self, _: $crate::Version) -> usize {
                <<$ty as $crate::bitflags::Flags>::Bits as $crate::WireInt>::SIZE
            }
            #[inline]
            fn encode<B: $crate::bytes::BufMut + ?::core::marker::Sized>(
                &self,
                buf: &mut B,
                _: $crate::Version,
            ) -> ::core::result::Result<(), $crate::EncodeError> {
                let bits = $crate::bitflags::Flags::bits(self);
                $crate::wire_flags!(@enc $order, buf, bits)
            }
            #[inline]
            fn decode<B: $crate::bytes::Buf + ?::core::marker::Sized>(
                buf: &mut B,
                _: $crate::Version,
            ) -> ::core::result::Result<Self, $crate::DecodeError> {
                let bits: <$ty as $crate::bitflags::Flags>::Bits =
                    $crate::wire_flags!(@dec $order, buf)?;
                $crate::flags::from_bits::<$ty>(bits, $crate::wire_flags!(@policy_value $policy))
            }
        }
        impl $crate::Unversioned for $ty {}
    };
    ($($other:tt)*) => {
        ::core::compile_error!(
            "wire_flags! takes the flags type, its byte order and what to do with unknown bits: `sdwire::wire_flags!(MyFlags, be, unknown = reject)`"
        );
    };
}
