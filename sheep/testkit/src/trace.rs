//! Reader for the golden `sdtrace v1` recordings.
//!
//! The recordings live in `tests/data/traces/` at the root of the workspace
//! (see the `README.md` there for the format). Each file holds a few header
//! lines (`# key: value`) followed by one block per request/response pair:
//!
//! ```text
//! BEGIN EXCHANGE 1
//! conn 127.0.0.1:54738 > 127.0.0.1:7000
//! from dog
//! to sheep:7000
//! op 0x82 GET_NODE_LIST
//! t_req 0.000198
//! req.hdr <96 hex digits>
//! req.payload.len 0
//! t_rsp 0.000394
//! rsp.hdr <96 hex digits>
//! rsp.payload.len 240
//! rsp.payload.sha256 <64 hex digits>
//! rsp.payload.truncated no
//! rsp.payload.hex <up to 128 hex digits>   (repeated)
//! END EXCHANGE 1
//! ```
//!
//! The parser checks the structure while reading: hex lengths, that a payload
//! never holds more bytes than its declared length, that the `# exchanges: N`
//! header matches, and the SHA-256 of every payload that was recorded in full.

use std::fmt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use thiserror::Error;

/// Size of a request or response header on the wire.
pub const HDR_LEN: usize = 48;

/// Maximum number of hex digits on one `*.payload.hex` line (64 bytes).
const MAX_HEX_DIGITS_PER_LINE: usize = 128;

/// The format marker every trace starts with.
const MARKER: &str = "# sdtrace v1";

/// Errors produced while reading a trace.
#[derive(Debug, Error)]
pub enum TraceError {
    /// The file could not be read (or the traces directory listed).
    #[error("{}: {source}", path.display())]
    Io {
        /// File or directory that failed.
        path: PathBuf,
        /// Underlying I/O error.
        source: std::io::Error,
    },
    /// A line does not follow the format.
    #[error("line {line}: {msg}")]
    Syntax {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        msg: String,
    },
    /// A hex field has the wrong length or contains a non-hex digit.
    #[error("line {line}: bad hex in {field}: {msg}")]
    BadHex {
        /// 1-based line number.
        line: usize,
        /// Name of the field (`req.hdr`, `rsp.payload.hex`, ...).
        field: String,
        /// What is wrong.
        msg: String,
    },
    /// A payload holds more hex bytes than its declared length.
    #[error("line {line}: {field} holds {have} bytes but the declared length is {len}")]
    PayloadTooLong {
        /// 1-based line number of the offending hex line.
        line: usize,
        /// `req.payload` or `rsp.payload`.
        field: String,
        /// Bytes gathered so far.
        have: usize,
        /// Declared `*.payload.len`.
        len: usize,
    },
    /// The SHA-256 of a complete payload differs from the recorded one.
    #[error("line {line}: {field}: sha256 mismatch (recorded {recorded}, computed {computed})")]
    Sha256Mismatch {
        /// 1-based line number of the `*.payload.sha256` line.
        line: usize,
        /// `req.payload` or `rsp.payload`.
        field: String,
        /// Digest written in the trace (hex).
        recorded: String,
        /// Digest of the bytes in the trace (hex).
        computed: String,
    },
    /// An error in a specific file (wraps the error found while parsing it).
    #[error("{}: {source}", path.display())]
    InFile {
        /// The trace file.
        path: PathBuf,
        /// The error found in it.
        source: Box<TraceError>,
    },
}

/// Who sent a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// The C `dog` admin client.
    Dog,
    /// The Python probe client (`raw-probes`, `unknown-opcode-crash`).
    Python,
    /// A sheep daemon, identified by its listen port.
    Sheep(u16),
    /// A connection that existed before the capture and whose owner is unknown.
    Unknown,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Dog => f.write_str("dog"),
            Endpoint::Python => f.write_str("python"),
            Endpoint::Sheep(port) => write!(f, "sheep:{port}"),
            Endpoint::Unknown => f.write_str("unknown"),
        }
    }
}

/// The payload that followed a header on the wire.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Payload {
    /// Number of bytes that followed the header on the wire.
    pub len: usize,
    /// SHA-256 of the full payload, when recorded (only for `len > 0`).
    pub sha256: Option<[u8; 32]>,
    /// True when the trace kept only a prefix (the first 65536 bytes).
    pub truncated: bool,
    /// The recorded bytes (all of them, or a prefix when `truncated`).
    pub bytes: Vec<u8>,
}

impl Payload {
    /// True when [`bytes`](Self::bytes) holds the whole payload.
    pub fn is_complete(&self) -> bool {
        self.bytes.len() == self.len
    }
}

/// The response half of an exchange.
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    /// Seconds since the first packet of the capture.
    pub t_rsp: f64,
    /// The 48-byte response header exactly as on the wire.
    pub hdr: [u8; HDR_LEN],
    /// The bytes that followed the header.
    pub payload: Payload,
}

/// One request and its response.
#[derive(Clone, Debug, PartialEq)]
pub struct Exchange {
    /// Exchange number within the trace (1-based).
    pub n: usize,
    /// The `conn` line verbatim: `client ip:port > server ip:port`, possibly
    /// followed by ` (opened before capture start)`.
    pub conn: String,
    /// Who sent the request.
    pub from: Endpoint,
    /// Listen port of the sheep that received the request.
    pub to_port: u16,
    /// Opcode (also byte 1 of `req_hdr`).
    pub opcode: u8,
    /// Opcode name as written by the capture tool (`UNKNOWN` for undefined codes).
    pub op_name: String,
    /// Seconds since the first packet of the capture.
    pub t_req: f64,
    /// The 48-byte request header exactly as on the wire.
    pub req_hdr: [u8; HDR_LEN],
    /// The bytes that followed the request header.
    pub req_payload: Payload,
    /// The response; `None` when none ever came (`rsp.missing yes`).
    pub rsp: Option<Response>,
}

impl Exchange {
    /// True when the connection already existed when the capture started.
    pub fn opened_before_capture(&self) -> bool {
        self.conn.ends_with("(opened before capture start)")
    }

    /// Request flags (u16 LE at bytes 2..4 of the header).
    pub fn req_flags(&self) -> u16 {
        u16::from_le_bytes([self.req_hdr[2], self.req_hdr[3]])
    }

    /// Request `data_length` (u32 LE at bytes 12..16 of the header).
    pub fn req_data_length(&self) -> u32 {
        le_u32(&self.req_hdr, 12)
    }

    /// Response `result` (u32 LE at bytes 16..20), when there is a response.
    pub fn rsp_result(&self) -> Option<u32> {
        self.rsp.as_ref().map(|r| le_u32(&r.hdr, 16))
    }
}

fn le_u32(b: &[u8; HDR_LEN], off: usize) -> u32 {
    u32::from_le_bytes([b[off], b[off + 1], b[off + 2], b[off + 3]])
}

/// A parsed trace file.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// `# scenario:` (the file name without `.trace`).
    pub scenario: String,
    /// `# command:` lines, in order.
    pub commands: Vec<String>,
    /// `# note:` lines, in order.
    pub notes: Vec<String>,
    /// `# problem:` lines (exchanges without a complete response), in order.
    pub problems: Vec<String>,
    /// `# filter:` (`all`, `dog` or `peer`).
    pub filter: String,
    /// `# sheep ports:` (TCP ports that were sheep listeners).
    pub sheep_ports: Vec<u16>,
    /// The exchanges, in the order their requests started.
    pub exchanges: Vec<Exchange>,
}

impl Trace {
    /// Parses the text of a trace.
    pub fn parse(text: &str) -> Result<Trace, TraceError> {
        Parser::default().run(text)
    }

    /// Reads and parses a trace file; errors carry the file name.
    pub fn load(path: impl AsRef<Path>) -> Result<Trace, TraceError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| TraceError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Trace::parse(&text).map_err(|e| TraceError::InFile {
            path: path.to_path_buf(),
            source: Box::new(e),
        })
    }

    /// Loads `<traces_dir()>/<scenario>.trace`.
    pub fn load_scenario(scenario: &str) -> Result<Trace, TraceError> {
        Trace::load(traces_dir().join(format!("{scenario}.trace")))
    }

    /// Exchanges with the given opcode.
    pub fn with_opcode(&self, opcode: u8) -> impl Iterator<Item = &Exchange> + '_ {
        self.exchanges.iter().filter(move |x| x.opcode == opcode)
    }
}

/// The directory holding the golden traces: `tests/data/traces` at the top of the repository.
pub fn traces_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("..")
        .join("tests")
        .join("data")
        .join("traces")
}

/// Loads every `*.trace` file in [`traces_dir`], sorted by file name.
pub fn load_all() -> Result<Vec<Trace>, TraceError> {
    let dir = traces_dir();
    let io_err = |source| TraceError::Io {
        path: dir.clone(),
        source,
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(io_err)? {
        let path = entry.map_err(io_err)?.path();
        if path.extension().is_some_and(|e| e == "trace") {
            paths.push(path);
        }
    }
    paths.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
    paths.into_iter().map(Trace::load).collect()
}

// ---------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------

fn syntax(line: usize, msg: impl Into<String>) -> TraceError {
    TraceError::Syntax {
        line,
        msg: msg.into(),
    }
}

fn bad_hex(line: usize, field: &str, msg: impl Into<String>) -> TraceError {
    TraceError::BadHex {
        line,
        field: field.to_string(),
        msg: msg.into(),
    }
}

/// Decodes an even-length hex string (no length limit); an odd number of
/// digits or a non-hex digit is an error.
fn decode_hex(line: usize, field: &str, s: &str) -> Result<Vec<u8>, TraceError> {
    hex::decode(s).map_err(|e| bad_hex(line, field, e.to_string()))
}

/// Decodes exactly `N` bytes of hex.
fn decode_hex_exact<const N: usize>(
    line: usize,
    field: &str,
    s: &str,
) -> Result<[u8; N], TraceError> {
    if s.len() != 2 * N {
        return Err(bad_hex(
            line,
            field,
            format!("expected {} hex digits, found {}", 2 * N, s.len()),
        ));
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).map_err(|e| bad_hex(line, field, e.to_string()))?;
    Ok(out)
}

fn parse_num<T: std::str::FromStr>(line: usize, field: &str, s: &str) -> Result<T, TraceError> {
    s.parse()
        .map_err(|_| syntax(line, format!("{field}: cannot parse {s:?} as a number")))
}

/// Stores `value` into an empty slot, rejecting duplicate keys.
fn set_once<T>(slot: &mut Option<T>, value: T, line: usize, key: &str) -> Result<(), TraceError> {
    if slot.is_some() {
        return Err(syntax(line, format!("duplicate {key}")));
    }
    *slot = Some(value);
    Ok(())
}

/// A payload being assembled from its `*.payload.*` lines.
#[derive(Default)]
struct PayloadBuilder {
    len: Option<usize>,
    sha256: Option<([u8; 32], usize)>,
    truncated: Option<bool>,
    bytes: Vec<u8>,
}

impl PayloadBuilder {
    /// Handles `<prefix>.payload.<key> <value>`.
    fn line(
        &mut self,
        prefix: &str,
        key: &str,
        value: &str,
        line: usize,
    ) -> Result<(), TraceError> {
        let field = format!("{prefix}.payload.{key}");
        match key {
            "len" => set_once(&mut self.len, parse_num(line, &field, value)?, line, &field),
            "sha256" => {
                let digest = decode_hex_exact::<32>(line, &field, value)?;
                set_once(&mut self.sha256, (digest, line), line, &field)
            }
            "truncated" => {
                let t = if value == "no" {
                    false
                } else if value == "yes" || value.starts_with("yes ") {
                    true
                } else {
                    return Err(syntax(
                        line,
                        format!("{field}: expected yes or no, found {value:?}"),
                    ));
                };
                set_once(&mut self.truncated, t, line, &field)
            }
            "hex" => {
                if value.len() > MAX_HEX_DIGITS_PER_LINE {
                    return Err(bad_hex(
                        line,
                        &field,
                        format!(
                            "{} digits on one line (at most {MAX_HEX_DIGITS_PER_LINE})",
                            value.len()
                        ),
                    ));
                }
                let chunk = decode_hex(line, &field, value)?;
                self.bytes.extend_from_slice(&chunk);
                match self.len {
                    Some(len) if self.bytes.len() > len => Err(TraceError::PayloadTooLong {
                        line,
                        field: format!("{prefix}.payload"),
                        have: self.bytes.len(),
                        len,
                    }),
                    Some(_) => Ok(()),
                    None => Err(syntax(line, format!("{field} before {prefix}.payload.len"))),
                }
            }
            _ => Err(syntax(line, format!("unknown key {field}"))),
        }
    }

    fn is_empty(&self) -> bool {
        self.len.is_none()
            && self.sha256.is_none()
            && self.truncated.is_none()
            && self.bytes.is_empty()
    }

    fn finish(self, prefix: &str, end_line: usize) -> Result<Payload, TraceError> {
        let len = self
            .len
            .ok_or_else(|| syntax(end_line, format!("exchange without {prefix}.payload.len")))?;
        if self.bytes.len() > len {
            return Err(TraceError::PayloadTooLong {
                line: end_line,
                field: format!("{prefix}.payload"),
                have: self.bytes.len(),
                len,
            });
        }
        let truncated = self.truncated.unwrap_or(false);
        if let Some((digest, sha_line)) = self.sha256 {
            if !truncated && self.bytes.len() == len {
                let computed: [u8; 32] = Sha256::digest(&self.bytes).into();
                if computed != digest {
                    return Err(TraceError::Sha256Mismatch {
                        line: sha_line,
                        field: format!("{prefix}.payload"),
                        recorded: hex::encode(digest),
                        computed: hex::encode(computed),
                    });
                }
            }
        }
        Ok(Payload {
            len,
            sha256: self.sha256.map(|(d, _)| d),
            truncated,
            bytes: self.bytes,
        })
    }
}

/// An exchange being assembled from its lines.
struct ExchangeBuilder {
    n: usize,
    conn: Option<String>,
    from: Option<Endpoint>,
    to_port: Option<u16>,
    op: Option<(u8, String, usize)>,
    t_req: Option<f64>,
    req_hdr: Option<([u8; HDR_LEN], usize)>,
    req_payload: PayloadBuilder,
    t_rsp: Option<f64>,
    rsp_hdr: Option<[u8; HDR_LEN]>,
    rsp_payload: PayloadBuilder,
    rsp_missing: bool,
}

impl ExchangeBuilder {
    fn new(n: usize) -> Self {
        ExchangeBuilder {
            n,
            conn: None,
            from: None,
            to_port: None,
            op: None,
            t_req: None,
            req_hdr: None,
            req_payload: PayloadBuilder::default(),
            t_rsp: None,
            rsp_hdr: None,
            rsp_payload: PayloadBuilder::default(),
            rsp_missing: false,
        }
    }

    fn line(&mut self, key: &str, value: &str, line: usize) -> Result<(), TraceError> {
        if let Some(rest) = key.strip_prefix("req.payload.") {
            return self.req_payload.line("req", rest, value, line);
        }
        if let Some(rest) = key.strip_prefix("rsp.payload.") {
            return self.rsp_payload.line("rsp", rest, value, line);
        }
        match key {
            "conn" => set_once(&mut self.conn, value.to_string(), line, key),
            "from" => set_once(&mut self.from, parse_endpoint(line, value)?, line, key),
            "to" => {
                let port = value.strip_prefix("sheep:").ok_or_else(|| {
                    syntax(line, format!("to: expected sheep:<port>, found {value:?}"))
                })?;
                set_once(&mut self.to_port, parse_num(line, "to", port)?, line, key)
            }
            "op" => {
                let (code, name) = value.split_once(' ').unwrap_or((value, ""));
                let digits = code
                    .strip_prefix("0x")
                    .ok_or_else(|| syntax(line, format!("op: expected 0x<hex>, found {code:?}")))?;
                let code = u8::from_str_radix(digits, 16)
                    .map_err(|_| syntax(line, format!("op: bad opcode {code:?}")))?;
                set_once(
                    &mut self.op,
                    (code, name.trim().to_string(), line),
                    line,
                    key,
                )
            }
            "t_req" => set_once(&mut self.t_req, parse_num(line, key, value)?, line, key),
            "t_rsp" => set_once(&mut self.t_rsp, parse_num(line, key, value)?, line, key),
            "req.hdr" => {
                let hdr = decode_hex_exact::<HDR_LEN>(line, key, value)?;
                set_once(&mut self.req_hdr, (hdr, line), line, key)
            }
            "rsp.hdr" => set_once(
                &mut self.rsp_hdr,
                decode_hex_exact::<HDR_LEN>(line, key, value)?,
                line,
                key,
            ),
            // Informative only.
            "req.decoded" | "rsp.decoded" => Ok(()),
            "rsp.missing" => {
                if value != "yes" {
                    return Err(syntax(
                        line,
                        format!("rsp.missing: expected yes, found {value:?}"),
                    ));
                }
                if self.rsp_missing {
                    return Err(syntax(line, "duplicate rsp.missing"));
                }
                self.rsp_missing = true;
                Ok(())
            }
            "req.partial" | "rsp.partial" => Err(syntax(
                line,
                format!("{key}: partial messages are not supported"),
            )),
            _ => Err(syntax(line, format!("unknown key {key:?}"))),
        }
    }

    fn finish(self, end_line: usize) -> Result<Exchange, TraceError> {
        let missing = |what: &str| syntax(end_line, format!("exchange {} has no {what}", self.n));
        let conn = self.conn.clone().ok_or_else(|| missing("conn"))?;
        let from = self.from.ok_or_else(|| missing("from"))?;
        let to_port = self.to_port.ok_or_else(|| missing("to"))?;
        let (opcode, op_name, op_line) = self.op.clone().ok_or_else(|| missing("op"))?;
        let t_req = self.t_req.ok_or_else(|| missing("t_req"))?;
        let (req_hdr, hdr_line) = self.req_hdr.ok_or_else(|| missing("req.hdr"))?;
        if req_hdr[1] != opcode {
            return Err(syntax(
                op_line.max(hdr_line),
                format!(
                    "op 0x{opcode:02x} differs from req.hdr opcode 0x{:02x}",
                    req_hdr[1]
                ),
            ));
        }
        let req_payload = self.req_payload.finish("req", end_line)?;
        let rsp = if self.rsp_missing {
            if self.t_rsp.is_some() || self.rsp_hdr.is_some() || !self.rsp_payload.is_empty() {
                return Err(syntax(
                    end_line,
                    "rsp.missing together with response fields",
                ));
            }
            None
        } else {
            Some(Response {
                t_rsp: self.t_rsp.ok_or_else(|| missing("t_rsp"))?,
                hdr: self.rsp_hdr.ok_or_else(|| missing("rsp.hdr"))?,
                payload: self.rsp_payload.finish("rsp", end_line)?,
            })
        };
        Ok(Exchange {
            n: self.n,
            conn,
            from,
            to_port,
            opcode,
            op_name,
            t_req,
            req_hdr,
            req_payload,
            rsp,
        })
    }
}

fn parse_endpoint(line: usize, s: &str) -> Result<Endpoint, TraceError> {
    match s {
        "dog" => Ok(Endpoint::Dog),
        "python" => Ok(Endpoint::Python),
        "unknown" => Ok(Endpoint::Unknown),
        _ => match s.strip_prefix("sheep:") {
            Some(port) => Ok(Endpoint::Sheep(parse_num(line, "from", port)?)),
            None => Err(syntax(line, format!("from: unknown sender {s:?}"))),
        },
    }
}

#[derive(Default)]
struct Parser {
    marker_seen: bool,
    scenario: Option<String>,
    commands: Vec<String>,
    notes: Vec<String>,
    problems: Vec<String>,
    filter: Option<String>,
    sheep_ports: Option<Vec<u16>>,
    declared: Option<(usize, usize)>,
    exchanges: Vec<Exchange>,
    current: Option<ExchangeBuilder>,
}

impl Parser {
    fn run(mut self, text: &str) -> Result<Trace, TraceError> {
        let mut last_line = 0;
        for (i, raw) in text.lines().enumerate() {
            let line = i + 1;
            last_line = line;
            let l = raw.trim_end();
            if l.is_empty() {
                continue;
            }
            if !self.marker_seen {
                if !l.starts_with(MARKER) {
                    return Err(syntax(line, format!("missing {MARKER:?} marker")));
                }
                self.marker_seen = true;
                continue;
            }
            if let Some(h) = l.strip_prefix("# ") {
                if self.current.is_some() {
                    return Err(syntax(line, "header line inside an exchange"));
                }
                self.header(h, line)?;
                continue;
            }
            let (key, value) = l.split_once(' ').unwrap_or((l, ""));
            match key {
                "BEGIN" => {
                    if self.current.is_some() {
                        return Err(syntax(line, "BEGIN inside an exchange"));
                    }
                    let n = exchange_number(line, value)?;
                    let expected = self.exchanges.len() + 1;
                    if n != expected {
                        return Err(syntax(
                            line,
                            format!("exchange {n} where {expected} was expected"),
                        ));
                    }
                    self.current = Some(ExchangeBuilder::new(n));
                }
                "END" => {
                    let cur = self
                        .current
                        .take()
                        .ok_or_else(|| syntax(line, "END outside an exchange"))?;
                    let n = exchange_number(line, value)?;
                    if n != cur.n {
                        return Err(syntax(
                            line,
                            format!("END EXCHANGE {n} closes exchange {}", cur.n),
                        ));
                    }
                    self.exchanges.push(cur.finish(line)?);
                }
                _ => match self.current.as_mut() {
                    Some(cur) => cur.line(key, value, line)?,
                    None => return Err(syntax(line, format!("{key:?} outside an exchange"))),
                },
            }
        }
        if !self.marker_seen {
            return Err(syntax(1, format!("missing {MARKER:?} marker")));
        }
        if let Some(cur) = self.current {
            return Err(syntax(last_line, format!("exchange {} has no END", cur.n)));
        }
        if let Some((n, line)) = self.declared {
            if n != self.exchanges.len() {
                return Err(syntax(
                    line,
                    format!(
                        "header declares {n} exchanges, found {}",
                        self.exchanges.len()
                    ),
                ));
            }
        }
        Ok(Trace {
            scenario: self
                .scenario
                .ok_or_else(|| syntax(last_line, "no # scenario: header"))?,
            commands: self.commands,
            notes: self.notes,
            problems: self.problems,
            filter: self.filter.unwrap_or_else(|| "all".to_string()),
            sheep_ports: self.sheep_ports.unwrap_or_default(),
            exchanges: self.exchanges,
        })
    }

    /// Handles a header line (without its leading `# `).
    fn header(&mut self, h: &str, line: usize) -> Result<(), TraceError> {
        let Some((key, value)) = h.split_once(':') else {
            // Free-form comment.
            return Ok(());
        };
        let value = value.trim();
        match key {
            "scenario" => set_once(&mut self.scenario, value.to_string(), line, "# scenario"),
            "command" => {
                self.commands.push(value.to_string());
                Ok(())
            }
            "note" => {
                self.notes.push(value.to_string());
                Ok(())
            }
            "problem" => {
                self.problems.push(value.to_string());
                Ok(())
            }
            "filter" => set_once(&mut self.filter, value.to_string(), line, "# filter"),
            "sheep ports" => {
                // "7000,7001,7002 ; all header integers are little-endian"
                let list = value.split(';').next().unwrap_or("");
                let ports = list
                    .split(',')
                    .map(|p| parse_num::<u16>(line, "# sheep ports", p.trim()))
                    .collect::<Result<Vec<_>, _>>()?;
                set_once(&mut self.sheep_ports, ports, line, "# sheep ports")
            }
            "exchanges" => {
                let n = parse_num(line, "# exchanges", value)?;
                set_once(&mut self.declared, (n, line), line, "# exchanges")
            }
            // "# opcode counts (...)" and anything newer: informative.
            _ => Ok(()),
        }
    }
}

fn exchange_number(line: usize, value: &str) -> Result<usize, TraceError> {
    let n = value
        .strip_prefix("EXCHANGE ")
        .ok_or_else(|| syntax(line, format!("expected EXCHANGE <n>, found {value:?}")))?;
    parse_num(line, "EXCHANGE", n.trim())
}

#[cfg(test)]
mod tests;
