//! How an analytics query splits its time range between rollups and the raw table.
//!
//! Rollups exist at three grains (5 minutes, 1 hour, 1 day, UTC-aligned). A range `[from, to)`
//! is answered from the coarsest grain over its aligned interior, finer grains over the ragged
//! edges, and the raw table over what is left (under 5 minutes at each end). Distinct users are
//! kept in the 5-minute and hourly buckets only, so they come from hours where sums come from
//! days. Filters on metadata, trace id or cost, and metadata group-bys,
//! cannot use rollups: those queries read the raw table for the whole range.

use crate::query::{GroupBy, LogFilter};

pub(crate) const MINUTE: i64 = 60_000;
pub(crate) const HOUR: i64 = 60 * MINUTE;
pub(crate) const DAY: i64 = 24 * HOUR;
/// Rollup grains, coarsest first.
pub(crate) const GRAINS: [i64; 3] = [DAY, HOUR, 5 * MINUTE];
/// The grains whose buckets also count distinct users (day buckets would hold every user of
/// the day, rewritten on every batch).
pub(crate) const USER_GRAINS: [i64; 2] = [HOUR, 5 * MINUTE];

/// A part of the queried range: a grain-aligned span of rollup buckets, or raw rows.
/// `i64::MIN` / `i64::MAX` bounds mean unbounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece {
    Rollup { grain: i64, from: i64, to: i64 },
    Raw { from: i64, to: i64 },
}

fn ceil_to(a: i64, g: i64) -> i64 {
    if a == i64::MIN {
        return a;
    }
    match a.rem_euclid(g) {
        0 => a,
        r => a.checked_add(g - r).unwrap_or(i64::MAX),
    }
}

fn floor_to(b: i64, g: i64) -> i64 {
    if b == i64::MAX {
        return b;
    }
    b - b.rem_euclid(g)
}

/// Splits `[from, to)` over `grains` (coarsest first); what no grain covers is raw.
pub(crate) fn split(from: i64, to: i64, grains: &[i64]) -> Vec<Piece> {
    let mut out = Vec::new();
    split_into(from, to, grains, &mut out);
    out
}

fn split_into(from: i64, to: i64, grains: &[i64], out: &mut Vec<Piece>) {
    if from >= to {
        return;
    }
    let Some((&g, finer)) = grains.split_first() else {
        out.push(Piece::Raw { from, to });
        return;
    };
    let lo = ceil_to(from, g);
    let hi = floor_to(to, g);
    if lo >= hi {
        split_into(from, to, finer, out);
        return;
    }
    split_into(from, lo, finer, out);
    out.push(Piece::Rollup {
        grain: g,
        from: lo,
        to: hi,
    });
    split_into(hi, to, finer, out);
}

/// The filter's range as `[from, to)` with unbounded ends.
pub(crate) fn range(f: &LogFilter) -> (i64, i64) {
    (f.from.unwrap_or(i64::MIN), f.to.unwrap_or(i64::MAX))
}

/// Whether every condition of the filter is a rolled-up dimension (or time).
pub(crate) fn rollup_filter(f: &LogFilter) -> bool {
    f.metadata.is_empty()
        && f.trace_id.is_none()
        && f.min_cost_nanos.is_none()
        && f.max_cost_nanos.is_none()
}

/// How an analytics query groups its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Grouping {
    Total,
    /// Time buckets of this many milliseconds, aligned to the Unix epoch.
    Series(i64),
    By(GroupBy),
}

impl Grouping {
    /// The rollup grains usable for this grouping (none: raw only).
    pub fn grains(&self, f: &LogFilter) -> Vec<i64> {
        if !rollup_filter(f) {
            return Vec::new();
        }
        match self {
            Grouping::Total => GRAINS.to_vec(),
            Grouping::Series(ms) => GRAINS.into_iter().filter(|g| ms % g == 0).collect(),
            Grouping::By(GroupBy::Metadata(_)) => Vec::new(),
            Grouping::By(_) => GRAINS.to_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_cover_the_range_exactly() {
        let cases = [
            (0, DAY * 3),
            (1, DAY * 3 - 1),
            (7 * MINUTE + 13, 3 * HOUR + 2 * MINUTE),
            (i64::MIN, 5 * HOUR + 1),
            (123, i64::MAX),
            (i64::MIN, i64::MAX),
            (-DAY - 17, DAY + 5),
            (10, 10),
            (10, 5),
        ];
        for (from, to) in cases {
            let pieces = split(from, to, &GRAINS);
            let mut at = from;
            for p in &pieces {
                let (a, b) = match *p {
                    Piece::Rollup { grain, from, to } => {
                        assert!(from == i64::MIN || from.rem_euclid(grain) == 0);
                        assert!(to == i64::MAX || to.rem_euclid(grain) == 0);
                        (from, to)
                    }
                    Piece::Raw { from, to } => {
                        assert!(to == i64::MAX || from == i64::MIN || to - from < 10 * MINUTE);
                        (from, to)
                    }
                };
                assert_eq!(a, at);
                assert!(a < b);
                at = b;
            }
            if from < to {
                assert_eq!(at, to, "{from}..{to}: {pieces:?}");
            } else {
                assert!(pieces.is_empty());
            }
        }
        assert_eq!(split(0, DAY, &[]), vec![Piece::Raw { from: 0, to: DAY }]);
    }
}
