//! The hash functions of sheepdog's consistent hashing (docs/sheepdog-facts.md §13).
//!
//! Everything is 64-bit FNV-1a. Integers are hashed as their 8 little-endian
//! bytes (the C code hashes the in-memory `uint64_t` on x86-64). The
//! `sd_hash*` family adds a second mixing round: the 8 bytes of the first
//! result are hashed again, starting from that result.

/// FNV-1a 64-bit offset basis.
pub const FNV1A_64_INIT: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV 64-bit prime.
pub const FNV_64_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Continues an FNV-1a-64 hash from `hval` over `buf` (each byte is XORed in,
/// then the state is multiplied by the prime).
pub fn fnv1a64_from(hval: u64, buf: &[u8]) -> u64 {
    buf.iter()
        .fold(hval, |h, &b| (h ^ u64::from(b)).wrapping_mul(FNV_64_PRIME))
}

/// Plain FNV-1a-64 of `buf`, starting from the offset basis.
pub fn fnv1a64(buf: &[u8]) -> u64 {
    fnv1a64_from(FNV1A_64_INIT, buf)
}

/// Continues an FNV-1a-64 hash from `hval` over the 8 little-endian bytes of `v`.
pub fn fnv1a64_u64(hval: u64, v: u64) -> u64 {
    fnv1a64_from(hval, &v.to_le_bytes())
}

/// `sd_hash`: FNV-1a-64 of `buf`, then one more round over its own 8 bytes.
pub fn sd_hash(buf: &[u8]) -> u64 {
    sd_hash_next(fnv1a64(buf))
}

/// `sd_hash_64`: FNV-1a-64 of the 8 LE bytes of `v` from the basis, then one
/// more round over the result's own bytes.
pub fn sd_hash_64(v: u64) -> u64 {
    sd_hash_next(fnv1a64_u64(FNV1A_64_INIT, v))
}

/// `sd_hash_oid`: where an object lands on the ring (same as [`sd_hash_64`]).
pub fn sd_hash_oid(oid: u64) -> u64 {
    sd_hash_64(oid)
}

/// `sd_hash_next`: the next position in a chain, FNV-1a over the 8 LE bytes
/// of `hval`, starting from `hval`. Successive vnodes of a node are chained
/// with it.
pub fn sd_hash_next(hval: u64) -> u64 {
    fnv1a64_u64(hval, hval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_reference_vectors() {
        // Published FNV-1a 64-bit test vectors.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn fnv1a64_is_incremental() {
        let whole = fnv1a64(b"hello world");
        let split = fnv1a64_from(fnv1a64(b"hello "), b"world");
        assert_eq!(whole, split);
        let v = 0x0123_4567_89ab_cdef_u64;
        assert_eq!(fnv1a64_u64(7, v), fnv1a64_from(7, &v.to_le_bytes()));
    }

    #[test]
    fn vdi_names_use_a_single_round() {
        // §10: "test" -> vid 0x7c2b25 with plain FNV-1a; sd_hash would differ.
        assert_eq!(fnv1a64(b"test") & 0xff_ffff, 0x7c2b25);
        assert_ne!(sd_hash(b"test") & 0xff_ffff, 0x7c2b25);
    }

    #[test]
    fn second_round_definitions() {
        let h = fnv1a64(b"abc");
        assert_eq!(sd_hash(b"abc"), fnv1a64_from(h, &h.to_le_bytes()));
        let oid = 0x807c_2b25_0000_0000_u64;
        let h = fnv1a64(&oid.to_le_bytes());
        assert_eq!(sd_hash_oid(oid), fnv1a64_from(h, &h.to_le_bytes()));
        assert_eq!(sd_hash_oid(oid), sd_hash(&oid.to_le_bytes()));
        assert_eq!(sd_hash_next(h), fnv1a64_from(h, &h.to_le_bytes()));
    }

    #[test]
    fn golden_values() {
        // Computed with an independent Python implementation of §13.
        assert_eq!(sd_hash_oid(0), GOLDEN_OID_0);
        assert_eq!(sd_hash_oid(0x807c_2b25_0000_0000), GOLDEN_INODE_TEST);
        assert_eq!(sd_hash_next(0x0123_4567_89ab_cdef), GOLDEN_NEXT);
        // Zero is a fixed point of the chain step (0 XOR 0, times the prime).
        assert_eq!(sd_hash_next(0), 0);
        assert_eq!(sd_hash(&NODE_7000), GOLDEN_NODE_7000);
    }

    /// addr = ::127.0.0.1 (12 zero bytes + 7f 00 00 01), port 7000 LE.
    const NODE_7000: [u8; 18] = [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 0, 0, 1, 0x58, 0x1b,
    ];
    const GOLDEN_OID_0: u64 = 0xcb72_0bf5_8a2c_29ec;
    const GOLDEN_INODE_TEST: u64 = 0x8b4b_18c2_43be_fa1a;
    const GOLDEN_NEXT: u64 = 0x5d92_e9ae_07be_a3ef;
    const GOLDEN_NODE_7000: u64 = 0x9cb3_d6dd_0a4c_0f9f;
}
