//! Layout tables: what the derive knows about a type, as data.
//!
//! Every `Wire` type exposes a `&'static Layout` const. Tools use it to print
//! protocol documentation and to compare a layout against a committed
//! snapshot in a breaking-change check ([`Layout::render`] gives a stable
//! text form for that).

use crate::Version;
use core::fmt::Write as _;

/// Byte order of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Order {
    /// Little-endian.
    Le,
    /// Big-endian.
    Be,
    /// Single bytes, or a nested type that carries its own byte order.
    None,
}

impl Order {
    /// `"le"`, `"be"` or `"-"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Order::Le => "le",
            Order::Be => "be",
            Order::None => "-",
        }
    }
}

/// One field of a struct (or of an enum variant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldLayout {
    /// Field name (`"0"`, `"1"`... for tuple fields).
    pub name: &'static str,
    /// The Rust type as written.
    pub ty: &'static str,
    /// Byte offset at the type's current version, if every earlier field has a fixed size.
    pub offset: Option<usize>,
    /// Encoded size, if fixed.
    pub size: Option<usize>,
    /// Byte order.
    pub order: Order,
    /// First version that has this field.
    pub since: Option<Version>,
    /// First version that no longer has this field.
    pub until: Option<Version>,
    /// Written as zeros and ignored on decode.
    pub reserved: bool,
    /// The default used when the field is absent, as written in the source.
    pub default: Option<&'static str>,
    /// For a length or count field: the field it measures.
    pub measures: Option<&'static str>,
    /// Summary of the field's doc comment: its first paragraph (empty if none).
    pub doc: &'static str,
    /// Layout of the field's type; of the element type for arrays and
    /// `Vec`s (`None` for types the derive cannot name, e.g. `Bytes`).
    pub layout: Option<&'static Layout>,
    /// Number of elements, for fixed-size arrays.
    pub count: Option<usize>,
}

/// One named bit (or bit mask) of a flags type, for generated views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagInfo {
    /// Name of the flag, upper case as the protocol spells it (`"WRITE"`).
    pub name: &'static str,
    /// The bits it sets.
    pub bits: u64,
    /// First line of its doc comment.
    pub doc: &'static str,
}

/// One opcode of an opcode table (an enum deriving `Wire`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpInfo {
    /// Variant name.
    pub name: &'static str,
    /// The tag on the wire.
    pub opcode: u64,
    /// First version that has this opcode.
    pub since: Option<Version>,
    /// First version that no longer has it.
    pub until: Option<Version>,
    /// The payload type, if any, as written.
    pub payload: Option<&'static str>,
    /// Layout of the payload, for a variant with exactly one field.
    pub layout: Option<&'static Layout>,
    /// Summary of the variant's doc comment: its first paragraph.
    pub doc: &'static str,
}

/// What kind of type a layout describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayoutKind {
    /// A number, byte, or array of them.
    Primitive,
    /// A struct: see `fields`.
    Struct,
    /// An enum with a tag: see `ops`.
    Enum,
    /// A hand-written or container type (arrays, `Vec`, `Bytes`).
    Other,
}

/// The layout of one `Wire` type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Type name.
    pub name: &'static str,
    /// Kind of type.
    pub kind: LayoutKind,
    /// Encoded size at the current version, if fixed.
    pub size: Option<usize>,
    /// Natural C alignment.
    pub align: usize,
    /// Default byte order declared on the type.
    pub order: Order,
    /// `(compat, current)` version window, for versioned types.
    pub versions: Option<(Version, Version)>,
    /// Fields, for structs.
    pub fields: &'static [FieldLayout],
    /// Opcodes, for enums.
    pub ops: &'static [OpInfo],
    /// Width of the tag, for enums.
    pub tag_size: usize,
    /// Summary of the doc comment: its first paragraph.
    pub doc: &'static str,
    /// Named bits, for a flags type (`#[wire(flags = PATH)]`).
    pub flags: &'static [FlagInfo],
}

impl Layout {
    /// Layout of a primitive of `size` bytes.
    pub const fn primitive(name: &'static str, size: usize, order: Order) -> Layout {
        Layout {
            name,
            kind: LayoutKind::Primitive,
            size: Some(size),
            align: size,
            order,
            versions: None,
            fields: &[],
            ops: &[],
            tag_size: 0,
            doc: "",
            flags: &[],
        }
    }

    /// Layout of a type with no statically known structure.
    pub const fn opaque(name: &'static str, size: Option<usize>, align: usize) -> Layout {
        Layout {
            name,
            kind: LayoutKind::Other,
            size,
            align,
            order: Order::None,
            versions: None,
            fields: &[],
            ops: &[],
            tag_size: 0,
            doc: "",
            flags: &[],
        }
    }

    /// Looks a field up by name.
    pub fn field(&self, name: &str) -> Option<&FieldLayout> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Looks an opcode up by tag.
    pub fn op(&self, opcode: u64) -> Option<&OpInfo> {
        self.ops.iter().find(|o| o.opcode == opcode)
    }

    /// A stable, line-oriented text form of the layout, one line per field or
    /// opcode. Commit it as a snapshot and diff it to catch breaking changes.
    ///
    /// ```
    /// # use sdwire::Wire;
    /// #[derive(Wire)]
    /// #[wire(le, size = 8)]
    /// struct Hdr { op: u8, flags: u8, len: u16, id: u32 }
    /// assert_eq!(Hdr::LAYOUT.render(),
    ///     "struct Hdr size=8 align=4\n  field op off=0 size=1 order=- ty=u8\n  \
    ///      field flags off=1 size=1 order=- ty=u8\n  field len off=2 size=2 order=le ty=u16\n  \
    ///      field id off=4 size=4 order=le ty=u32\n");
    /// ```
    pub fn render(&self) -> String {
        let mut s = String::new();
        let kind = match self.kind {
            LayoutKind::Struct => "struct",
            LayoutKind::Enum => "enum",
            LayoutKind::Primitive => "primitive",
            LayoutKind::Other => "type",
        };
        let _ = write!(s, "{kind} {}", self.name);
        match self.size {
            Some(n) => {
                let _ = write!(s, " size={n}");
            }
            None => s.push_str(" size=var"),
        }
        let _ = write!(s, " align={}", self.align);
        if let Some((c, v)) = self.versions {
            let _ = write!(s, " versions={c:#x}..={v:#x}");
        }
        if self.kind == LayoutKind::Enum {
            let _ = write!(s, " tag={}", self.tag_size);
        }
        s.push('\n');
        for f in self.fields {
            let _ = write!(s, "  field {}", f.name);
            match f.offset {
                Some(o) => {
                    let _ = write!(s, " off={o}");
                }
                None => s.push_str(" off=var"),
            }
            match f.size {
                Some(n) => {
                    let _ = write!(s, " size={n}");
                }
                None => s.push_str(" size=var"),
            }
            let _ = write!(
                s,
                " order={} ty={}",
                f.order.as_str(),
                f.ty.replace(' ', "")
            );
            if let Some(v) = f.since {
                let _ = write!(s, " since={v:#x}");
            }
            if let Some(v) = f.until {
                let _ = write!(s, " until={v:#x}");
            }
            if f.reserved {
                s.push_str(" reserved");
            }
            if let Some(d) = f.default {
                let _ = write!(s, " default={}", d.replace(' ', ""));
            }
            if let Some(m) = f.measures {
                let _ = write!(s, " measures={m}");
            }
            s.push('\n');
        }
        for o in self.ops {
            let _ = write!(s, "  op {:#04x} {}", o.opcode, o.name);
            if let Some(p) = o.payload {
                let _ = write!(s, "({})", p.replace(' ', ""));
            }
            if let Some(v) = o.since {
                let _ = write!(s, " since={v:#x}");
            }
            if let Some(v) = o.until {
                let _ = write!(s, " until={v:#x}");
            }
            s.push('\n');
        }
        s
    }
}
