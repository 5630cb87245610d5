use super::*;
use crate::proto::{decode_request, ReqHeader, SdResult};
use std::io::{Seek, SeekFrom};
use std::net::TcpListener;
use std::time::Duration;

/// The bytes the stub serves for `len` bytes of `oid` at `off`.
fn content(oid: u64, off: u32, len: u32) -> Vec<u8> {
    (0..len)
        .map(|i| (oid as u32).wrapping_mul(31).wrapping_add((off + i) / 3) as u8)
        .collect()
}

/// A sheep stand-in that answers READ_OBJ requests two at a time in
/// reverse order (the later request first), `fail` with NO_OBJ, and
/// after `cut_after` answers sends half a payload and hangs up.
fn stub(total: usize, fail: Option<u64>, cut_after: Option<usize>) -> Target {
    stub_window(total, 2, fail, cut_after)
}

/// [`stub`] answering `window` requests at a time in reverse order.
fn stub_window(total: usize, window: usize, fail: Option<u64>, cut_after: Option<usize>) -> Target {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let (mut seen, mut answered) = (0, 0);
        while seen < total {
            let mut reqs = Vec::new();
            for _ in 0..(total - seen).min(window) {
                let mut b = [0u8; 48];
                if s.read_exact(&mut b).is_err() {
                    return;
                }
                let h: ReqHeader = sdwire::from_slice(&b, 0).unwrap();
                let Ok(Request::Client(ClientOp::ReadObj(o))) = decode_request(&h) else {
                    panic!("not a READ_OBJ: {h:?}");
                };
                reqs.push((h, o.oid.0, o.offset));
                seen += 1;
            }
            for (h, oid, off) in reqs.into_iter().rev() {
                let mut r = RspHeader {
                    opcode: h.opcode,
                    id: h.id,
                    ..RspHeader::default()
                };
                let body = content(oid, off, h.data_length);
                if Some(oid) == fail {
                    r.result = SdResult::NoObj;
                } else {
                    r.data_length = h.data_length;
                }
                let mut out = sdwire::to_vec(&r, 0).unwrap();
                if Some(answered) == cut_after {
                    out.extend_from_slice(&body[..body.len() / 2]);
                    let _ = s.write_all(&out);
                    return;
                }
                if r.data_length > 0 {
                    out.extend_from_slice(&body);
                }
                if s.write_all(&out).is_err() {
                    return;
                }
                answered += 1;
            }
        }
        // Wait for the client to hang up.
        let _ = s.read(&mut [0u8; 1]);
    });
    Target::Tcp(addr)
}

/// Pieces over three objects of 1 MiB with a hole in the middle, in
/// 256 KiB pieces plus an odd tail.
fn pieces() -> Vec<Piece> {
    let mut v = Vec::new();
    for (oid, hole) in [(0x11, false), (0x22, true), (0x33, false)] {
        for k in 0..4 {
            v.push(Piece {
                oid: (!hole).then_some(oid),
                off: k << 18,
                len: 1 << 18,
            });
        }
    }
    v.push(Piece {
        oid: Some(0x44),
        off: 100,
        len: 12345,
    });
    v
}

fn expected(pieces: &[Piece]) -> Vec<u8> {
    let mut v = Vec::new();
    for p in pieces {
        match p.oid {
            Some(oid) => v.extend(content(oid, p.off, p.len)),
            None => v.resize(v.len() + p.len as usize, 0),
        }
    }
    v
}

fn requests(pieces: &[Piece]) -> usize {
    pieces.iter().filter(|p| p.oid.is_some()).count()
}

/// Both ways of writing a regular file.
const MODES: [Opts; 2] = [
    Opts {
        max_pipes: MAX_PIPES,
        positional: true,
    },
    Opts {
        max_pipes: MAX_PIPES,
        positional: false,
    },
];

fn read_back(f: &mut File) -> Vec<u8> {
    f.seek(SeekFrom::Start(0)).unwrap();
    let mut v = Vec::new();
    f.read_to_end(&mut v).unwrap();
    v
}

#[test]
fn answers_out_of_order_come_out_in_order_with_holes() {
    let ps = pieces();
    for (inflight, opts) in [2, 3, 16].into_iter().flat_map(|i| MODES.map(|m| (i, m))) {
        let t = stub(requests(&ps), None, None);
        let mut f = tempfile::tempfile().unwrap();
        let mut total = 0;
        read_to_with(&t, f.try_clone().unwrap(), &ps, inflight, opts, |n| {
            total += n
        })
        .unwrap();
        let got = read_back(&mut f);
        assert!(
            got == expected(&ps),
            "inflight {inflight}, {opts:?}: output differs"
        );
        assert_eq!(total, got.len() as u64);
    }
}

#[test]
fn a_file_is_written_from_its_position_and_left_after_the_bytes() {
    // As a sequential write would: `1<>file` with the position moved
    // on, and content beyond the output kept; holes overwrite what was
    // there with zeros.
    let ps = pieces();
    for opts in MODES {
        let t = stub_window(requests(&ps), 8, None, None);
        let mut f = tempfile::tempfile().unwrap();
        let junk = vec![0xeeu8; 100 + expected(&ps).len() + 50];
        f.write_all(&junk).unwrap();
        f.seek(SeekFrom::Start(100)).unwrap();
        read_to_with(&t, f.try_clone().unwrap(), &ps, 8, opts, |_| {}).unwrap();
        let end = 100 + expected(&ps).len() as u64;
        assert_eq!(f.stream_position().unwrap(), end, "{opts:?}");
        let got = read_back(&mut f);
        assert_eq!(got.len(), junk.len());
        assert!(got[..100] == junk[..100], "{opts:?}");
        assert!(
            got[100..end as usize] == expected(&ps),
            "{opts:?}: output differs"
        );
        assert!(got[end as usize..] == junk[end as usize..], "{opts:?}");
    }
}

#[test]
fn a_unix_socket_sheep_works_too() {
    // Splicing from a unix socket with SPLICE_F_NONBLOCK does not wait
    // for data: the feeder must poll instead of failing.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sock");
    let l = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let ps = pieces();
    let n = requests(&ps);
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        for _ in 0..n {
            let mut b = [0u8; 48];
            s.read_exact(&mut b).unwrap();
            let h: ReqHeader = sdwire::from_slice(&b, 0).unwrap();
            let Ok(Request::Client(ClientOp::ReadObj(o))) = decode_request(&h) else {
                panic!("not a READ_OBJ");
            };
            // Answer slowly, in two parts, so the dog finds the socket
            // empty in the middle of a payload.
            std::thread::sleep(Duration::from_millis(2));
            let r = RspHeader {
                opcode: h.opcode,
                id: h.id,
                data_length: h.data_length,
                ..RspHeader::default()
            };
            let body = content(o.oid.0, o.offset, h.data_length);
            let mut out = sdwire::to_vec(&r, 0).unwrap();
            out.extend_from_slice(&body[..body.len() / 2]);
            s.write_all(&out).unwrap();
            std::thread::sleep(Duration::from_millis(2));
            s.write_all(&body[body.len() / 2..]).unwrap();
        }
        let _ = s.read(&mut [0u8; 1]);
    });
    let mut f = tempfile::tempfile().unwrap();
    read_to(&Target::Unix(path), f.try_clone().unwrap(), &ps, 4, |_| {}).unwrap();
    assert!(read_back(&mut f) == expected(&ps));
}

#[test]
fn early_answers_beyond_the_spare_pipes_wait_in_memory() {
    let ps = pieces();
    for (window, max_pipes) in [(4, 3), (8, 2), (8, 34)] {
        let t = stub_window(requests(&ps), window, None, None);
        let mut f = tempfile::tempfile().unwrap();
        let opts = Opts {
            max_pipes,
            positional: false,
        };
        read_to_with(&t, f.try_clone().unwrap(), &ps, 8, opts, |_| {}).unwrap();
        assert!(
            read_back(&mut f) == expected(&ps),
            "window {window}, {max_pipes} pipes: output differs"
        );
    }
}

#[test]
fn an_output_that_refuses_splice_gets_a_copy() {
    // splice(2) into an O_APPEND file is EINVAL: the writer copies.
    let ps = pieces();
    let t = stub(requests(&ps), None, None);
    let path = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(path.path(), b"head").unwrap();
    let f = std::fs::OpenOptions::new()
        .append(true)
        .open(path.path())
        .unwrap();
    read_to(&t, f, &ps, 4, |_| {}).unwrap();
    let got = std::fs::read(path.path()).unwrap();
    assert_eq!(&got[..4], b"head");
    assert!(got[4..] == expected(&ps));
}

#[test]
fn an_error_result_names_the_object() {
    let ps = pieces();
    for opts in MODES {
        let t = stub(requests(&ps), Some(0x33), None);
        let f = tempfile::tempfile().unwrap();
        match read_to_with(&t, f, &ps, 4, opts, |_| {}).unwrap_err() {
            DogError::Sd { what, code } => {
                assert_eq!(what, "Failed to read object 33");
                assert_eq!(SdResult::from_code(code), SdResult::NoObj);
            }
            e => panic!("{opts:?}: {e:?}"),
        }
    }
}

#[test]
fn a_connection_cut_mid_payload_is_an_error_not_a_hang() {
    let ps = pieces();
    for (cut, opts) in [0, 3].into_iter().flat_map(|c| MODES.map(|m| (c, m))) {
        let t = stub(requests(&ps), None, Some(cut));
        let f = tempfile::tempfile().unwrap();
        let e = read_to_with(&t, f, &ps, 4, opts, |_| {}).unwrap_err();
        assert!(matches!(e, DogError::Conn(_)), "cut {cut}, {opts:?}: {e:?}");
    }
}

#[test]
fn an_output_that_fails_is_an_error_not_a_hang() {
    // A file open only for reading: every write to it fails.
    let ps = pieces();
    let path = tempfile::NamedTempFile::new().unwrap();
    for opts in MODES {
        let t = stub(requests(&ps), None, None);
        let f = File::open(path.path()).unwrap();
        match read_to_with(&t, f, &ps, 4, opts, |_| {}).unwrap_err() {
            DogError::Other(m) => assert!(m.starts_with("Failed to write to stdout"), "{m}"),
            e => panic!("{opts:?}: {e:?}"),
        }
    }
}

#[test]
fn nothing_listening_is_a_connect_error() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let t = Target::Tcp(l.local_addr().unwrap());
    drop(l);
    let e = read_to(&t, tempfile::tempfile().unwrap(), &pieces(), 4, |_| {}).unwrap_err();
    assert!(
        e.to_string().starts_with("Failed to connect to 127.0.0.1:"),
        "{e}"
    );
}
