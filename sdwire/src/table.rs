//! Opcode tables: what `#[derive(Wire)]` on a tagged enum provides besides
//! encode/decode.

use crate::{DecodeError, EncodeError, OpInfo, Version};
use bytes::{Buf, BufMut};

/// An enum whose variants are selected by a tag (an opcode table).
///
/// Derived for every enum with `#[wire(tag = ...)]`. Besides `Wire` (tag then
/// body), it lets a protocol carry the tag somewhere else than right before
/// the body, as sheepdog does (opcode in byte 1, arguments in a union at 16):
/// read the tag yourself, then call [`OpTable::decode_body`].
pub trait OpTable: Sized {
    /// The tag's integer type.
    type Tag: Copy + Eq + core::fmt::Debug;
    /// Every opcode, in declaration order.
    const OPS: &'static [OpInfo];
    /// The tag of this value.
    fn tag(&self) -> Self::Tag;
    /// The variant's name.
    fn op_name(&self) -> &'static str;
    /// The table entry of a tag (an O(1) `match`), if the tag names a variant.
    fn op_info(tag: Self::Tag) -> Option<&'static OpInfo>;
    /// Whether `tag` names a variant at `version`.
    fn is_known(tag: Self::Tag, version: Version) -> bool;
    /// Decodes the variant selected by `tag` from its body.
    ///
    /// # Errors
    /// Unknown tag (or one not present at `version`), or the body's decode error.
    fn decode_body<B: Buf + ?Sized>(
        tag: Self::Tag,
        buf: &mut B,
        version: Version,
    ) -> Result<Self, DecodeError>;
    /// Encodes the variant's body without the tag.
    ///
    /// # Errors
    /// The body's encode error, or a variant that does not exist at `version`.
    fn encode_body<B: BufMut + ?Sized>(
        &self,
        buf: &mut B,
        version: Version,
    ) -> Result<(), EncodeError>;
    /// Encoded size of the body at `version`.
    fn body_size(&self, version: Version) -> usize;
}
