//! Distinct end users without a users table: each rollup bucket (5-minute and hourly grains)
//! keeps a count per user, keyed by a 64-bit hash of the `_user` value. Counts make retention
//! exact (a user leaves a bucket when their last record does); hashes keep the blob small and
//! need no dictionary shared between processes. Two users colliding in 64 bits (≈ n²/2⁶⁵) would
//! count once.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use sha2::{Digest, Sha256};

use crate::histogram::{get_varint, put_varint};

/// The hash a user is counted by (stored in `request_logs.user_hash` as a signed integer).
pub(crate) fn user_hash(user: &str) -> i64 {
    let digest = Sha256::digest(user.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// The hashes are already uniform: hashing them again is wasted work.
#[derive(Default)]
pub(crate) struct IdentityHasher(u64);

impl Hasher for IdentityHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// A set of user hashes.
pub(crate) type UserSet = HashSet<u64, BuildHasherDefault<IdentityHasher>>;

/// Records per user hash, sorted by hash.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct UserCounts {
    entries: Vec<(u64, u64)>,
}

impl UserCounts {
    pub fn add(&mut self, hash: u64, n: u64) {
        match self.entries.binary_search_by_key(&hash, |e| e.0) {
            Ok(i) => self.entries[i].1 = self.entries[i].1.saturating_add(n),
            Err(i) => self.entries.insert(i, (hash, n)),
        }
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds (`subtract` false) or removes another bucket's counts; users reaching 0 leave.
    pub fn combine(&mut self, other: &UserCounts, subtract: bool) {
        let mut out = Vec::with_capacity(self.entries.len() + other.entries.len());
        let (mut a, mut b) = (
            self.entries.iter().peekable(),
            other.entries.iter().peekable(),
        );
        loop {
            match (a.peek(), b.peek()) {
                (Some(&&(ha, na)), Some(&&(hb, nb))) if ha == hb => {
                    let n = if subtract {
                        na.saturating_sub(nb)
                    } else {
                        na.saturating_add(nb)
                    };
                    out.push((ha, n));
                    a.next();
                    b.next();
                }
                (Some(&&(ha, na)), Some(&&(hb, _))) if ha < hb => {
                    out.push((ha, na));
                    a.next();
                }
                (Some(_), Some(&&(hb, nb))) | (None, Some(&&(hb, nb))) => {
                    if !subtract {
                        out.push((hb, nb));
                    }
                    b.next();
                }
                (Some(&&(ha, na)), None) => {
                    out.push((ha, na));
                    a.next();
                }
                (None, None) => break,
            }
        }
        out.retain(|e| e.1 > 0);
        self.entries = out;
    }

    /// Entry count, then `(hash delta, count)` varints.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(2 + self.entries.len() * 10);
        put_varint(&mut out, self.entries.len() as u64);
        let mut prev = 0u64;
        for &(h, n) in &self.entries {
            put_varint(&mut out, h - prev);
            put_varint(&mut out, n);
            prev = h;
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Option<UserCounts> {
        let mut entries = Vec::new();
        walk(bytes, |h, n| entries.push((h, n)))?;
        Some(UserCounts { entries })
    }
}

/// Calls `f(hash, count)` for every entry of an encoded [`UserCounts`], in hash order; `None`
/// when the bytes are malformed.
pub(crate) fn walk(mut bytes: &[u8], mut f: impl FnMut(u64, u64)) -> Option<()> {
    let len = get_varint(&mut bytes)?;
    if len > bytes.len() as u64 {
        return None;
    }
    let mut prev = 0u64;
    for i in 0..len {
        let delta = get_varint(&mut bytes)?;
        if i > 0 && delta == 0 {
            return None;
        }
        let h = prev.checked_add(delta)?;
        f(h, get_varint(&mut bytes)?);
        prev = h;
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combine_and_roundtrip() {
        let mut a = UserCounts::default();
        for (h, n) in [(5, 1), (1, 2), (u64::MAX, 3), (9, 1)] {
            a.add(h, n);
        }
        let mut b = UserCounts::default();
        for (h, n) in [(5, 1), (7, 4), (u64::MAX, 1)] {
            b.add(h, n);
        }
        let mut sum = a.clone();
        sum.combine(&b, false);
        assert_eq!(
            sum.entries,
            vec![(1, 2), (5, 2), (7, 4), (9, 1), (u64::MAX, 4)]
        );
        sum.combine(&b, true);
        assert_eq!(sum, a);
        let mut gone = a.clone();
        gone.combine(&a, true);
        assert!(gone.is_empty());
        let bytes = sum.encode();
        assert_eq!(UserCounts::decode(&bytes), Some(sum));
        for cut in 0..bytes.len() {
            let _ = UserCounts::decode(&bytes[..cut]);
        }
        assert_ne!(user_hash("a"), user_hash("b"));
    }
}
