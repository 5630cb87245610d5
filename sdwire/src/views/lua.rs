//! A Wireshark dissector in Lua.
//!
//! [`render`] writes one Lua file: a framing protocol registered on the
//! family's TCP port (and offered in "Decode As" for any other) that
//! reassembles PDUs with `dissect_tcp_pdus`, shows every header field,
//! matches responses to requests by id (request and response frame links),
//! and hands each PDU to the sub-protocol that owns its opcode: one `Proto`
//! per protocol of the [`Family`], decoding the request or response arm of
//! the opcode, with versioned fields shown by the request's version. Expert
//! info flags a version the opcode's protocol does not accept, an unknown
//! opcode and a truncated PDU.
//!
//! Load it with `wireshark -X lua_script:FILE` / `tshark -X lua_script:FILE`
//! or copy it into a Wireshark plugins folder.

use super::{as_number, snake_case, upper_snake_case, Family, Framing};
use crate::{FieldLayout, Layout, LayoutKind, Order, Version};
use std::collections::BTreeMap;
use std::fmt::Write as _;

fn lua_str(s: &str) -> String {
    let mut o = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '"' => o.push_str("\\\""),
            '\n' => o.push_str("\\n"),
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

/// How Lua reads a number of `size` bytes at `at` (a Lua expression).
fn read(at: &str, size: usize, order: Order) -> String {
    let m = match (size, order) {
        (8, Order::Be) => "uint64",
        (8, _) => "le_uint64",
        (_, Order::Be) | (1, _) => "uint",
        _ => "le_uint",
    };
    format!("tvb({at}, {size}):{m}()")
}

/// `tree:add` or `tree:add_le` for a number in `order`.
fn add_fn(order: Order) -> &'static str {
    match order {
        Order::Le => "add_le",
        _ => "add",
    }
}

/// Field declarations and the statements adding them to a tree.
struct Out<'a> {
    /// `local <var> = ProtoField...` lines.
    decls: String,
    /// Variables to put in the Proto's `fields`.
    vars: Vec<String>,
    /// Value-string tables already declared (type name -> variable).
    value_strings: &'a mut BTreeMap<&'static str, String>,
    /// Declarations of value-string tables.
    vs_decls: &'a mut String,
}

fn value_string(out: &mut Out, l: &'static Layout) -> String {
    if let Some(v) = out.value_strings.get(l.name) {
        return v.clone();
    }
    let var = format!("vs_{}", snake_case(l.name));
    let _ = writeln!(out.vs_decls, "local {var} = {{");
    for op in l.ops {
        let _ = writeln!(
            out.vs_decls,
            "  [{:#x}] = {},",
            op.opcode,
            lua_str(&upper_snake_case(op.name))
        );
    }
    out.vs_decls.push_str("}\n");
    out.value_strings.insert(l.name, var.clone());
    var
}

fn ident(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// Declares the fields of `l` under `abbrev` and returns Lua statements
/// adding them to `tree` from the range starting at Lua expression `base`.
/// Fields absent at the layout's current version are left out; versioned
/// fields are added only when the Lua variable `ver` says they are present.
fn fields(
    out: &mut Out,
    l: &'static Layout,
    abbrev: &str,
    base: &str,
    tree: &str,
    depth: usize,
) -> String {
    let mut code = String::new();
    for f in l.fields {
        let (Some(off), Some(size)) = (f.offset, f.size) else {
            continue;
        };
        if size == 0 {
            continue;
        }
        let stmt = field(out, f, off, size, abbrev, base, tree, depth);
        let cond = match (f.since, f.until) {
            (None, None) => None,
            (s, u) => Some(version_cond(s, u)),
        };
        match cond {
            Some(c) => {
                let _ = writeln!(code, "if {c} then\n{stmt}end");
            }
            None => code.push_str(&stmt),
        }
    }
    code
}

fn version_cond(since: Option<Version>, until: Option<Version>) -> String {
    let mut parts = vec!["ver ~= nil".to_string()];
    if let Some(s) = since {
        parts.push(format!("ver >= {s:#x}"));
    }
    if let Some(u) = until {
        parts.push(format!("ver < {u:#x}"));
    }
    parts.join(" and ")
}

#[allow(clippy::too_many_arguments)]
fn field(
    out: &mut Out,
    f: &FieldLayout,
    off: usize,
    size: usize,
    abbrev: &str,
    base: &str,
    tree: &str,
    depth: usize,
) -> String {
    let fab = format!("{abbrev}.{}", ident(f.name));
    let var = format!("hf.{}", ident(&fab));
    let desc = if f.doc.is_empty() {
        "nil".to_string()
    } else {
        lua_str(f.doc)
    };
    let range = format!("tvb({base} + {off}, {size})");
    let number = f.layout.and_then(as_number).filter(|_| f.count.is_none());
    let mut code = String::new();
    match (number, f.layout) {
        (Some((n @ (1 | 2 | 4 | 8), order)), Some(t)) => {
            let vs = match t.kind {
                LayoutKind::Enum => value_string(out, t),
                _ => "nil".to_string(),
            };
            let base_fmt =
                if t.kind == LayoutKind::Enum || n == 8 && t.kind == LayoutKind::Primitive {
                    "base.HEX"
                } else {
                    "base.HEX_DEC"
                };
            let _ = writeln!(
                out.decls,
                "{var} = ProtoField.uint{}({}, {}, {base_fmt}, {vs}, nil, {desc})",
                n * 8,
                lua_str(&fab),
                lua_str(f.name)
            );
            out.vars.push(var.clone());
            if t.flags.is_empty() {
                let _ = writeln!(code, "{tree}:{}({var}, {range})", add_fn(order));
            } else {
                let _ = writeln!(
                    code,
                    "do local ft = {tree}:{}({var}, {range})",
                    add_fn(order)
                );
                for fl in t.flags {
                    let fv = format!("{var}_{}", ident(&fl.name.to_lowercase()));
                    let _ = writeln!(
                        out.decls,
                        "{fv} = ProtoField.bool({}, {}, {}, nil, {:#x}, {})",
                        lua_str(&format!("{fab}.{}", ident(&fl.name.to_lowercase()))),
                        lua_str(fl.name),
                        n * 8,
                        fl.bits,
                        lua_str(fl.doc)
                    );
                    out.vars.push(fv.clone());
                    let _ = writeln!(code, "ft:{}({fv}, {range})", add_fn(order));
                }
                code.push_str("end\n");
            }
        }
        (_, Some(t)) if t.kind == LayoutKind::Struct && f.count.is_none() && depth < 4 => {
            let _ = writeln!(
                out.decls,
                "{var} = ProtoField.bytes({}, {}, base.NONE, {desc})",
                lua_str(&fab),
                lua_str(f.name)
            );
            out.vars.push(var.clone());
            let inner = fields(out, t, &fab, &format!("{base} + {off}"), "st", depth + 1);
            let _ = writeln!(code, "do local st = {tree}:add({var}, {range})\n{inner}end");
        }
        _ => {
            let _ = writeln!(
                out.decls,
                "{var} = ProtoField.bytes({}, {}, base.NONE, {desc})",
                lua_str(&fab),
                lua_str(f.name)
            );
            out.vars.push(var.clone());
            let _ = writeln!(code, "{tree}:add({var}, {range})");
        }
    }
    code
}

/// Offset, size and byte order of a framing field that is a number.
fn number_at(l: &Layout, name: &str) -> (usize, usize, Order) {
    let f = l
        .field(name)
        .unwrap_or_else(|| panic!("framing: {} has no field `{name}`", l.name));
    let (size, order) = f
        .layout
        .and_then(as_number)
        .unwrap_or_else(|| panic!("framing: {}.{name} is not a number", l.name));
    (
        f.offset
            .unwrap_or_else(|| panic!("framing: {}.{name} has no fixed offset", l.name)),
        size,
        order,
    )
}

const RUNTIME: &str = r##"
local pending = {}   -- conversation/id -> first request seen (first pass)
local matched = {}   -- response frame/id -> its request (stable across passes)

local function is_request(pinfo)
  return pinfo.dst_port == pinfo.match_uint
end

local function conv_key(pinfo, req, id)
  if req then
    return tostring(pinfo.src) .. ":" .. pinfo.src_port .. ">" .. tostring(pinfo.dst) .. ":" .. pinfo.dst_port .. "#" .. id
  end
  return tostring(pinfo.dst) .. ":" .. pinfo.dst_port .. ">" .. tostring(pinfo.src) .. ":" .. pinfo.src_port .. "#" .. id
end
"##;

/// The dissector for `family`, framed as `framing` says.
///
/// # Panics
/// If a field `framing` names is missing from its header or is not a number
/// at a fixed offset.
pub fn render(family: &Family, framing: &Framing) -> String {
    let name = family.name;
    let mut vs_decls = String::new();
    let mut value_strings = BTreeMap::new();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "-- Wireshark dissector for the {} protocols ({}).\n--\n\
         -- Generated by sdwire::views::lua from the #[derive(Wire)] layout tables; do not edit.\n\
         -- Load with `wireshark -X lua_script:{name}.lua` (or copy it into a plugins folder).\n\
         -- TCP port {} by default; \"Decode As\" {} for any other port (the port chosen is the server's).",
        family.title,
        family
            .protocols
            .iter()
            .map(|p| p.name)
            .collect::<Vec<_>>()
            .join(", "),
        framing.tcp_port,
        name.to_uppercase()
    );
    let _ = writeln!(
        o,
        "\nlocal proto = Proto({}, {})",
        lua_str(name),
        lua_str(family.title)
    );
    for p in &family.protocols {
        let _ = writeln!(
            o,
            "local proto_{} = Proto({}, {})",
            p.name,
            lua_str(&format!("{name}_{}", p.name)),
            lua_str(&format!("{} {} protocol", family.title, p.name))
        );
    }

    // Opcode names and owners, over every protocol.
    o.push_str("\nlocal op_names = {\n");
    for p in &family.protocols {
        for op in p.ops.ops {
            let _ = writeln!(
                o,
                "  [{:#x}] = {},",
                op.opcode,
                lua_str(&upper_snake_case(op.name))
            );
        }
    }
    o.push_str("}\nlocal op_protocol = {\n");
    for p in &family.protocols {
        for op in p.ops.ops {
            let _ = writeln!(o, "  [{:#x}] = {},", op.opcode, lua_str(p.name));
        }
    }
    o.push_str("}\n");

    // Header fields.
    let (req_hdr_len, rsp_hdr_len) = (
        framing.request.size.expect("fixed-size request header"),
        framing.response.size.expect("fixed-size response header"),
    );
    let mut hdr = Out {
        decls: String::new(),
        vars: Vec::new(),
        value_strings: &mut value_strings,
        vs_decls: &mut vs_decls,
    };
    let skip = [framing.body];
    let req_code = header_fields(&mut hdr, framing.request, &format!("{name}.request"), &skip);
    let rsp_code = header_fields(
        &mut hdr,
        framing.response,
        &format!("{name}.response"),
        &skip,
    );
    let mut header_decls = hdr.decls;
    let mut header_vars = hdr.vars;
    for (var, decl) in [
        (
            "hf.op_name",
            format!(
                "ProtoField.string({}, \"opcode name\")",
                lua_str(&format!("{name}.op_name"))
            ),
        ),
        (
            "hf.protocol",
            format!(
                "ProtoField.string({}, \"protocol\")",
                lua_str(&format!("{name}.protocol"))
            ),
        ),
        (
            "hf.result_name",
            format!(
                "ProtoField.string({}, \"result name\")",
                lua_str(&format!("{name}.result_name"))
            ),
        ),
        (
            "hf.payload",
            format!(
                "ProtoField.bytes({}, \"payload\")",
                lua_str(&format!("{name}.payload"))
            ),
        ),
        (
            "hf.payload_len",
            format!(
                "ProtoField.uint32({}, \"payload length\")",
                lua_str(&format!("{name}.payload_length"))
            ),
        ),
        (
            "hf.request_in",
            format!(
                "ProtoField.framenum({}, \"request in\", base.NONE, frametype.REQUEST)",
                lua_str(&format!("{name}.request_in"))
            ),
        ),
        (
            "hf.response_in",
            format!(
                "ProtoField.framenum({}, \"response in\", base.NONE, frametype.RESPONSE)",
                lua_str(&format!("{name}.response_in"))
            ),
        ),
    ] {
        let _ = writeln!(header_decls, "{var} = {decl}");
        header_vars.push(var.to_string());
    }

    // Sub-protocol arms.
    let body_size = |l: &Layout| l.field(framing.body).and_then(|f| f.size).unwrap_or(0);
    let (req_body_size, rsp_body_size) = (body_size(framing.request), body_size(framing.response));
    let mut sub = String::new();
    for p in &family.protocols {
        let mut out = Out {
            decls: String::new(),
            vars: Vec::new(),
            value_strings: &mut value_strings,
            vs_decls: &mut vs_decls,
        };
        let mut arms: BTreeMap<&str, String> = BTreeMap::new();
        let mut req_map = String::new();
        let mut rsp_map = String::new();
        for op in p.ops.ops {
            for (arm, map, room) in [
                (op.layout, &mut req_map, req_body_size),
                ((p.response_arm)(op.opcode), &mut rsp_map, rsp_body_size),
            ] {
                // An arm is decoded from the header's body bytes: only a
                // fixed-size struct that fits there.
                let Some(arm) = arm
                    .filter(|a| a.kind == LayoutKind::Struct && a.size.is_some_and(|n| n <= room))
                else {
                    continue;
                };
                let fname = format!("{}_{}", p.name, snake_case(arm.name));
                if !arms.contains_key(arm.name) {
                    let abbrev = format!("{name}_{}.{}", p.name, snake_case(arm.name));
                    let body = fields(&mut out, arm, &abbrev, "off", "t", 0);
                    let _ = writeln!(
                        out.decls,
                        "hf.arm_{fname} = ProtoField.bytes({}, {}, base.NONE, {})",
                        lua_str(&abbrev),
                        lua_str(arm.name),
                        lua_str(arm.doc)
                    );
                    out.vars.push(format!("hf.arm_{fname}"));
                    arms.insert(
                        arm.name,
                        format!(
                            "local function arm_{fname}(tvb, tree, off, ver)\nlocal t = tree:add(hf.arm_{fname}, tvb(off, {}))\n{body}end\n",
                            arm.size.unwrap_or(0)
                        ),
                    );
                }
                let _ = writeln!(map, "  [{:#x}] = arm_{fname},", op.opcode);
            }
        }
        let (compat, version) = p.ops.versions.unwrap_or((0, Version::MAX));
        let _ = write!(
            sub,
            "\n-- {} protocol\n{}{}proto_{}.fields = {{ {} }}\n",
            p.name,
            out.decls,
            arms.values().cloned().collect::<String>(),
            p.name,
            out.vars.join(", ")
        );
        let _ = write!(
            sub,
            "local {pn}_req_arms = {{\n{req_map}}}\nlocal {pn}_rsp_arms = {{\n{rsp_map}}}\n\
             subprotocols[{q}] = {{ proto = proto_{pn}, compat = {compat:#x}, version = {version:#x}, req = {pn}_req_arms, rsp = {pn}_rsp_arms }}\n",
            pn = p.name,
            q = lua_str(p.name),
        );
    }

    o.push_str(&vs_decls);
    o.push_str(RUNTIME);
    o.push_str("\nlocal subprotocols = {}\nlocal hf = {}   -- every ProtoField, by abbreviation\n");
    o.push_str(&header_decls);
    o.push_str(&sub);

    let experts = [
        (
            "ef_bad_version",
            "bad_version",
            "Protocol version not accepted for this opcode",
            "PROTOCOL",
            "WARN",
        ),
        (
            "ef_unknown_op",
            "unknown_opcode",
            "Unknown opcode",
            "UNDECODED",
            "WARN",
        ),
        (
            "ef_truncated",
            "truncated",
            "Truncated PDU",
            "MALFORMED",
            "ERROR",
        ),
        (
            "ef_unmatched",
            "unmatched",
            "Response without a request in the capture",
            "SEQUENCE",
            "NOTE",
        ),
    ];
    for (var, abbr, text, group, sev) in experts {
        let _ = writeln!(
            o,
            "local {var} = ProtoExpert.new({}, {}, expert.group.{group}, expert.severity.{sev})",
            lua_str(&format!("{name}.{abbr}")),
            lua_str(text)
        );
    }
    let _ = writeln!(
        o,
        "proto.fields = {{ {} }}\nproto.experts = {{ {} }}",
        header_vars.join(", "),
        experts.iter().map(|e| e.0).collect::<Vec<_>>().join(", ")
    );

    // Framing.
    let (len_off, len_size, len_order) = number_at(framing.request, framing.length);
    let (rlen_off, rlen_size, rlen_order) = number_at(framing.response, framing.length);
    let (op_off, op_size, op_order) = number_at(framing.request, framing.opcode);
    let (rop_off, rop_size, rop_order) = number_at(framing.response, framing.opcode);
    let (id_off, id_size, id_order) = number_at(framing.request, framing.id);
    let (rid_off, rid_size, rid_order) = number_at(framing.response, framing.id);
    let (ver_off, ver_size, ver_order) = number_at(framing.request, framing.version);
    let (res_off, res_size, res_order) = number_at(framing.response, framing.result);
    let res_vs = framing
        .response
        .field(framing.result)
        .and_then(|f| f.layout)
        .filter(|l| l.kind == LayoutKind::Enum)
        .map_or_else(
            || "{}".to_string(),
            |l| format!("vs_{}", snake_case(l.name)),
        );
    let req_body = framing
        .request
        .field(framing.body)
        .and_then(|f| f.offset)
        .unwrap_or(req_hdr_len);
    let rsp_body = framing
        .response
        .field(framing.body)
        .and_then(|f| f.offset)
        .unwrap_or(rsp_hdr_len);
    let payload_cond = match framing.request_payload_flag {
        Some((flag, bit)) => {
            let (off, size, order) = number_at(framing.request, flag);
            format!(
                "bit.band({}, {bit:#x}) ~= 0",
                read(&format!("offset + {off}"), size, order)
            )
        }
        None => "true".to_string(),
    };
    let min_hdr = req_hdr_len.min(rsp_hdr_len);
    let _ = write!(
        o,
        r#"
local REQ_HEADER_LEN = {req_hdr_len}
local RSP_HEADER_LEN = {rsp_hdr_len}

-- Length of the PDU at offset: header plus the payload that follows it.
local function pdu_length(tvb, pinfo, offset)
  if is_request(pinfo) then
    if not ({payload_cond}) then return REQ_HEADER_LEN end
    return REQ_HEADER_LEN + {req_len}
  end
  return RSP_HEADER_LEN + {rsp_len}
end

local function dissect_pdu(tvb, pinfo, tree)
  local req = is_request(pinfo)
  local hlen = req and REQ_HEADER_LEN or RSP_HEADER_LEN
  local item = tree:add(proto, tvb(), req and "{title} request" or "{title} response")
  if tvb:len() < hlen then
    item:add_proto_expert_info(ef_truncated, "Truncated PDU: header needs " .. hlen .. " bytes, have " .. tvb:len())
    return tvb:len()
  end
  local opcode, id, plen, ver
  if req then
    opcode = {req_op}
    id = {req_id}
    ver = {req_ver}
    {req_code_indented}
    plen = ({payload_cond_0}) and {req_len0} or 0
  else
    opcode = {rsp_op}
    id = {rsp_id}
    {rsp_code_indented}
    plen = {rsp_len0}
  end
  local name = op_names[opcode] or string.format("UNKNOWN(0x%02x)", opcode)
  local pname = op_protocol[opcode]
  item:add(hf.op_name, name)
  item:append_text(": " .. name .. (req and " request" or " response") .. ", id " .. id)
  local info = name .. (req and " request" or " response") .. " id=" .. id
  local key = conv_key(pinfo, req, id)
  local mkey = pinfo.number .. "/" .. id
  if req then
    if not pinfo.visited then pending[key] = {{ frame = pinfo.number, ver = ver }} end
    local r = pending[key]
    if r and r.frame == pinfo.number and r.response then
      item:add(hf.response_in, r.response)
    end
  else
    if not pinfo.visited then
      local r = pending[key]
      matched[mkey] = r
      if r then r.response = pinfo.number end
    end
    local r = matched[mkey]
    if r then
      ver = r.ver
      item:add(hf.request_in, r.frame)
    else
      item:add_proto_expert_info(ef_unmatched)
    end
    local result = {rsp_res}
    local rname = {res_vs}[result] or string.format("0x%x", result)
    item:add(hf.result_name, tvb({res_off}, {res_size}), rname)
    info = info .. " " .. rname
  end
  local sp = pname and subprotocols[pname]
  if sp then
    item:add(hf.protocol, pname)
    if req and (ver < sp.compat or ver > sp.version) then
      item:add_proto_expert_info(ef_bad_version, string.format("version 0x%02x not accepted: the %s protocol reads 0x%02x..0x%02x", ver, pname, sp.compat, sp.version))
    end
    local arm = req and sp.req[opcode] or (not req and sp.rsp[opcode])
    local boff = req and {req_body} or {rsp_body}
    if arm and tvb:len() >= hlen then
      local st = tree:add(sp.proto, tvb(boff, hlen - boff))
      st:append_text(": " .. name)
      arm(tvb, st, boff, ver)
    end
  else
    item:add_proto_expert_info(ef_unknown_op, string.format("Unknown opcode 0x%02x", opcode))
  end
  if plen > 0 then
    item:add(hf.payload_len, plen)
    if tvb:len() < hlen + plen then
      item:add_proto_expert_info(ef_truncated, "Truncated PDU: payload needs " .. plen .. " bytes, have " .. (tvb:len() - hlen))
      item:add(hf.payload, tvb(hlen))
    else
      item:add(hf.payload, tvb(hlen, plen))
    end
  end
  pinfo.cols.protocol = "{upper}"
  -- Several PDUs in one frame: one Info entry each.
  if tostring(pinfo.cols.info) == "" then
    pinfo.cols.info:set(info)
  else
    pinfo.cols.info:append("; " .. info)
  end
  return tvb:len()
end

function proto.dissector(tvb, pinfo, tree)
  pinfo.cols.info:clear()
  dissect_tcp_pdus(tvb, tree, {min_hdr}, pdu_length, dissect_pdu, true)
end

DissectorTable.get("tcp.port"):add({port}, proto)
"#,
        title = family.title,
        upper = name.to_uppercase(),
        port = framing.tcp_port,
        req_len = read(&format!("offset + {len_off}"), len_size, len_order),
        rsp_len = read(&format!("offset + {rlen_off}"), rlen_size, rlen_order),
        req_len0 = read(&len_off.to_string(), len_size, len_order),
        rsp_len0 = read(&rlen_off.to_string(), rlen_size, rlen_order),
        payload_cond_0 = payload_cond.replace("offset + ", ""),
        req_op = read(&op_off.to_string(), op_size, op_order),
        rsp_op = read(&rop_off.to_string(), rop_size, rop_order),
        req_id = read(&id_off.to_string(), id_size, id_order),
        rsp_id = read(&rid_off.to_string(), rid_size, rid_order),
        req_ver = read(&ver_off.to_string(), ver_size, ver_order),
        rsp_res = read(&res_off.to_string(), res_size, res_order),
        req_code_indented = req_code.trim_end().replace('\n', "\n    "),
        rsp_code_indented = rsp_code.trim_end().replace('\n', "\n    "),
    );
    let _ = (rop_off, rop_size);
    o
}

/// Header fields other than `skip` (the arm, decoded by the sub-protocol;
/// shown as raw bytes here).
fn header_fields(out: &mut Out, l: &'static Layout, abbrev: &str, skip: &[&str]) -> String {
    let mut code = String::new();
    for f in l.fields {
        let (Some(off), Some(size)) = (f.offset, f.size) else {
            continue;
        };
        if skip.contains(&f.name) {
            let fab = format!("{abbrev}.{}", ident(f.name));
            let var = format!("hf.{}", ident(&fab));
            let _ = writeln!(
                out.decls,
                "{var} = ProtoField.bytes({}, {}, base.NONE, {})",
                lua_str(&fab),
                lua_str(f.name),
                lua_str(f.doc)
            );
            out.vars.push(var.clone());
            let _ = writeln!(code, "item:add({var}, tvb({off}, {size}))");
            continue;
        }
        code.push_str(&field(out, f, off, size, abbrev, "0", "item", 0));
    }
    code
}
