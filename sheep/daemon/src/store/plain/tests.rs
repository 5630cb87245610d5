use super::*;
use crate::store::TEMP_PREFIX;

const MIB: usize = 1 << 20;
const OBJ: usize = 4 * MIB;

fn store(dir: &Path, sync: bool) -> PlainStore {
    let mut s = PlainStore::open(dir, StoreOptions { sync }).unwrap();
    s.set_used_max_age(std::time::Duration::ZERO);
    s
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[test]
fn create_read_write_at_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), true);
    let oid = 0x007c_2b25_0000_0003;
    assert!(!s.exists(oid));
    s.create_and_write(oid, OBJ, 4096, b"hello", None).unwrap();
    assert!(s.exists(oid));
    assert_eq!(s.size(oid).unwrap(), OBJ as u64);
    assert_eq!(s.read(oid, 4096, 5).unwrap(), b"hello");
    // The rest is zero.
    let all = s.read(oid, 0, OBJ).unwrap();
    assert!(all[..4096].iter().all(|&b| b == 0));
    assert!(all[4101..].iter().all(|&b| b == 0));

    // Last byte is writable and readable.
    let last = OBJ as u64 - 1;
    s.write(oid, last, &[0xAB]).unwrap();
    assert_eq!(s.read(oid, last, 1).unwrap(), [0xAB]);
    let mut two = [0u8; 2];
    s.read_into(oid, last - 1, &mut two).unwrap();
    assert_eq!(two, [0, 0xAB]);
    // Zero-length at the very end is fine.
    assert_eq!(s.read(oid, OBJ as u64, 0).unwrap(), b"");

    // Across the end: errors, and nothing is written.
    assert!(matches!(
        s.write(oid, last, &[1, 2]),
        Err(StoreError::OutOfRange { oid: o, offset, len: 2, size })
            if o == oid && offset == last && size == OBJ as u64
    ));
    assert!(matches!(
        s.read(oid, last, 2),
        Err(StoreError::OutOfRange { .. })
    ));
    assert!(matches!(
        s.read(oid, u64::MAX, 1),
        Err(StoreError::OutOfRange { .. })
    ));
    assert!(matches!(
        s.read(oid, OBJ as u64 + 1, 0),
        Err(StoreError::OutOfRange { .. })
    ));
    assert_eq!(s.size(oid).unwrap(), OBJ as u64);
    assert_eq!(s.read(oid, last, 1).unwrap(), [0xAB]);

    // A create whose data does not fit is refused and creates nothing.
    assert!(matches!(
        s.create_and_write(7, 100, 90, &[0; 11], None),
        Err(StoreError::OutOfRange { .. })
    ));
    assert!(!s.exists(7));

    // Missing objects.
    assert!(matches!(s.write(7, 0, b"x"), Err(StoreError::NoObj(7))));
    assert!(matches!(s.read(7, 0, 1), Err(StoreError::NoObj(7))));
    assert!(matches!(s.size(7), Err(StoreError::NoObj(7))));
    assert!(matches!(s.sha1(7), Err(StoreError::NoObj(7))));
    assert!(matches!(s.discard(7, 0, 1), Err(StoreError::NoObj(7))));
}

#[test]
fn odd_sizes_and_whole_object_create() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), false);
    let inode = 1u64 << 63 | 0x7c2b25 << 32;
    const INODE_SIZE: usize = 12_587_576;
    let data = pattern(INODE_SIZE, 9);
    s.create_and_write(inode, INODE_SIZE, 0, &data, None)
        .unwrap();
    assert_eq!(s.read(inode, 0, INODE_SIZE).unwrap(), data);
    // Empty object.
    s.create_and_write(1, 0, 0, b"", None).unwrap();
    assert_eq!(s.size(1).unwrap(), 0);
    assert_eq!(s.read(1, 0, 0).unwrap(), b"");
}

#[test]
fn cow_copy_then_overlay_leaves_source_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), true);
    let (src, dst) = (0x0000_0001_0000_0000u64, 0x0000_0002_0000_0000u64);
    let content = pattern(OBJ, 1);
    s.create_and_write(src, OBJ, 0, &content, None).unwrap();

    let overlay = pattern(8192, 77);
    s.create_and_write(dst, OBJ, 12288, &overlay, Some(src))
        .unwrap();

    assert_eq!(s.read(src, 0, OBJ).unwrap(), content);
    let mut expected = content.clone();
    expected[12288..12288 + 8192].copy_from_slice(&overlay);
    assert_eq!(s.read(dst, 0, OBJ).unwrap(), expected);

    // Later writes to the copy do not leak into the source either.
    s.write(dst, 0, b"changed").unwrap();
    assert_eq!(s.read(src, 0, OBJ).unwrap(), content);

    // Missing source: NoObj naming the source, nothing created.
    assert!(matches!(
        s.create_and_write(3, OBJ, 0, b"x", Some(99)),
        Err(StoreError::NoObj(99))
    ));
    assert!(!s.exists(3));
    assert_eq!(s.list().unwrap(), vec![src, dst]);

    // Copy into a different size: truncated / zero-extended.
    s.create_and_write(4, 100, 0, b"", Some(src)).unwrap();
    assert_eq!(s.read(4, 0, 100).unwrap(), content[..100]);
    s.create_and_write(5, OBJ + 10, 0, b"", Some(src)).unwrap();
    let big = s.read(5, 0, OBJ + 10).unwrap();
    assert_eq!(big[..OBJ], content[..]);
    assert_eq!(big[OBJ..], [0; 10]);
}

#[test]
fn retried_create_keeps_earlier_data() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), true);
    s.create_and_write(42, OBJ, 0, b"first", None).unwrap();
    s.write(42, 8192, b"written later").unwrap();
    // The retry, even with a different size or a COW source, is a write.
    s.create_and_write(42, OBJ, 0, b"FIRST", None).unwrap();
    s.create_and_write(42, 2 * OBJ, 100, b"x", Some(12345))
        .unwrap();
    assert_eq!(s.size(42).unwrap(), OBJ as u64);
    assert_eq!(s.read(42, 0, 5).unwrap(), b"FIRST");
    assert_eq!(s.read(42, 100, 1).unwrap(), b"x");
    assert_eq!(s.read(42, 8192, 13).unwrap(), b"written later");
    // A retry that does not fit the existing object is OutOfRange.
    assert!(matches!(
        s.create_and_write(42, 2 * OBJ, OBJ as u64, b"x", None),
        Err(StoreError::OutOfRange { .. })
    ));
}

#[test]
fn concurrent_creates_of_one_object_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), false);
    for round in 0..20u64 {
        std::thread::scope(|sc| {
            for t in 0..4u8 {
                let s = &s;
                sc.spawn(move || {
                    let data = [t + 1; 512];
                    s.create_and_write(round, OBJ, u64::from(t) * 512, &data, None)
                        .unwrap();
                });
            }
        });
        let got = s.read(round, 0, 4 * 512).unwrap();
        for t in 0..4usize {
            assert!(got[t * 512..(t + 1) * 512]
                .iter()
                .all(|&b| b == t as u8 + 1));
        }
    }
    assert_eq!(remove_temp_files(&s.obj_dir).unwrap(), 0);
}

#[test]
fn remove_then_read_is_noobj_and_recreate_is_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), true);
    s.create_and_write(9, 8192, 0, &[0xEE; 8192], None).unwrap();
    assert_eq!(s.read(9, 0, 1).unwrap(), [0xEE]); // now cached
    s.remove(9).unwrap();
    assert!(!s.exists(9));
    assert!(matches!(s.read(9, 0, 1), Err(StoreError::NoObj(9))));
    assert!(matches!(s.write(9, 0, b"x"), Err(StoreError::NoObj(9))));
    assert!(matches!(s.remove(9), Err(StoreError::NoObj(9))));
    // A new object under the same oid is not served from a stale handle.
    s.create_and_write(9, 4096, 0, b"", None).unwrap();
    assert_eq!(s.size(9).unwrap(), 4096);
    assert_eq!(s.read(9, 0, 4096).unwrap(), vec![0; 4096]);
    assert!(s.list().unwrap() == vec![9]);
}

#[test]
fn used_space_is_reused_until_an_object_changes() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = PlainStore::open(dir.path(), StoreOptions { sync: false }).unwrap();
    s.set_used_max_age(std::time::Duration::from_secs(3600));
    let (used0, _) = s.stats();
    // A file the store did not write: not seen while nothing changed.
    std::fs::write(
        dir.path().join("obj").join(format!("{:016x}", 9u64)),
        vec![1; MIB],
    )
    .unwrap();
    assert_eq!(s.stats().0, used0, "no change: the last scan is reused");
    s.create_and_write(1, MIB, 0, &vec![1; MIB], None).unwrap();
    let used1 = s.stats().0;
    assert!(used1 >= used0 + 2 * MIB as u64, "a create rescans");
    s.remove(1).unwrap();
    assert!(s.stats().0 <= used1 - MIB as u64, "a remove rescans");
    s.set_used_max_age(std::time::Duration::ZERO);
    std::fs::remove_file(dir.path().join("obj").join(format!("{:016x}", 9u64))).unwrap();
    assert!(s.stats().0 <= used0 + MIB as u64, "an old scan is redone");
}

#[test]
fn discard_zeroes_and_keeps_size() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), true);
    s.create_and_write(1, OBJ, 0, &vec![0xFF; OBJ], None)
        .unwrap();
    let (used_before, _) = s.stats();
    s.discard(1, MIB as u64, MIB as u64).unwrap(); // aligned
    s.discard(1, 100, 5000).unwrap(); // unaligned
    s.discard(1, OBJ as u64 - 1, 1).unwrap(); // last byte
    s.discard(1, 0, 0).unwrap(); // empty
    assert_eq!(s.size(1).unwrap(), OBJ as u64);
    let got = s.read(1, 0, OBJ).unwrap();
    let mut expected = vec![0xFF; OBJ];
    expected[MIB..2 * MIB].fill(0);
    expected[100..5100].fill(0);
    expected[OBJ - 1] = 0;
    assert!(got == expected);
    assert!(matches!(
        s.discard(1, OBJ as u64 - 1, 2),
        Err(StoreError::OutOfRange { .. })
    ));
    // On file systems that punch holes the space is released.
    let (used_after, _) = s.stats();
    assert!(used_after <= used_before);
}

#[test]
fn list_follows_creates_and_removes_even_during_the_first_scan() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(store(dir.path(), false));
    for o in 0..500u64 {
        s.create_and_write(o * 2, 8, 0, b"", None).unwrap();
    }
    // Creates and removes racing the first list (which builds the index).
    let s2 = s.clone();
    let racer = std::thread::spawn(move || {
        for o in 0..500u64 {
            s2.create_and_write(o * 2 + 1, 8, 0, b"", None).unwrap();
            if o % 5 == 0 {
                s2.remove(o * 2).unwrap();
            }
        }
    });
    let during = s.list().unwrap();
    racer.join().unwrap();
    assert!(during.windows(2).all(|w| w[0] < w[1]), "sorted");
    let expected: Vec<u64> = (0..1000u64)
        .filter(|o| o % 2 == 1 || (o / 2) % 5 != 0)
        .collect();
    assert_eq!(s.list().unwrap(), expected);
    // After the index exists: a create, a retried create, a remove, and
    // a remove of a file someone else already deleted.
    s.create_and_write(5000, 8, 0, b"", None).unwrap();
    s.create_and_write(5000, 8, 0, b"x", None).unwrap();
    s.remove(1).unwrap();
    fs::remove_file(s.object_path(3)).unwrap();
    assert!(matches!(s.remove(3), Err(StoreError::NoObj(3))));
    let mut want: Vec<u64> = expected.into_iter().filter(|&o| o != 1 && o != 3).collect();
    want.push(5000);
    assert_eq!(s.list().unwrap(), want);
    // A reopened store lists the same from the directory.
    drop(s);
    assert_eq!(store(dir.path(), false).list().unwrap(), want);
}

#[test]
fn list_is_sorted_and_ignores_foreign_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), false);
    let oids = [
        1u64 << 63 | 0x7c2b25 << 32,
        0x007c_2b25_0000_0010,
        5,
        0x007c_2b25_0000_0002,
        1 << 59 | 0x007c_2b25_0000_0002,
        u64::MAX,
        0,
    ];
    for &o in &oids {
        s.create_and_write(o, 16, 0, b"", None).unwrap();
    }
    fs::write(s.obj_dir.join("README"), b"x").unwrap();
    fs::write(s.obj_dir.join("00000000000000zz"), b"x").unwrap();
    let mut expected = oids.to_vec();
    expected.sort_unstable();
    assert_eq!(s.list().unwrap(), expected);
    assert_eq!(s.object_path(5), s.obj_dir.join("0000000000000005"));
}

#[test]
fn sha1_matches_content() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), false);
    // Spans several hashing chunks, and not a multiple of the chunk size.
    let size = 3 * MIB + 12345;
    let data = pattern(1000, 3);
    s.create_and_write(11, size, 2 * MIB as u64 - 10, &data, None)
        .unwrap();
    let mut expected = vec![0u8; size];
    expected[2 * MIB - 10..2 * MIB - 10 + 1000].copy_from_slice(&data);
    let want: [u8; 20] = Sha1::digest(&expected).into();
    assert_eq!(s.sha1(11).unwrap(), want);

    // Known vector: SHA-1 of the empty object.
    s.create_and_write(12, 0, 0, b"", None).unwrap();
    assert_eq!(
        hex::encode(s.sha1(12).unwrap()),
        "da39a3ee5e6b4b0d3255bfef95601890afd80709"
    );
}

#[test]
fn sha1_is_kept_until_its_object_changes() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path(), false);
    let digest = |s: &PlainStore, oid| -> [u8; 20] {
        Sha1::digest(s.read(oid, 0, s.size(oid).unwrap() as usize).unwrap()).into()
    };
    s.create_and_write(1, MIB, 0, &pattern(MIB, 1), None)
        .unwrap();
    let first = s.sha1(1).unwrap();
    assert_eq!(first, digest(&s, 1));
    // A change behind the store's back is not seen: the hash was kept.
    fs::write(s.object_path(1), pattern(MIB, 2)).unwrap();
    assert_eq!(s.sha1(1).unwrap(), first);
    // Every change through the store is.
    s.write(1, 10, b"changed").unwrap();
    assert_eq!(s.sha1(1).unwrap(), digest(&s, 1));
    s.discard(1, 0, 4096).unwrap();
    assert_eq!(s.sha1(1).unwrap(), digest(&s, 1));
    s.create_and_write(1, MIB, 5, b"again", None).unwrap();
    assert_eq!(s.sha1(1).unwrap(), digest(&s, 1));
    s.remove(1).unwrap();
    assert!(matches!(s.sha1(1), Err(StoreError::NoObj(1))));
    s.create_and_write(1, MIB, 0, b"", Some(2)).unwrap_err();
    s.create_and_write(2, MIB, 0, &pattern(MIB, 3), None)
        .unwrap();
    s.create_and_write(1, MIB, 0, b"cow", Some(2)).unwrap();
    assert_eq!(s.sha1(1).unwrap(), digest(&s, 1));
    assert_ne!(s.sha1(1).unwrap(), first);
}

#[test]
fn a_hash_computed_across_a_change_is_not_kept() {
    let c = HashCache::new();
    // The change finishes while the hash is computed: returned, not kept.
    let h = c.get_or(7, || {
        c.changed(7);
        Ok([1; 20])
    });
    assert_eq!(h.unwrap(), [1; 20]);
    assert_eq!(c.get_or(7, || Ok([2; 20])).unwrap(), [2; 20]);
    assert_eq!(c.get_or(7, || Ok([3; 20])).unwrap(), [2; 20], "kept");
    // A change to another object of the same stripe costs a recompute.
    let other = 7 + c.stripes.len() as u64;
    c.changed(7);
    let h = c.get_or(7, || {
        c.changed(other);
        Ok([4; 20])
    });
    assert_eq!(h.unwrap(), [4; 20]);
    assert_eq!(c.get_or(7, || Ok([5; 20])).unwrap(), [5; 20]);
    // An error is passed on and nothing kept.
    c.changed(7);
    assert!(c.get_or(7, || Err(StoreError::NoObj(7))).is_err());
    assert_eq!(c.get_or(7, || Ok([6; 20])).unwrap(), [6; 20]);
}

#[test]
fn hashes_racing_writes_end_with_the_final_content() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(store(dir.path(), false));
    s.create_and_write(9, 256 << 10, 0, b"", None).unwrap();
    for round in 0..20u8 {
        let writer = {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..8u8 {
                    s.write(9, 0, &pattern(256 << 10, round ^ i)).unwrap();
                }
            })
        };
        while !writer.is_finished() {
            s.sha1(9).unwrap();
        }
        writer.join().unwrap();
        let want: [u8; 20] = Sha1::digest(s.read(9, 0, 256 << 10).unwrap()).into();
        assert_eq!(s.sha1(9).unwrap(), want, "round {round}");
    }
}

#[test]
fn concurrent_writers_disjoint_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let s = Arc::new(store(dir.path(), true));
    const THREADS: usize = 8;
    const BLOCK: usize = 4096;
    const PER_THREAD: usize = OBJ / THREADS;
    s.create_and_write(7, OBJ, 0, b"", None).unwrap();
    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let s = Arc::clone(&s);
            std::thread::spawn(move || {
                // Interleave: thread t owns blocks t, t+THREADS, ... of
                // its half, plus a contiguous stripe of the other half.
                for i in (t..OBJ / 2 / BLOCK).step_by(THREADS) {
                    let off = (i * BLOCK) as u64;
                    s.write(7, off, &pattern(BLOCK, i as u8)).unwrap();
                }
                let base = OBJ / 2 + t * PER_THREAD / 2;
                for j in 0..PER_THREAD / 2 / BLOCK {
                    let off = base + j * BLOCK;
                    s.write(7, off as u64, &pattern(BLOCK, (off / BLOCK) as u8))
                        .unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    let got = s.read(7, 0, OBJ).unwrap();
    for (i, block) in got.chunks(BLOCK).enumerate() {
        assert!(block == pattern(BLOCK, i as u8), "block {i}");
    }
}

#[test]
fn reopen_sees_everything() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected = Vec::new();
    {
        let s = store(dir.path(), true);
        for o in 0..10u64 {
            let data = pattern(1000 + o as usize, o as u8);
            s.create_and_write(o << 32, 64 * 1024, o * 10, &data, None)
                .unwrap();
            expected.push((o << 32, o * 10, data));
        }
        s.write(3 << 32, 60_000, b"tail").unwrap();
        s.remove(5 << 32).unwrap();
        expected.remove(5);
    }
    let s = store(dir.path(), true);
    let oids: Vec<_> = expected.iter().map(|e| e.0).collect();
    assert_eq!(s.list().unwrap(), oids);
    for (oid, off, data) in &expected {
        assert_eq!(s.size(*oid).unwrap(), 64 * 1024);
        assert_eq!(&s.read(*oid, *off, data.len()).unwrap(), data);
    }
    assert_eq!(s.read(3 << 32, 60_000, 4).unwrap(), b"tail");
    assert_eq!(s.dir(), dir.path());
}

#[test]
fn leftover_temp_file_is_cleaned_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("store"); // created by open
    {
        let s = store(&root, true);
        s.create_and_write(1, 4096, 0, b"kept", None).unwrap();
    }
    // What a crash between temp creation and rename leaves behind.
    let leftover = root
        .join("obj")
        .join(format!("{TEMP_PREFIX}0000000000000002-4242-0"));
    fs::write(&leftover, vec![1u8; 4096]).unwrap();
    let s = store(&root, true);
    assert!(!leftover.exists());
    assert_eq!(s.list().unwrap(), vec![1]);
    assert!(!s.exists(2));
    assert_eq!(s.read(1, 0, 4).unwrap(), b"kept");
}

#[test]
fn many_objects_through_a_small_cache() {
    let dir = tempfile::tempdir().unwrap();
    let s = PlainStore::open_with_cache(dir.path(), StoreOptions { sync: false }, 16).unwrap();
    for o in 0..200u64 {
        s.create_and_write(o, 64, 0, &o.to_le_bytes(), None)
            .unwrap();
    }
    for o in (0..200u64).rev() {
        s.write(o, 8, &(!o).to_le_bytes()).unwrap();
    }
    assert!(s.cache.len() <= 16);
    for o in 0..200u64 {
        let got = s.read(o, 0, 16).unwrap();
        assert_eq!(got[..8], o.to_le_bytes());
        assert_eq!(got[8..], (!o).to_le_bytes());
    }
}

#[test]
fn stats_and_flush() {
    let dir = tempfile::tempdir().unwrap();
    for sync in [true, false] {
        let s = store(&dir.path().join(sync.to_string()), sync);
        let (used0, cap0) = s.stats();
        assert!(cap0 > 0 && cap0 >= used0);
        s.create_and_write(1, MIB, 0, &vec![1; MIB], None).unwrap();
        s.flush().unwrap();
        let (used, cap) = s.stats();
        assert!(used >= used0 + MIB as u64, "{used} vs {used0}");
        assert!(cap >= used);
    }
}

#[test]
fn store_is_object_safe() {
    let dir = tempfile::tempdir().unwrap();
    let s: Arc<dyn ObjectStore> = Arc::new(store(dir.path(), false));
    s.create_and_write(1, 8, 0, b"abc", None).unwrap();
    assert_eq!(s.read(1, 0, 3).unwrap(), b"abc");
    assert!(format!("{:?}", store(dir.path(), false)).contains("PlainStore"));
}
