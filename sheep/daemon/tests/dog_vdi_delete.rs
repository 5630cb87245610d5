//! DEL_VDI reclaims space even when the dog zeroed the inode's index first
//! (what the C dog does), but keeps objects a live snapshot/clone reads.

mod support;

use sheep_client::ClientError;
use sheep_proto::inode::data_vdi_id_offset;
use sheep_proto::oid::Oid;
use sheep_proto::SdResult;
use support::Daemon;

fn sd_err<T>(r: Result<T, ClientError>) -> Option<SdResult> {
    r.err().and_then(|e| e.sd_result())
}

/// Zeroes the first `n` entries of `vid`'s data_vdi_id, as the C dog does
/// before DEL_VDI (a snapshot's inode is read-only here; the dog goes on).
async fn zero_index(c: &sheep_client::Client, vid: u32, n: u32) {
    let r = c
        .write_obj(
            Oid::inode(vid).0,
            data_vdi_id_offset(0) as u32,
            vec![0u8; 4 * n as usize],
        )
        .await;
    assert!(matches!(sd_err(r), None | Some(SdResult::Readonly)));
}

async fn exists(c: &sheep_client::Client, oid: Oid) -> bool {
    match c.read_obj(oid.0, 0, 1).await {
        Ok(_) => true,
        Err(e) => {
            assert_eq!(e.sd_result(), Some(SdResult::NoObj), "{oid:?}");
            false
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn del_vdi_frees_objects_after_index_zeroed() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(dir.path(), 0).await;
    let c = d.client().await;
    c.make_fs(1, 22).await.unwrap();

    // A plain VDI with three objects; its index is zeroed before DEL_VDI.
    let a = c.new_vdi("plain", 64 << 20).await.unwrap();
    c.vdi_write(a, 0, &vec![1u8; 9 << 20]).await.unwrap();
    for i in 0..3 {
        assert!(exists(&c, Oid::data(a, i)).await);
    }
    zero_index(&c, a, 16).await;
    c.del_vdi("plain", "", 0).await.unwrap();
    for i in 0..3 {
        assert!(!exists(&c, Oid::data(a, i)).await, "object {i} kept");
    }
    assert_eq!(
        sd_err(c.get_vdi_info("plain", "", 0).await),
        Some(SdResult::NoVdi)
    );

    // base: objects 0, 1 written, then snapshot s1; the working image
    // rewrites object 1 (COW) and a clone of s1 rewrites object 0.
    let base = c.new_vdi("base", 64 << 20).await.unwrap();
    c.vdi_write(base, 0, &vec![2u8; 8 << 20]).await.unwrap();
    let (snap, work) = c.snapshot("base", "s1").await.unwrap();
    c.vdi_write(work, 4 << 20, &[3u8; 4096]).await.unwrap();
    let clone = c.clone_vdi(snap, "cl").await.unwrap();
    c.vdi_write(clone, 0, &[4u8; 4096]).await.unwrap();
    assert!(exists(&c, Oid::data(work, 1)).await);
    assert!(exists(&c, Oid::data(clone, 0)).await);

    // Deleting the snapshot (index zeroed): object 0 is still read by the
    // working image, object 1 by the clone; nothing may go.
    zero_index(&c, snap, 16).await;
    c.del_vdi("base", "s1", 0).await.unwrap();
    assert!(exists(&c, Oid::data(snap, 0)).await);
    assert!(exists(&c, Oid::data(snap, 1)).await);
    assert_eq!(c.vdi_read(work, 0, 4).await.unwrap(), vec![2u8; 4]);
    assert_eq!(c.vdi_read(clone, 4 << 20, 4).await.unwrap(), vec![2u8; 4]);

    // The clone goes: its own object 0 and the snapshot's object 1 (read
    // only by the clone) are freed; snapshot object 0 stays for `base`.
    zero_index(&c, clone, 16).await;
    c.del_vdi("cl", "", 0).await.unwrap();
    assert!(!exists(&c, Oid::data(clone, 0)).await);
    assert!(!exists(&c, Oid::data(snap, 1)).await);
    assert!(exists(&c, Oid::data(snap, 0)).await);
    assert_eq!(c.vdi_read(work, 0, 4).await.unwrap(), vec![2u8; 4]);

    // The working image goes: everything left is freed.
    zero_index(&c, work, 16).await;
    c.del_vdi("base", "", 0).await.unwrap();
    assert!(!exists(&c, Oid::data(work, 1)).await);
    assert!(!exists(&c, Oid::data(snap, 0)).await);
    d.stop().await;
}
