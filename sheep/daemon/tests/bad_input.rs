//! Hostile input against a live daemon: the whole opcode x proto_ver
//! matrix, oversized and truncated frames, garbage. The daemon must answer
//! or close the connection, never panic, and keep serving.

mod support;

use std::time::Duration;

use sdwire::OpTable;
use sheep_proto::oid::Oid;
use sheep_proto::{classify, AdminOp, ClientOp, NoArgs, ObjReq, Protocol, Request, SdResult};
use support::Daemon;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Opcodes the daemon implements (everything else must be INVALID_PARMS).
const HANDLED: &[u8] = &[
    0x01, 0x02, 0x03, 0x04, 0x05, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x82, 0x84, 0x85,
    0x86, 0x87, 0x89, 0x97, 0x9A, 0xA1, 0xA2, 0xA3, 0xA4, 0xA5, 0xA6, 0xB4, 0xBD, 0xBE, 0xC9,
];

/// The opcode of a typed op.
fn op(r: Request) -> u8 {
    r.opcode()
}

const NO: NoArgs = NoArgs { _rsvd: [0; 32] };

fn read_obj() -> u8 {
    op(Request::Client(ClientOp::ReadObj(ObjReq::default())))
}

fn write_obj() -> u8 {
    op(Request::Client(ClientOp::WriteObj(ObjReq::default())))
}

fn header(ver: u8, opcode: u8, flags: u16, data_length: u32, id: u32) -> [u8; 48] {
    let mut h = [0u8; 48];
    h[0] = ver;
    h[1] = opcode;
    h[2..4].copy_from_slice(&flags.to_le_bytes());
    h[8..12].copy_from_slice(&id.to_le_bytes());
    h[12..16].copy_from_slice(&data_length.to_le_bytes());
    h
}

async fn roundtrip(s: &mut TcpStream, h: [u8; 48]) -> ([u8; 48], Vec<u8>) {
    s.write_all(&h).await.unwrap();
    let mut rh = [0u8; 48];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut rh))
        .await
        .expect("answer in time")
        .expect("answer");
    let len = u32::from_le_bytes(rh[12..16].try_into().unwrap()) as usize;
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).await.unwrap();
    (rh, p)
}

/// Reads until EOF; true when the server closed the connection.
async fn closed(s: &mut TcpStream) -> bool {
    let mut buf = vec![0u8; 65536];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn opcode_version_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), 0).await;
    let c = d.client().await;
    c.make_fs(1, 22).await.unwrap();
    let vid = c.new_vdi("m", 16 << 20).await.unwrap();
    c.vdi_write(vid, 0, &[7u8; 4096]).await.unwrap();

    let mut s = TcpStream::connect(d.addr).await.unwrap();
    let versions = [0u8, 1, 2, 3, 9, 0x0a, 0x0b, 0xff];
    let mut id = 0u32;
    for opcode in 0..=255u8 {
        for &ver in &versions {
            let internal = opcode >= 0x80;
            // The peer protocol also speaks 0x0b (payload CRCs).
            let peer = classify(opcode) == Some(Protocol::Peer);
            let ver_ok = if internal {
                ver == 0x0a || (peer && ver == 0x0b)
            } else {
                ver <= 2
            };
            // Do not stop or wipe the daemon under test.
            let stops = [
                AdminOp::Shutdown(NO).tag(),
                AdminOp::KillNode(NO).tag(),
                AdminOp::MakeFs(Default::default()).tag(),
            ];
            if ver_ok && stops.contains(&opcode) {
                continue;
            }
            id += 1;
            let (rh, p) = roundtrip(&mut s, header(ver, opcode, 0, 0, id)).await;
            let result = u32::from_le_bytes(rh[16..20].try_into().unwrap());
            assert_eq!(rh[0], 0, "proto_ver of the answer");
            assert_eq!(rh[1], opcode, "echoed opcode");
            assert_eq!(
                u32::from_le_bytes(rh[8..12].try_into().unwrap()),
                id,
                "echoed id"
            );
            assert!(
                p.is_empty(),
                "op {opcode:#x} v{ver}: payload with data_length 0"
            );
            if !ver_ok {
                assert_eq!(
                    result,
                    SdResult::VerMismatch.code(),
                    "op {opcode:#x} v{ver}"
                );
            } else if !HANDLED.contains(&opcode) {
                assert_eq!(
                    result,
                    SdResult::InvalidParms.code(),
                    "op {opcode:#x} v{ver}"
                );
            }
        }
    }
    // Still serving, data intact.
    assert_eq!(c.vdi_read(vid, 0, 4096).await.unwrap(), vec![7u8; 4096]);
    d.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oversized_truncated_and_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), 0).await;
    let c = d.client().await;
    c.make_fs(1, 22).await.unwrap();
    let vid = c.new_vdi("g", 16 << 20).await.unwrap();
    c.vdi_write(vid, 0, &[3u8; 8192]).await.unwrap();

    // WRITE with a payload above the limit: closed without reading it.
    let mut s = TcpStream::connect(d.addr).await.unwrap();
    s.write_all(&header(2, write_obj(), 1, 100 << 20, 1))
        .await
        .unwrap();
    assert!(closed(&mut s).await);
    // A read asking for 4 GiB: closed.
    let mut s = TcpStream::connect(d.addr).await.unwrap();
    s.write_all(&header(2, read_obj(), 0, u32::MAX, 1))
        .await
        .unwrap();
    assert!(closed(&mut s).await);
    // Truncated header, truncated payload.
    let mut s = TcpStream::connect(d.addr).await.unwrap();
    s.write_all(&header(2, read_obj(), 0, 0, 1)[..20])
        .await
        .unwrap();
    s.shutdown().await.unwrap();
    assert!(closed(&mut s).await);
    let mut s = TcpStream::connect(d.addr).await.unwrap();
    let mut h = header(2, write_obj(), 1, 4096, 1);
    h[16..24].copy_from_slice(&Oid::data(vid, 0).0.to_le_bytes());
    s.write_all(&h).await.unwrap();
    s.write_all(&[0xEE; 1000]).await.unwrap();
    s.shutdown().await.unwrap();
    assert!(closed(&mut s).await);
    // Garbage.
    let mut s = TcpStream::connect(d.addr).await.unwrap();
    let junk: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let _ = s.write_all(&junk).await;
    let _ = s.shutdown().await;
    let _ = closed(&mut s).await;
    // Reads outside the object: INVALID_PARMS, no payload.
    let mut s = TcpStream::connect(d.addr).await.unwrap();
    let mut h = header(2, read_obj(), 0, 8192, 1);
    h[16..24].copy_from_slice(&Oid::data(vid, 0).0.to_le_bytes());
    h[40..44].copy_from_slice(&((4u32 << 20) - 4096).to_le_bytes());
    let (rh, p) = roundtrip(&mut s, h).await;
    assert_eq!(
        u32::from_le_bytes(rh[16..20].try_into().unwrap()),
        SdResult::InvalidParms.code()
    );
    assert!(p.is_empty());
    // An inode read of the wrong vid: NO_OBJ, no payload.
    let mut h = header(2, read_obj(), 0, 4664, 2);
    h[16..24].copy_from_slice(&Oid::inode(vid + 7).0.to_le_bytes());
    let (rh, p) = roundtrip(&mut s, h).await;
    assert_eq!(
        u32::from_le_bytes(rh[16..20].try_into().unwrap()),
        SdResult::NoObj.code()
    );
    assert!(p.is_empty());
    // The untouched data is intact and the daemon still serves.
    let c2 = d.client().await;
    assert_eq!(c2.vdi_read(vid, 0, 8192).await.unwrap(), vec![3u8; 8192]);
    drop(c);
    d.stop().await;
}

/// Found by fuzzing (fuzz/, `sheep_conn`): answers ahead of a refused frame
/// arrived cut short. The sheep closed the connection with the client's
/// input unread, the kernel sent a reset, and the reset discarded the
/// answers still in flight (a 480 KB reply lost most of its bytes). The
/// sheep now shuts its write side after the last answer and reads the
/// input to its end (a lingering close, bounded), so every answer arrives
/// whole and the client sees a clean EOF.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_before_a_refused_frame_arrive_whole() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), 0).await;
    let c = d.client().await;
    c.make_fs(1, 22).await.unwrap();
    let vid = c.new_vdi("linger", 64 << 20).await.unwrap();
    let obj: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
    let oids: Vec<u64> = (0..6).map(|i| Oid::data(vid, i).0).collect();
    for &oid in &oids {
        c.create_and_write_obj(oid, None, 0, obj.clone())
            .await
            .unwrap();
    }
    // Six 4 MiB reads (more than the socket buffers hold), an oversized
    // frame, and more input after it that the sheep never reads as frames.
    let mut input = Vec::new();
    for (i, &oid) in oids.iter().enumerate() {
        let mut h = header(2, read_obj(), 0, 4 << 20, i as u32);
        h[16..24].copy_from_slice(&oid.to_le_bytes());
        input.extend_from_slice(&h);
    }
    input.extend_from_slice(&header(2, write_obj(), 1, u32::MAX, 99));
    input.extend_from_slice(&[0x5a; 256 << 10]);
    let mut s = TcpStream::connect(d.addr).await.unwrap();
    s.write_all(&input).await.unwrap();
    // Read only once the answers have piled up in the buffers.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut got = Vec::new();
    let r = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut got)).await;
    let r = r.expect("the sheep closes the connection");
    assert!(
        r.is_ok(),
        "the connection was reset after {} bytes: {r:?}",
        got.len()
    );
    assert_eq!(
        got.len(),
        oids.len() * (48 + (4 << 20)),
        "answers cut short"
    );
    // Answers may leave out of order: every id once, each payload whole.
    let mut ids: Vec<u32> = got
        .chunks(48 + (4 << 20))
        .map(|a| {
            let id = u32::from_le_bytes(a[8..12].try_into().unwrap());
            assert_eq!(
                u32::from_le_bytes(a[16..20].try_into().unwrap()),
                0,
                "result"
            );
            assert!(a[48..] == obj[..], "answer {id} payload");
            id
        })
        .collect();
    ids.sort_unstable();
    assert_eq!(ids, (0..oids.len() as u32).collect::<Vec<_>>());
    // The sheep still serves.
    assert_eq!(c.read_obj(oids[0], 0, 16).await.unwrap(), obj[..16]);
    d.stop().await;
}
