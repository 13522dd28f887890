//! The 128-bit key digest of the offset map.
//!
//! Kafka's `SkimpyOffsetMap` stores the 16-byte MD5 of each key instead of
//! the key, so a map of fixed memory can hold any key size; two keys with
//! the same digest would be taken for one. seglog keeps the 16 bytes and
//! replaces MD5 with two independent 64-bit lanes (an xxHash64-style round
//! and a Murmur3-style round, each with its own constants and seed, each
//! ending in a full avalanche). With N keys in a map, the chance that two
//! share a digest is about N² / 2^129: below 10^-25 for ten million keys.
//! Like MD5 today, it is not meant to resist keys crafted to collide.

/// A key's 128-bit digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct KeyHash {
    /// Low 64 bits (the first lane; also chooses the slot).
    pub lo: u64,
    /// High 64 bits (the second lane).
    pub hi: u64,
}

// Lane A: xxHash64's primes.
const A1: u64 = 0x9E37_79B1_85EB_CA87;
const A2: u64 = 0xC2B2_AE3D_27D4_EB4F;
const A3: u64 = 0x1656_67B1_9E37_79F9;
const A4: u64 = 0x85EB_CA77_C2B2_AE63;
const A5: u64 = 0x27D4_EB2F_1656_67C5;
// Lane B: Murmur3 / SplitMix64 multipliers.
const B1: u64 = 0xBF58_476D_1CE4_E5B9;
const B2: u64 = 0x94D0_49BB_1331_11EB;
const B3: u64 = 0xFF51_AFD7_ED55_8CCD;
const B4: u64 = 0xC4CE_B9FE_1A85_EC53;
const B5: u64 = 0x2545_F491_4F6C_DD1D;

/// Digests `key`. For a fixed state each round is a bijection of the state
/// and injective in the word, so keys of one length that differ only in
/// their last word never collide in a lane.
pub(crate) fn hash_key(key: &[u8]) -> KeyHash {
    let len = key.len() as u64;
    let mut a = A5 ^ len.wrapping_mul(A1);
    let mut b = B5 ^ len.wrapping_mul(B1);
    let mut words = key.chunks_exact(8);
    for word in &mut words {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let w = u64::from_le_bytes(bytes);
        a = round_a(a, w);
        b = round_b(b, w);
    }
    let tail = words.remainder();
    if !tail.is_empty() {
        let mut bytes = [0u8; 8];
        bytes[..tail.len()].copy_from_slice(tail);
        let w = u64::from_le_bytes(bytes);
        a = round_a(a, w);
        b = round_b(b, w);
    }
    KeyHash {
        lo: avalanche_a(a),
        hi: avalanche_b(b),
    }
}

#[inline]
fn round_a(acc: u64, w: u64) -> u64 {
    let k = w.wrapping_mul(A2).rotate_left(31).wrapping_mul(A1);
    (acc ^ k).rotate_left(27).wrapping_mul(A1).wrapping_add(A4)
}

#[inline]
fn round_b(acc: u64, w: u64) -> u64 {
    let k = w.wrapping_mul(B3).rotate_left(33).wrapping_mul(B4);
    (acc ^ k).rotate_left(29).wrapping_mul(B2).wrapping_add(B1)
}

#[inline]
fn avalanche_a(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(A2);
    h ^= h >> 29;
    h = h.wrapping_mul(A3);
    h ^ (h >> 32)
}

#[inline]
fn avalanche_b(mut h: u64) -> u64 {
    h ^= h >> 30;
    h = h.wrapping_mul(B1);
    h ^= h >> 27;
    h = h.wrapping_mul(B2);
    h ^ (h >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn is_deterministic_and_length_sensitive() {
        assert_eq!(hash_key(b"key-1"), hash_key(b"key-1"));
        assert_ne!(hash_key(b""), hash_key(b"\0"));
        assert_ne!(hash_key(b"ab"), hash_key(b"ab\0"));
        assert_ne!(hash_key(b"12345678"), hash_key(b"12345678\0"));
    }

    #[test]
    fn no_collision_in_either_lane_over_many_similar_keys() {
        let mut lo = HashSet::new();
        let mut hi = HashSet::new();
        for i in 0..300_000u32 {
            let h = hash_key(format!("user-{i}").as_bytes());
            assert!(lo.insert(h.lo), "lane A collision at {i}");
            assert!(hi.insert(h.hi), "lane B collision at {i}");
        }
    }

    #[test]
    fn one_bit_flips_about_half_the_output_bits() {
        let key = *b"a key of some twenty bytes";
        let base = hash_key(&key);
        let mut total = 0u32;
        let mut flips = 0u32;
        for byte in 0..key.len() {
            for bit in 0..8 {
                let mut k = key;
                k[byte] ^= 1 << bit;
                let h = hash_key(&k);
                total += (h.lo ^ base.lo).count_ones() + (h.hi ^ base.hi).count_ones();
                flips += 1;
            }
        }
        let mean = f64::from(total) / f64::from(flips);
        assert!((58.0..70.0).contains(&mean), "mean changed bits {mean}");
    }
}
