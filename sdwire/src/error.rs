//! Decode and encode errors.
//!
//! Errors are boxed so that `Result<T, DecodeError>` stays one pointer wide
//! and the success path never allocates. As an error travels outwards through
//! nested structs, each level prepends its field name and adds the field's
//! byte offset, so the final message names the outermost type, the whole
//! field path, the absolute byte offset and the protocol version.

use crate::Version;
use core::fmt;

/// What went wrong while decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// The input ended before the value did.
    Truncated {
        /// Bytes the value needed from this point.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// A byte pattern that no value of the type encodes (e.g. a `bool` of 7).
    InvalidValue {
        /// The raw value read.
        value: u64,
        /// What was expected.
        expected: &'static str,
    },
    /// An enum tag (opcode) that names no variant at this version.
    UnknownTag {
        /// The raw tag.
        tag: u64,
    },
    /// A versioned type was asked to decode a version outside its window.
    UnsupportedVersion {
        /// The version requested.
        version: Version,
        /// Oldest version the type reads.
        compat: Version,
        /// Newest version the type reads and writes.
        current: Version,
    },
    /// A length or count field is larger than its declared maximum or than the input.
    LengthTooLarge {
        /// The length read from the wire.
        len: u64,
        /// The maximum allowed.
        max: u64,
    },
    /// A `#[wire(magic = N)]` field did not hold its constant.
    BadMagic {
        /// The constant the field must hold.
        expected: u64,
        /// What the input held.
        got: u64,
    },
    /// A custom check in a hand-written `Wire` impl failed.
    Custom(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Inner {
    kind: DecodeErrorKind,
    ty: &'static str,
    path: Vec<&'static str>,
    offset: usize,
    version: Version,
}

/// A decode failure, with the type, field path, byte offset and version where it happened.
///
/// # Example
/// ```
/// use sdwire::{Wire, DecodeErrorKind};
/// #[derive(Wire, Debug)]
/// #[wire(le)]
/// struct Pair { a: u32, b: u32 }
/// let err = Pair::decode(&mut &[1u8, 0, 0, 0, 2][..], 0).unwrap_err();
/// assert_eq!(err.path(), ["b"]);
/// assert_eq!(err.offset(), 4);
/// assert!(matches!(err.kind(), DecodeErrorKind::Truncated { needed: 4, available: 1 }));
/// assert_eq!(err.to_string(),
///     "cannot decode Pair.b at byte 4 (version 0): truncated: needed 4 bytes, 1 available");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct DecodeError(Box<Inner>);

impl DecodeError {
    /// A new error of `kind` at offset 0 of an anonymous value.
    #[cold]
    pub fn new(kind: DecodeErrorKind) -> Self {
        DecodeError(Box::new(Inner {
            kind,
            ty: "",
            path: Vec::new(),
            offset: 0,
            version: 0,
        }))
    }
    /// Shorthand for [`DecodeErrorKind::Truncated`].
    #[cold]
    pub fn truncated(needed: usize, available: usize) -> Self {
        Self::new(DecodeErrorKind::Truncated { needed, available })
    }
    /// Records that the error happened inside `field` of `ty`, which starts
    /// `field_offset` bytes into `ty`. Called by generated code as the error
    /// travels outwards.
    #[cold]
    pub fn in_field(
        mut self,
        ty: &'static str,
        field: &'static str,
        field_offset: usize,
        version: Version,
    ) -> Self {
        self.0.path.insert(0, field);
        self.0.offset += field_offset;
        self.0.ty = ty;
        self.0.version = version;
        self
    }
    /// Records the outermost type name and the version being decoded.
    #[cold]
    pub fn in_type(mut self, ty: &'static str, version: Version) -> Self {
        if self.0.ty.is_empty() || self.0.path.is_empty() {
            self.0.ty = ty;
        }
        self.0.version = version;
        self
    }
    /// Moves a field's error `n` bytes later (an opcode table's body
    /// starts after its tag); errors of the value itself (its tag, its
    /// version) stay at its start.
    #[cold]
    #[doc(hidden)]
    pub fn shifted(mut self, n: usize) -> Self {
        if !self.0.path.is_empty() {
            self.0.offset += n;
        }
        self
    }
    /// What went wrong.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.0.kind
    }
    /// Name of the outermost type being decoded.
    pub fn type_name(&self) -> &'static str {
        self.0.ty
    }
    /// Field names from the outermost type down to the failing field.
    pub fn path(&self) -> &[&'static str] {
        &self.0.path
    }
    /// Byte offset of the failing field from the start of the outermost value.
    pub fn offset(&self) -> usize {
        self.0.offset
    }
    /// Version the value was decoded as.
    pub fn version(&self) -> Version {
        self.0.version
    }
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeErrorKind::Truncated { needed, available } => {
                write!(f, "truncated: needed {needed} bytes, {available} available")
            }
            DecodeErrorKind::InvalidValue { value, expected } => {
                write!(f, "invalid value {value:#x}: expected {expected}")
            }
            DecodeErrorKind::UnknownTag { tag } => write!(f, "unknown tag {tag:#x}"),
            DecodeErrorKind::UnsupportedVersion { version, compat, current } => write!(
                f,
                "unsupported version {version:#x}: this type reads versions {compat:#x}..={current:#x}"
            ),
            DecodeErrorKind::LengthTooLarge { len, max } => {
                write!(f, "length {len} exceeds the maximum {max}")
            }
            DecodeErrorKind::BadMagic { expected, got } => {
                write!(f, "bad magic: expected {expected:#x}, got {got:#x}")
            }
            DecodeErrorKind::Custom(msg) => f.write_str(msg),
        }
    }
}

fn write_location(
    f: &mut fmt::Formatter<'_>,
    ty: &str,
    path: &[&'static str],
    offset: usize,
    version: Version,
) -> fmt::Result {
    f.write_str(if ty.is_empty() { "value" } else { ty })?;
    for p in path {
        write!(f, ".{p}")?;
    }
    write!(f, " at byte {offset} (version {version})")
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot decode ")?;
        write_location(f, self.0.ty, &self.0.path, self.0.offset, self.0.version)?;
        write!(f, ": {}", self.0.kind)
    }
}

impl fmt::Debug for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for DecodeError {}

/// What went wrong while encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeErrorKind {
    /// The destination buffer has no room for the value.
    BufferTooSmall {
        /// Bytes the value needs.
        needed: usize,
        /// Bytes of room left.
        available: usize,
    },
    /// Encoding as an older version would silently drop a field whose value
    /// is not its default (mark the field `ignorable` to allow it).
    FieldDropped {
        /// The version requested.
        version: Version,
    },
    /// A versioned type was asked to encode a version outside its window.
    UnsupportedVersion {
        /// The version requested.
        version: Version,
        /// Oldest version the type writes.
        compat: Version,
        /// Newest version the type writes.
        current: Version,
    },
    /// A payload is longer than its length field can express or than its maximum.
    LengthOverflow {
        /// Actual length of the payload.
        len: u64,
        /// Largest length allowed.
        max: u64,
    },
    /// An enum variant that does not exist at the requested version.
    VariantUnavailable {
        /// The version requested.
        version: Version,
    },
    /// A custom check in a hand-written `Wire` impl failed.
    Custom(&'static str),
}

impl fmt::Display for EncodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeErrorKind::BufferTooSmall { needed, available } => {
                write!(f, "buffer too small: needed {needed} bytes, {available} available")
            }
            EncodeErrorKind::FieldDropped { version } => write!(
                f,
                "field holds a non-default value but does not exist at version {version:#x} \
                 (mark it `#[wire(ignorable)]` to allow dropping it)"
            ),
            EncodeErrorKind::UnsupportedVersion { version, compat, current } => write!(
                f,
                "unsupported version {version:#x}: this type writes versions {compat:#x}..={current:#x}"
            ),
            EncodeErrorKind::LengthOverflow { len, max } => {
                write!(f, "length {len} exceeds the maximum {max}")
            }
            EncodeErrorKind::VariantUnavailable { version } => {
                write!(f, "variant does not exist at version {version:#x}")
            }
            EncodeErrorKind::Custom(msg) => f.write_str(msg),
        }
    }
}

/// An encode failure, with the type, field path, byte offset and version.
#[derive(Clone, PartialEq, Eq)]
pub struct EncodeError(
    Box<(
        EncodeErrorKind,
        &'static str,
        Vec<&'static str>,
        usize,
        Version,
    )>,
);

impl EncodeError {
    /// A new error of `kind`.
    #[cold]
    pub fn new(kind: EncodeErrorKind) -> Self {
        EncodeError(Box::new((kind, "", Vec::new(), 0, 0)))
    }
    /// Records that the error happened inside `field` of `ty` at `field_offset`.
    #[cold]
    pub fn in_field(
        mut self,
        ty: &'static str,
        field: &'static str,
        field_offset: usize,
        version: Version,
    ) -> Self {
        self.0 .2.insert(0, field);
        self.0 .3 += field_offset;
        self.0 .1 = ty;
        self.0 .4 = version;
        self
    }
    /// Records the outermost type name and the version being encoded.
    #[cold]
    pub fn in_type(mut self, ty: &'static str, version: Version) -> Self {
        if self.0 .1.is_empty() || self.0 .2.is_empty() {
            self.0 .1 = ty;
        }
        self.0 .4 = version;
        self
    }
    /// What went wrong.
    pub fn kind(&self) -> &EncodeErrorKind {
        &self.0 .0
    }
    /// Name of the outermost type being encoded.
    pub fn type_name(&self) -> &'static str {
        self.0 .1
    }
    /// Field names from the outermost type down to the failing field.
    pub fn path(&self) -> &[&'static str] {
        &self.0 .2
    }
    /// Byte offset of the failing field (at the requested version).
    pub fn offset(&self) -> usize {
        self.0 .3
    }
    /// Version requested.
    pub fn version(&self) -> Version {
        self.0 .4
    }
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot encode ")?;
        write_location(f, self.0 .1, &self.0 .2, self.0 .3, self.0 .4)?;
        write!(f, ": {}", self.0 .0)
    }
}

impl fmt::Debug for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for EncodeError {}
