//! A fixed log-scale histogram of microsecond latencies: mergeable (rollups add them up) and
//! small (stored sparse), at the price of approximate percentiles.
//!
//! Bucket 0 holds exactly 0; bucket `b ≥ 1` holds `[2^((b-1)/8), 2^(b/8))`: eight buckets per
//! power of two, 513 in all, covering every `u64`. A percentile is reported as its bucket's
//! geometric midpoint, so it is within [`RELATIVE_ERROR`] of the exact nearest-rank percentile
//! (plus 1 µs of rounding).

/// Buckets per power of two.
const PER_OCTAVE: f64 = 8.0;
/// The last bucket index (`u64::MAX` lands here).
pub const MAX_BUCKET: u16 = 1 + 64 * 8;
/// The worst-case relative error of a reported percentile: `2^(1/16) - 1` ≈ 4.43%.
pub const RELATIVE_ERROR: f64 = 0.0443;

/// The bucket a value falls in.
pub fn bucket_of(v: u64) -> u16 {
    if v == 0 {
        return 0;
    }
    let b = 1.0 + ((v as f64).log2() * PER_OCTAVE).floor();
    // `as` saturates on floats; the clamp keeps the index in range whatever the rounding.
    (b as i64).clamp(1, i64::from(MAX_BUCKET)) as u16
}

/// The value reported for a bucket: its geometric midpoint, rounded.
pub fn representative(b: u16) -> u64 {
    if b == 0 {
        return 0;
    }
    let lower = 2f64.powf(f64::from(b - 1) / PER_OCTAVE);
    let mid = lower * 2f64.powf(0.5 / PER_OCTAVE);
    // Saturating float → int conversion.
    mid.round() as u64
}

/// A sparse histogram: `(bucket, count)` pairs sorted by bucket, no zero counts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hist {
    entries: Vec<(u16, u64)>,
}

impl Hist {
    pub fn add(&mut self, bucket: u16, n: u64) {
        if n == 0 {
            return;
        }
        match self.entries.binary_search_by_key(&bucket, |e| e.0) {
            Ok(i) => self.entries[i].1 = self.entries[i].1.saturating_add(n),
            Err(i) => self.entries.insert(i, (bucket, n)),
        }
    }

    pub fn record(&mut self, v: u64) {
        self.add(bucket_of(v), 1);
    }

    pub fn merge(&mut self, other: &Hist) {
        if self.entries.is_empty() {
            self.entries.clone_from(&other.entries);
            return;
        }
        for &(b, n) in &other.entries {
            self.add(b, n);
        }
    }

    /// Removes `other`'s counts (saturating at zero; empty buckets disappear).
    pub fn subtract(&mut self, other: &Hist) {
        for &(b, n) in &other.entries {
            if let Ok(i) = self.entries.binary_search_by_key(&b, |e| e.0) {
                self.entries[i].1 = self.entries[i].1.saturating_sub(n);
            }
        }
        self.entries.retain(|e| e.1 > 0);
    }

    pub fn total(&self) -> u64 {
        self.entries.iter().fold(0u64, |a, e| a.saturating_add(e.1))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The nearest-rank percentile `per_mille / 1000` (0 when empty): the representative of the
    /// bucket holding the `ceil(n · p)`-th smallest value.
    pub fn percentile(&self, per_mille: u32) -> u64 {
        let n = self.total();
        if n == 0 {
            return 0;
        }
        let rank = (u128::from(n) * u128::from(per_mille.min(1000)))
            .div_ceil(1000)
            .max(1);
        let mut seen = 0u128;
        for &(b, c) in &self.entries {
            seen += u128::from(c);
            if seen >= rank {
                return representative(b);
            }
        }
        self.entries.last().map_or(0, |e| representative(e.0))
    }

    /// Appends the encoding: entry count, then `(bucket delta, count)` varints.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_varint(out, self.entries.len() as u64);
        let mut prev = 0u16;
        for &(b, n) in &self.entries {
            put_varint(out, u64::from(b - prev));
            put_varint(out, n);
            prev = b;
        }
    }

    /// Decodes what [`Hist::encode`] wrote; `None` on malformed input.
    pub fn decode(input: &mut &[u8]) -> Option<Hist> {
        let mut entries = Vec::new();
        Hist::walk(input, |b, n| entries.push((b, n)))?;
        Some(Hist { entries })
    }

    /// Calls `f(bucket, count)` for every non-zero entry of an encoded histogram, advancing
    /// `input` past it; `None` on malformed input.
    pub fn walk(input: &mut &[u8], mut f: impl FnMut(u16, u64)) -> Option<()> {
        let len = get_varint(input)?;
        if len > u64::from(MAX_BUCKET) + 1 {
            return None;
        }
        let mut prev = 0u64;
        for i in 0..len {
            let delta = get_varint(input)?;
            if i > 0 && delta == 0 {
                return None;
            }
            let b = prev.checked_add(delta)?;
            if b > u64::from(MAX_BUCKET) {
                return None;
            }
            let n = get_varint(input)?;
            if n > 0 {
                f(b as u16, n);
            }
            prev = b;
        }
        Some(())
    }

    /// The entries, by bucket.
    pub fn entries(&self) -> &[(u16, u64)] {
        &self.entries
    }
}

/// A histogram as a plain array of counts by bucket (grown on demand): the fastest to add
/// into while a query merges thousands of rollup rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DenseHist {
    counts: Vec<u64>,
}

impl DenseHist {
    pub fn add(&mut self, bucket: u16, n: u64) {
        let i = usize::from(bucket.min(MAX_BUCKET));
        if self.counts.len() <= i {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] = self.counts[i].saturating_add(n);
    }

    /// Like [`Hist::percentile`].
    pub fn percentile(&self, per_mille: u32) -> u64 {
        let n = self.counts.iter().fold(0u64, |a, c| a.saturating_add(*c));
        if n == 0 {
            return 0;
        }
        let rank = (u128::from(n) * u128::from(per_mille.min(1000)))
            .div_ceil(1000)
            .max(1);
        let mut seen = 0u128;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += u128::from(c);
            if c > 0 && seen >= rank {
                return representative(b as u16);
            }
        }
        0
    }
}

/// LEB128 unsigned varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

pub(crate) fn get_varint(input: &mut &[u8]) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        v |= u64::from(byte & 0x7f).checked_shl(shift)?;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_bounded() {
        let mut prev = 0;
        for v in (0..100_000u64).chain([u64::MAX / 3, u64::MAX - 1, u64::MAX]) {
            let b = bucket_of(v);
            assert!(b >= prev, "bucket_of({v})");
            assert!(b <= MAX_BUCKET);
            prev = b;
            let r = representative(b) as f64;
            let err = (r - v as f64).abs();
            assert!(err <= v as f64 * RELATIVE_ERROR + 1.0, "v={v} rep={r}");
        }
    }

    #[test]
    fn percentiles_match_nearest_rank_within_bound() {
        let values: Vec<u64> = (1..=1000u64).map(|i| i * i * 37 % 1_000_003).collect();
        let mut h = Hist::default();
        for &v in &values {
            h.record(v);
        }
        let mut sorted = values.clone();
        sorted.sort_unstable();
        for pm in [1, 500, 900, 950, 990, 1000] {
            let rank = (sorted.len() * pm as usize).div_ceil(1000).max(1);
            let exact = sorted[rank - 1] as f64;
            let got = h.percentile(pm) as f64;
            assert!((got - exact).abs() <= exact * RELATIVE_ERROR + 1.0, "p{pm}");
        }
    }

    #[test]
    fn encode_roundtrip_and_garbage() {
        let mut h = Hist::default();
        for v in [0, 1, 5, 5, 1_000, 1 << 40, u64::MAX] {
            h.record(v);
        }
        let mut buf = Vec::new();
        h.encode(&mut buf);
        let mut slice = buf.as_slice();
        assert_eq!(Hist::decode(&mut slice), Some(h));
        assert!(slice.is_empty());
        for cut in 0..buf.len() {
            let mut s = &buf[..cut];
            let _ = Hist::decode(&mut s);
        }
        let mut junk: &[u8] = &[0xff; 12];
        assert_eq!(Hist::decode(&mut junk), None);
    }
}
