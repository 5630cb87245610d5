//! Breaking-change check of layout tables against a committed snapshot.
//!
//! [`snapshot`] renders [`Layout::render`] of a list of types; commit the
//! text, and on every build compare it with the current one with [`check`],
//! which names every field or opcode that changed incompatibly without a
//! version bump of its type.
//!
//! ```
//! let old = "struct Hdr size=8 align=4\n  field len off=2 size=2 order=le ty=u16\n";
//! let new = "struct Hdr size=8 align=4\n  field len off=4 size=2 order=le ty=u16\n";
//! assert_eq!(sdwire::compat::check(old, old).unwrap(), Vec::<String>::new());
//! assert_eq!(
//!     sdwire::compat::check(old, new).unwrap(),
//!     ["Hdr.len moved from 2 to 4 without a version bump of Hdr"]
//! );
//! ```

use crate::Layout;
use std::collections::BTreeMap;

/// The snapshot of `layouts`: `header` (each line prefixed with `# `), then
/// [`Layout::render`] of each type, separated by blank lines.
pub fn snapshot<'a>(header: &str, layouts: impl IntoIterator<Item = &'a Layout>) -> String {
    let mut s = String::new();
    for line in header.lines() {
        s.push_str("# ");
        s.push_str(line);
        s.push('\n');
    }
    for l in layouts {
        s.push('\n');
        s.push_str(&l.render());
    }
    s
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct TypeSnap {
    kind: String,
    attrs: BTreeMap<String, String>,
    /// name -> attributes (off, size, order, ty, since, until, reserved, default)
    fields: Vec<(String, BTreeMap<String, String>)>,
    /// opcode -> (name, payload, attrs)
    ops: BTreeMap<String, (String, BTreeMap<String, String>)>,
}

impl TypeSnap {
    /// `(compat, current)` versions, if the type is versioned.
    fn versions(&self) -> Option<(u64, u64)> {
        let v = self.attrs.get("versions")?;
        let (a, b) = v.split_once("..=")?;
        Some((parse_num(a)?, parse_num(b)?))
    }
}

fn parse_num(s: &str) -> Option<u64> {
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

fn kv(words: &[&str]) -> BTreeMap<String, String> {
    words
        .iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (w.to_string(), String::new()),
        })
        .collect()
}

/// Parses a snapshot ([`snapshot`] format) into type name -> layout.
fn parse_snapshot(text: &str) -> Result<BTreeMap<String, TypeSnap>, String> {
    let mut out: BTreeMap<String, TypeSnap> = BTreeMap::new();
    let mut cur: Option<String> = None;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        if !line.starts_with(' ') {
            if words.len() < 2 {
                return Err(format!("line {}: expected `<kind> <name> ...`", i + 1));
            }
            let name = words[1].to_string();
            out.insert(
                name.clone(),
                TypeSnap {
                    kind: words[0].to_string(),
                    attrs: kv(&words[2..]),
                    ..TypeSnap::default()
                },
            );
            cur = Some(name);
            continue;
        }
        let t = cur
            .as_ref()
            .and_then(|c| out.get_mut(c))
            .ok_or_else(|| format!("line {}: entry before any type", i + 1))?;
        match words.first().copied() {
            Some("field") if words.len() >= 2 => {
                t.fields.push((words[1].to_string(), kv(&words[2..])))
            }
            Some("op") if words.len() >= 3 => {
                let (name, payload) = match words[2].split_once('(') {
                    Some((n, p)) => (n.to_string(), p.trim_end_matches(')').to_string()),
                    None => (words[2].to_string(), String::new()),
                };
                let mut attrs = kv(&words[3..]);
                attrs.insert("payload".into(), payload);
                t.ops.insert(words[1].to_string(), (name, attrs));
            }
            _ => return Err(format!("line {}: cannot parse `{line}`", i + 1)),
        }
    }
    Ok(out)
}

/// Compares a committed snapshot (`old`) with the current one (`new`) and
/// returns one message per incompatible change, each naming the type and the
/// field or opcode.
///
/// Incompatible unless the type's current version was bumped: a field moved,
/// resized, retyped, re-ordered (byte order), removed, made reserved or given a
/// different default or version bounds; a field added; the type's size
/// changed; an opcode removed, reused for another variant or given another arm.
/// Always allowed: new types, new opcodes, and, with a version bump, new
/// fields whose `since` is above the old current version. Removing a type and
/// narrowing a type's version window (raising `compat`) are always reported.
///
/// # Errors
/// A snapshot that does not parse.
pub fn check(old: &str, new: &str) -> Result<Vec<String>, String> {
    let old = parse_snapshot(old).map_err(|e| format!("old snapshot: {e}"))?;
    let new = parse_snapshot(new).map_err(|e| format!("new snapshot: {e}"))?;
    let mut errs = Vec::new();
    for (name, o) in &old {
        let Some(n) = new.get(name) else {
            errs.push(format!("{name}: type removed"));
            continue;
        };
        let (ov, nv) = (o.versions(), n.versions());
        let bumped = matches!((ov, nv), (Some((_, a)), Some((_, b))) if b > a)
            || (ov.is_none() && nv.is_some());
        if let (Some((oc, _)), Some((nc, _))) = (ov, nv) {
            if nc > oc {
                errs.push(format!("{name}: compat raised from {oc:#x} to {nc:#x}: peers at the old versions are no longer read"));
            }
        }
        if let (Some((_, a)), Some((_, b))) = (ov, nv) {
            if b < a {
                errs.push(format!("{name}: version lowered from {a:#x} to {b:#x}"));
            }
        }
        let why = |what: String| format!("{name}.{what} without a version bump of {name}");
        if !bumped {
            for key in ["size", "align", "tag"] {
                if o.attrs.get(key) != n.attrs.get(key) {
                    errs.push(format!(
                        "{name}: {key} changed from {} to {} without a version bump of {name}",
                        o.attrs.get(key).map_or("-", |s| s.as_str()),
                        n.attrs.get(key).map_or("-", |s| s.as_str())
                    ));
                }
            }
        }
        for (fname, fo) in &o.fields {
            let Some((_, fnew)) = n.fields.iter().find(|(f, _)| f == fname) else {
                if !bumped {
                    errs.push(why(format!("{fname} removed")));
                }
                continue;
            };
            if bumped {
                continue;
            }
            for (key, what) in [
                ("off", "moved"),
                ("size", "resized"),
                ("ty", "retyped"),
                ("order", "byte order changed"),
                ("reserved", "reserved flag changed"),
                ("default", "default changed"),
                ("since", "since changed"),
                ("until", "until changed"),
            ] {
                let (a, b) = (fo.get(key), fnew.get(key));
                if a != b {
                    let show = |v: Option<&String>| {
                        v.map_or("(none)".to_string(), |s| {
                            if s.is_empty() {
                                "set".into()
                            } else {
                                s.clone()
                            }
                        })
                    };
                    errs.push(why(format!(
                        "{fname} {what} from {} to {}",
                        show(a),
                        show(b)
                    )));
                }
            }
        }
        for (fname, fnew) in &n.fields {
            if o.fields.iter().any(|(f, _)| f == fname) {
                continue;
            }
            let since = fnew.get("since").and_then(|s| parse_num(s));
            let old_cur = ov.map(|(_, c)| c);
            let ok = bumped && matches!((since, old_cur), (Some(s), Some(c)) if s > c)
                || bumped && old_cur.is_none() && since.is_some();
            if !ok {
                errs.push(format!(
                    "{name}.{fname} added without a version bump of {name} (new fields need `since` = a new version)"
                ));
            }
        }
        for (code, (oname, oattrs)) in &o.ops {
            let Some((nname, nattrs)) = n.ops.get(code) else {
                if !bumped {
                    errs.push(format!(
                        "{name}: opcode {code} ({oname}) removed without a version bump of {name}"
                    ));
                }
                continue;
            };
            if bumped {
                continue;
            }
            if oname != nname {
                errs.push(format!(
                    "{name}: opcode {code} reused: was {oname}, now {nname} (without a version bump of {name})"
                ));
            }
            for key in ["payload", "since", "until"] {
                if oattrs.get(key) != nattrs.get(key) {
                    errs.push(format!(
                        "{name}: opcode {code} ({oname}) {key} changed from {} to {} without a version bump of {name}",
                        oattrs.get(key).map_or("(none)", |s| s.as_str()),
                        nattrs.get(key).map_or("(none)", |s| s.as_str())
                    ));
                }
            }
        }
    }
    Ok(errs)
}
