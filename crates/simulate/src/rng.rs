//! Deterministic randomness. Every independent piece of the output (a user's day, a scenario
//! instance, a CloudTrail file's noise) draws from its own [`Pcg64`] seeded from the run seed and
//! the piece's coordinates, so the output does not depend on the order pieces are generated in.

use rand::{Rng, SeedableRng};
pub use rand_pcg::Pcg64;

/// SplitMix64 finaliser: a good 64-bit mixing function.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Stream tags, so that two pieces with the same coordinates but different purposes differ.
pub mod stream {
    pub const WORLD: u64 = 1;
    pub const USER_DAY: u64 = 2;
    pub const SCENARIO: u64 = 3;
    pub const NOISE_FILE: u64 = 4;
    pub const PAGES: u64 = 6;
    pub const IAM_DAY: u64 = 7;
}

/// An RNG for the piece at `coords` of stream `tag`.
pub fn rng_for(seed: u64, tag: u64, coords: &[u64]) -> Pcg64 {
    let mut h = mix(seed ^ mix(tag));
    for c in coords {
        h = mix(h ^ mix(*c).rotate_left(17));
    }
    Pcg64::seed_from_u64(h)
}

const LOWER_HEX: &[u8; 16] = b"0123456789abcdef";
const ALNUM: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const UPPER_ALNUM: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// A version-4 UUID, lower case (CloudTrail `eventID`, Okta `uuid`, Entra ids).
pub fn uuid(rng: &mut Pcg64) -> String {
    let mut b: [u8; 16] = rng.random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let mut s = String::with_capacity(36);
    for (i, byte) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            s.push('-');
        }
        s.push(LOWER_HEX[(byte >> 4) as usize] as char);
        s.push(LOWER_HEX[(byte & 15) as usize] as char);
    }
    s
}

fn pick(rng: &mut Pcg64, set: &[u8], n: usize) -> String {
    (0..n).map(|_| set[rng.random_range(0..set.len())] as char).collect()
}

/// Mixed-case letters and digits (CloudTrail file suffix, Okta ids).
pub fn alnum(rng: &mut Pcg64, n: usize) -> String {
    pick(rng, ALNUM, n)
}

/// Upper-case letters and digits (AWS key and principal ids).
pub fn upper(rng: &mut Pcg64, n: usize) -> String {
    pick(rng, UPPER_ALNUM, n)
}

/// Lower-case hex digits.
pub fn hex(rng: &mut Pcg64, n: usize) -> String {
    pick(rng, LOWER_HEX, n)
}

/// Decimal digits, first one non-zero.
pub fn digits(rng: &mut Pcg64, n: usize) -> String {
    let mut s = String::with_capacity(n);
    s.push((b'1' + rng.random_range(0..9u8)) as char);
    for _ in 1..n {
        s.push((b'0' + rng.random_range(0..10u8)) as char);
    }
    s
}

/// Uniform in `[lo, hi)` (returns `lo` when the range is empty).
pub fn between(rng: &mut Pcg64, lo: i64, hi: i64) -> i64 {
    if hi <= lo { lo } else { rng.random_range(lo..hi) }
}

/// Picks one element of a non-empty slice.
pub fn one<'a, T>(rng: &mut Pcg64, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_stable_and_distinct() {
        let a = uuid(&mut rng_for(7, stream::USER_DAY, &[1, 2]));
        let b = uuid(&mut rng_for(7, stream::USER_DAY, &[1, 2]));
        let c = uuid(&mut rng_for(7, stream::USER_DAY, &[2, 1]));
        let d = uuid(&mut rng_for(8, stream::USER_DAY, &[1, 2]));
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }
}
