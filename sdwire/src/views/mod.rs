//! Views of one definition: C headers, a Wireshark dissector and a markdown
//! spec, rendered from the layout tables of any set of `Wire` types.
//!
//! Describe a protocol family once ([`Family`]: its opcode tables, the types
//! every protocol shares, and for each opcode its response arm), then call
//! [`c::render`], [`lua::render`] (which also needs the [`Framing`] of the
//! messages) or [`markdown::types`]. Nothing here knows any particular
//! protocol: everything comes from [`Layout`] tables, so a third-party
//! protocol gets the same views.
//!
//! ```
//! use sdwire::{views, Wire};
//! #[derive(Wire)]
//! #[wire(le, size = 8)]
//! /// A request.
//! struct Req { op: u8, _pad: [u8; 3], id: u32 }
//! #[derive(Wire)]
//! #[wire(tag = u8, no_handler)]
//! /// The operations.
//! enum Op {
//!     /// Read something.
//!     #[wire(opcode = 1)]
//!     Read(Req),
//! }
//! let family = views::Family {
//!     name: "demo",
//!     title: "Demo",
//!     c_prefix: "demo",
//!     common: vec![],
//!     protocols: vec![views::Protocol::new("main", Op::LAYOUT)],
//! };
//! let headers = views::c::render(&family);
//! let main = &headers.iter().find(|h| h.file == "demo_main.h").unwrap().text;
//! assert!(main.contains("struct demo_req {"));
//! assert!(main.contains("__le32 id;"));
//! assert!(main.contains("#define DEMO_OP_READ 0x01 /* Read something; arm: struct demo_req */"));
//! ```

pub mod c;
pub mod lua;
pub mod markdown;

use crate::{Layout, LayoutKind, OpInfo, Order, Version};
use std::collections::BTreeMap;

/// A family of protocols sharing one framing (e.g. sheepdog's client, peer
/// and admin protocols).
#[derive(Debug, Clone)]
pub struct Family {
    /// Short lower-case name: file names and the dissector's protocol name.
    pub name: &'static str,
    /// Human name, for titles.
    pub title: &'static str,
    /// Prefix of C identifiers (`"sd"` gives `struct sd_obj_req`, `SD_...`).
    pub c_prefix: &'static str,
    /// Types every protocol uses (headers, result codes, flags), rendered in
    /// the common header with every type they reach.
    pub common: Vec<&'static Layout>,
    /// The protocols, each with its opcode table.
    pub protocols: Vec<Protocol>,
}

/// One protocol of a family: an opcode table plus what its messages carry.
#[derive(Debug, Clone)]
pub struct Protocol {
    /// Short lower-case name (`"client"`).
    pub name: &'static str,
    /// The opcode table (an enum deriving `Wire`).
    pub ops: &'static Layout,
    /// The response arm an opcode's answer carries, if the protocol has one.
    pub response_arm: fn(u64) -> Option<&'static Layout>,
    /// More types the protocol uses that its opcode table does not reach
    /// (payload structures, for instance).
    pub types: Vec<&'static Layout>,
}

fn no_response_arm(_: u64) -> Option<&'static Layout> {
    None
}

impl Protocol {
    /// A protocol with no response arms and no extra types.
    pub fn new(name: &'static str, ops: &'static Layout) -> Protocol {
        Protocol {
            name,
            ops,
            response_arm: no_response_arm,
            types: Vec::new(),
        }
    }

    /// The request arm of an opcode (its variant's payload).
    pub fn request_arm(op: &OpInfo) -> Option<&'static Layout> {
        op.layout
    }

    /// Roots of the protocol's type graph: request and response arms and
    /// the extra types.
    fn roots(&self) -> Vec<&'static Layout> {
        let mut v = Vec::new();
        for op in self.ops.ops {
            v.extend(op.layout);
            v.extend((self.response_arm)(op.opcode));
        }
        v.extend(self.types.iter().copied());
        v
    }
}

/// How messages are framed, for the dissector: a fixed-size request and
/// response header carrying a version, an opcode, an id matching a response
/// to its request, and the length of the payload that follows.
#[derive(Debug, Clone)]
pub struct Framing {
    /// Default TCP port of the servers.
    pub tcp_port: u16,
    /// The request header.
    pub request: &'static Layout,
    /// The response header.
    pub response: &'static Layout,
    /// Name of the protocol-version field (request header).
    pub version: &'static str,
    /// Name of the opcode field (both headers).
    pub opcode: &'static str,
    /// Name of the id field (both headers).
    pub id: &'static str,
    /// Name of the payload-length field (both headers).
    pub length: &'static str,
    /// Name of the opcode-specific arm (both headers).
    pub body: &'static str,
    /// Name of the result field (response header).
    pub result: &'static str,
    /// A request carries its payload only when this flag field has this bit
    /// set (`None`: always).
    pub request_payload_flag: Option<(&'static str, u64)>,
}

/// A type worth a view of its own: structs and enums (not numbers).
fn is_named(l: &Layout) -> bool {
    matches!(l.kind, LayoutKind::Struct | LayoutKind::Enum)
}

/// For a struct of exactly one plain-number field (a newtype such as a flags
/// word or an id) or a field-less enum tag: the number's size and byte order.
/// Views show such types as that number.
pub fn as_number(l: &Layout) -> Option<(usize, Order)> {
    match l.kind {
        LayoutKind::Primitive => Some((l.size?, l.order)),
        LayoutKind::Struct => match l.fields {
            [f] if f.count.is_none() => {
                let inner = f.layout?;
                if inner.kind == LayoutKind::Primitive {
                    Some((f.size?, f.order))
                } else {
                    as_number(inner)
                }
            }
            _ => None,
        },
        LayoutKind::Enum if l.size == Some(l.tag_size) => Some((l.tag_size, l.order)),
        _ => None,
    }
}

/// Appends `l` and every named type it reaches to `out`, dependencies first.
fn visit(l: &'static Layout, seen: &mut Vec<&'static str>, out: &mut Vec<&'static Layout>) {
    if !is_named(l) || seen.contains(&l.name) {
        return;
    }
    seen.push(l.name);
    for f in l.fields {
        if let Some(t) = f.layout {
            visit(t, seen, out);
        }
    }
    for op in l.ops {
        if let Some(t) = op.layout {
            visit(t, seen, out);
        }
    }
    out.push(l);
}

/// Where each type of a family is defined: the common part (index `None`)
/// or one protocol. A type two protocols reach goes to the common part.
#[derive(Debug, Clone)]
pub struct Placement {
    /// The common part's types, dependencies first.
    pub common: Vec<&'static Layout>,
    /// Each protocol's own types, dependencies first (same order as
    /// [`Family::protocols`]).
    pub protocols: Vec<Vec<&'static Layout>>,
}

impl Family {
    /// Decides which types the common part and each protocol define.
    pub fn placement(&self) -> Placement {
        let mut seen = Vec::new();
        let mut common = Vec::new();
        for l in &self.common {
            visit(l, &mut seen, &mut common);
        }
        let reached: Vec<Vec<&'static Layout>> = self
            .protocols
            .iter()
            .map(|p| {
                let mut s = Vec::new();
                let mut out = Vec::new();
                visit(p.ops, &mut s, &mut out);
                for r in p.roots() {
                    visit(r, &mut s, &mut out);
                }
                out
            })
            .collect();
        let mut users: BTreeMap<&str, usize> = BTreeMap::new();
        for r in &reached {
            for l in r {
                *users.entry(l.name).or_default() += 1;
            }
        }
        // Shared types (and what they reach) move to the common part, in
        // dependency order.
        for r in &reached {
            for l in r {
                if users[l.name] > 1 && !seen.contains(&l.name) {
                    visit(l, &mut seen, &mut common);
                }
            }
        }
        let protocols = reached
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .filter(|l| !common.iter().any(|c| c.name == l.name))
                    .collect()
            })
            .collect();
        Placement { common, protocols }
    }
}

/// `ObjReq` -> `obj_req`, `SdNode` -> `sd_node`, `HTTPReq` -> `http_req`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut s = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if prev.is_ascii_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_ascii_uppercase() && next_lower)
            {
                s.push('_');
            }
        }
        s.push(c.to_ascii_lowercase());
    }
    s
}

/// `CreateAndWriteObj` -> `CREATE_AND_WRITE_OBJ`.
pub fn upper_snake_case(name: &str) -> String {
    snake_case(name).to_ascii_uppercase()
}

/// `name` with a leading `prefix_` added unless it already starts with it
/// (`sd` + `sd_node` -> `sd_node`, `sd` + `obj_req` -> `sd_obj_req`).
pub(crate) fn prefixed(prefix: &str, name: &str) -> String {
    if prefix.is_empty() || name == prefix || name.starts_with(&format!("{prefix}_")) {
        name.to_string()
    } else {
        format!("{prefix}_{name}")
    }
}

/// `since 0x0b`, `until 0x0b`, `0x0a..0x0b` or empty.
pub(crate) fn version_note(since: Option<Version>, until: Option<Version>) -> String {
    match (since, until) {
        (None, None) => String::new(),
        (Some(s), None) => format!("since {s:#04x}"),
        (None, Some(u)) => format!("until {u:#04x}"),
        (Some(s), Some(u)) => format!("{s:#04x}..{u:#04x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(snake_case("ObjReq"), "obj_req");
        assert_eq!(snake_case("SdNode"), "sd_node");
        assert_eq!(snake_case("HTTPReq"), "http_req");
        assert_eq!(snake_case("Ipv4Header"), "ipv4_header");
        assert_eq!(
            upper_snake_case("CreateAndWriteObj"),
            "CREATE_AND_WRITE_OBJ"
        );
        assert_eq!(prefixed("sd", "sd_node"), "sd_node");
        assert_eq!(prefixed("sd", "obj_req"), "sd_obj_req");
    }
}
