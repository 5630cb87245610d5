use super::*;

/// (file stem, text, parsed trace) for every golden trace, parsed once.
fn all() -> &'static [(String, String, Trace)] {
    static ALL: std::sync::OnceLock<Vec<(String, String, Trace)>> = std::sync::OnceLock::new();
    ALL.get_or_init(|| {
        let dir = traces_dir();
        let mut names: Vec<_> = std::fs::read_dir(&dir)
            .expect("traces dir")
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "trace"))
            .collect();
        names.sort();
        assert!(
            names.len() >= 20,
            "expected the golden traces in {}",
            dir.display()
        );
        names
            .into_iter()
            .map(|p| {
                let text = std::fs::read_to_string(&p).unwrap();
                let t = Trace::load(&p).unwrap_or_else(|e| panic!("{e}"));
                (
                    p.file_stem().unwrap().to_string_lossy().into_owned(),
                    text,
                    t,
                )
            })
            .collect()
    })
}

#[test]
fn every_trace_parses() {
    let traces = all();
    for (name, _, t) in traces {
        assert_eq!(&t.scenario, name);
        assert!(!t.sheep_ports.is_empty(), "{name}");
        assert!(t.sheep_ports.contains(&7000), "{name}");
        assert!(
            ["all", "dog", "peer"].contains(&t.filter.as_str()),
            "{name}"
        );
        assert!(!t.exchanges.is_empty(), "{name}");
        for (i, x) in t.exchanges.iter().enumerate() {
            assert_eq!(x.n, i + 1);
            assert!(t.sheep_ports.contains(&x.to_port), "{name} #{}", x.n);
            if let Endpoint::Sheep(p) = x.from {
                assert!(t.sheep_ports.contains(&p), "{name} #{}", x.n);
            }
            if t.filter == "peer" {
                assert!(matches!(x.from, Endpoint::Sheep(_)), "{name} #{}", x.n);
            }
        }
    }
    let loaded = load_all().unwrap();
    let names: Vec<_> = loaded.iter().map(|t| t.scenario.clone()).collect();
    let expected: Vec<_> = traces.iter().map(|(n, _, _)| n.clone()).collect();
    assert_eq!(names, expected);
}

#[test]
fn exchange_counts_match_headers() {
    let mut total = 0;
    for (name, text, t) in all() {
        let declared: usize = text
            .lines()
            .find_map(|l| l.strip_prefix("# exchanges: "))
            .unwrap_or_else(|| panic!("{name}: no # exchanges header"))
            .trim()
            .parse()
            .unwrap();
        assert_eq!(t.exchanges.len(), declared, "{name}");
        let begins = text
            .lines()
            .filter(|l| l.starts_with("BEGIN EXCHANGE "))
            .count();
        assert_eq!(begins, declared, "{name}");
        total += declared;
    }
    assert!(total > 300, "only {total} exchanges");
}

#[test]
fn complete_payloads_match_sha256() {
    let mut checked = 0;
    for (name, _, t) in all() {
        for x in &t.exchanges {
            let mut payloads = vec![("req", &x.req_payload)];
            if let Some(r) = &x.rsp {
                payloads.push(("rsp", &r.payload));
            }
            for (which, p) in payloads {
                if p.len == 0 {
                    assert!(
                        p.bytes.is_empty() && p.sha256.is_none(),
                        "{name} #{} {which}",
                        x.n
                    );
                    continue;
                }
                let digest = p
                    .sha256
                    .unwrap_or_else(|| panic!("{name} #{} {which}: no sha256", x.n));
                if p.truncated {
                    assert_eq!(p.bytes.len(), 65536.min(p.len), "{name} #{} {which}", x.n);
                    assert!(p.len > 65536, "{name} #{} {which}", x.n);
                } else {
                    assert!(p.is_complete(), "{name} #{} {which}", x.n);
                    let computed: [u8; 32] = Sha256::digest(&p.bytes).into();
                    assert_eq!(computed, digest, "{name} #{} {which}", x.n);
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} complete payloads");
}

#[test]
fn responses_echo_opcode_and_id() {
    let mut echoed = 0;
    let mut missing = 0;
    for (name, _, t) in all() {
        for x in &t.exchanges {
            assert_eq!(x.req_hdr[1], x.opcode, "{name} #{}", x.n);
            let Some(r) = &x.rsp else {
                missing += 1;
                continue;
            };
            assert_eq!(r.hdr[1], x.req_hdr[1], "{name} #{}: opcode", x.n);
            assert_eq!(r.hdr[8..12], x.req_hdr[8..12], "{name} #{}: id", x.n);
            assert!(r.t_rsp >= x.t_req, "{name} #{}", x.n);
            echoed += 1;
        }
    }
    assert!(echoed > 300);
    assert_eq!(
        missing, 3,
        "raw-probes #22, unknown-opcode-crash #22 and #23"
    );
}

#[test]
fn framing_matches_headers() {
    // request payload = data_length iff WRITE; response payload = rsp.data_length.
    for (name, _, t) in all() {
        for x in &t.exchanges {
            let expect = if x.req_flags() & 1 != 0 {
                x.req_data_length() as usize
            } else {
                0
            };
            assert_eq!(x.req_payload.len, expect, "{name} #{}", x.n);
            if let Some(r) = &x.rsp {
                assert_eq!(
                    r.payload.len,
                    le_u32(&r.hdr, 12) as usize,
                    "{name} #{}",
                    x.n
                );
            }
        }
    }
}

#[test]
fn node_list_fields() {
    let t = Trace::load_scenario("node-list").unwrap();
    assert_eq!(t.commands, vec!["dog node list".to_string()]);
    assert_eq!(t.sheep_ports, vec![7000, 7001, 7002]);
    assert_eq!(t.filter, "all");
    let x = &t.exchanges[0];
    assert_eq!(x.from, Endpoint::Dog);
    assert_eq!(x.to_port, 7000);
    assert_eq!(x.opcode, 0x82);
    assert_eq!(x.op_name, "GET_NODE_LIST");
    assert_eq!(x.conn, "127.0.0.1:54738 > 127.0.0.1:7000");
    assert!(!x.opened_before_capture());
    assert!((x.t_req - 0.000198).abs() < 1e-12);
    assert_eq!(x.req_data_length(), 491_520);
    let r = x.rsp.as_ref().unwrap();
    assert_eq!(r.payload.len, 240);
    assert!(r.payload.is_complete());
    assert_eq!(x.rsp_result(), Some(0));
    // Second node: port 7001 at offset 80 + 40.
    assert_eq!(
        u16::from_le_bytes([r.payload.bytes[120], r.payload.bytes[121]]),
        7001
    );
}

#[test]
fn missing_response_is_none() {
    let t = Trace::load_scenario("unknown-opcode-crash").unwrap();
    let x = &t.exchanges[22];
    assert_eq!(x.opcode, 0xee);
    assert_eq!(x.op_name, "UNKNOWN");
    assert!(x.rsp.is_none());
    assert_eq!(x.rsp_result(), None);
    assert!(!t.problems.is_empty());
}

const SHA_01020304: &str = "9f64a747e1b97f131fabb6b447296c9b6f0201e79fb3c5356e6c77e89b6a806a";

/// A one-exchange trace; the rsp sha256 is on line 18 and the hex on line 20.
fn mini() -> String {
    let req_hdr = format!("0a02{}04000000{}", "00".repeat(10), "00".repeat(32));
    let rsp_hdr = format!("0002{}04000000{}", "00".repeat(10), "00".repeat(32));
    assert_eq!(req_hdr.len(), 96);
    [
        "# sdtrace v1 -- test",
        "# scenario: mini",
        "# sheep ports: 7000 ; x",
        "# filter: all",
        "# exchanges: 1",
        "",
        "BEGIN EXCHANGE 1",
        "conn a > b",
        "from sheep:7000",
        "to sheep:7000",
        "op 0x02 READ_OBJ",
        "t_req 0.5",
        &format!("req.hdr {req_hdr}"),
        "req.payload.len 0",
        "t_rsp 0.6",
        &format!("rsp.hdr {rsp_hdr}"),
        "rsp.payload.len 4",
        &format!("rsp.payload.sha256 {SHA_01020304}"),
        "rsp.payload.truncated no",
        "rsp.payload.hex 01020304",
        "END EXCHANGE 1",
        "",
    ]
    .join("\n")
}

#[test]
fn parses_minimal_trace() {
    let t = Trace::parse(&mini()).unwrap();
    assert_eq!(t.scenario, "mini");
    assert_eq!(t.sheep_ports, vec![7000]);
    let x = &t.exchanges[0];
    assert_eq!(x.from, Endpoint::Sheep(7000));
    assert_eq!(x.req_data_length(), 4);
    let r = x.rsp.as_ref().unwrap();
    assert_eq!(r.payload.bytes, vec![1, 2, 3, 4]);
    assert!(r.payload.is_complete());
}

#[test]
fn rejects_bad_input() {
    let good = mini();
    let parse = |s: String| Trace::parse(&s);
    // Wrong digest.
    let bad_sha = good.replace(SHA_01020304, &"00".repeat(32));
    assert!(matches!(
        parse(bad_sha.clone()),
        Err(TraceError::Sha256Mismatch { line: 18, .. })
    ));
    // A truncated payload is not hashed.
    let trunc = bad_sha.replace("truncated no", "truncated yes (first 65536 bytes kept)");
    assert!(
        parse(trunc).unwrap().exchanges[0]
            .rsp
            .as_ref()
            .unwrap()
            .payload
            .truncated
    );
    // An incomplete payload is not hashed either.
    let short = bad_sha.replace("hex 01020304", "hex 0102");
    assert!(!parse(short).unwrap().exchanges[0]
        .rsp
        .as_ref()
        .unwrap()
        .payload
        .is_complete());
    // Too many payload bytes.
    let long = good.replace("hex 01020304", "hex 0102030405");
    assert!(matches!(
        parse(long),
        Err(TraceError::PayloadTooLong { line: 20, .. })
    ));
    // Odd and non-hex digits.
    let odd = good.replace("hex 01020304", "hex 010203040");
    assert!(matches!(
        parse(odd),
        Err(TraceError::BadHex { line: 20, .. })
    ));
    let nonhex = good.replace("hex 01020304", "hex 010203zz");
    assert!(matches!(
        parse(nonhex),
        Err(TraceError::BadHex { line: 20, .. })
    ));
    // Header of the wrong length.
    let hdr = good.replace("req.hdr 0a02", "req.hdr 0a0200");
    assert!(matches!(
        parse(hdr),
        Err(TraceError::BadHex { line: 13, .. })
    ));
    // Declared count.
    let count = good.replace("# exchanges: 1", "# exchanges: 2");
    assert!(matches!(
        parse(count),
        Err(TraceError::Syntax { line: 5, .. })
    ));
    // Unterminated exchange.
    let open = good.replace("END EXCHANGE 1\n", "");
    assert!(matches!(parse(open), Err(TraceError::Syntax { .. })));
    // Mismatched END.
    let end = good.replace("END EXCHANGE 1", "END EXCHANGE 2");
    assert!(matches!(
        parse(end),
        Err(TraceError::Syntax { line: 21, .. })
    ));
    // No marker.
    assert!(matches!(
        Trace::parse("# scenario: x\n"),
        Err(TraceError::Syntax { line: 1, .. })
    ));
    // Opcode disagreeing with the header.
    let op = good.replace("op 0x02 READ_OBJ", "op 0x03 WRITE_OBJ");
    assert!(matches!(parse(op), Err(TraceError::Syntax { .. })));
    // Missing response fields.
    let no_rsp = good.replace("t_rsp 0.6\n", "");
    assert!(matches!(
        parse(no_rsp),
        Err(TraceError::Syntax { line: 20, .. })
    ));
    // rsp.missing together with a response.
    let both = good.replace("t_rsp 0.6", "rsp.missing yes\nt_rsp 0.6");
    assert!(matches!(parse(both), Err(TraceError::Syntax { .. })));
    // Unknown sender and unknown key.
    let from = good.replace("from sheep:7000", "from qemu");
    assert!(matches!(
        parse(from),
        Err(TraceError::Syntax { line: 9, .. })
    ));
    let key = good.replace("t_req 0.5", "t_req 0.5\nfoo bar");
    assert!(matches!(
        parse(key),
        Err(TraceError::Syntax { line: 13, .. })
    ));
    // Errors from a file carry its name.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.trace");
    std::fs::write(&path, good.replace("hex 01020304", "hex 0102030405")).unwrap();
    let err = Trace::load(&path).unwrap_err();
    assert!(err.to_string().contains("broken.trace"), "{err}");
    assert!(err.to_string().contains("line 20"), "{err}");
}
