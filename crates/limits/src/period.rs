//! Budget periods: `none` (one period forever), `daily` (UTC day), `weekly` (starting Sunday
//! 00:00 UTC), `monthly` (starting the 1st, 00:00 UTC).
//!
//! A [`Period`] is identified by its reset kind and its first day. Its text form (used in Redis
//! keys, crossings and the write-behind deltas, so it is also a good database column) is
//! `all`, `d2024-05-17`, `w2024-05-12` (the Sunday the week starts) or `m2024-05`.
//!
//! A budget whose usage was reset (Portkey's `reset_usage`) inside a period counts from then in
//! a period of its own, `m2024-05@<reset, unix ms>`: every ledger, Redis key and stored spend
//! row of it is new, so it starts from zero on every replica that knows of the reset, and the
//! next natural period has no suffix again.

use std::fmt;
use std::str::FromStr;

use portcullis_core::limits::{PeriodicReset, UsageLimit};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub(crate) const DAY_US: u64 = 86_400_000_000;

/// One budget period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Period {
    reset: PeriodicReset,
    /// Days since 1970-01-01 of the first day (0 for `none`).
    start_day: i64,
    /// When the budget's usage was reset inside this period (unix ms), 0 when it was not.
    restarted_ms: i64,
}

/// `reset_at` (unix ms) when it falls in `[start_us, end_us)`, else 0: a reset only starts over
/// the period it happened in.
pub(crate) fn restart_within(reset_at: Option<i64>, start_us: u64, end_us: u64) -> i64 {
    match reset_at {
        Some(ms) if ms > 0 => {
            let us = (ms as u64).saturating_mul(1_000);
            if us >= start_us && us < end_us { ms } else { 0 }
        }
        _ => 0,
    }
}

impl Period {
    /// The lifetime period of a budget that never resets.
    pub const LIFETIME: Period = Period {
        reset: PeriodicReset::None,
        start_day: 0,
        restarted_ms: 0,
    };

    /// The period of `limit` containing `now_us`: the natural one, or the part of it after the
    /// limit's last usage reset when that happened inside it.
    pub fn of_limit(limit: &UsageLimit, now_us: u64) -> Period {
        Period::current(limit.periodic_reset, now_us).restarted(limit.reset_at)
    }

    /// This natural period, started over at `reset_at` (unix ms) if that falls inside it.
    pub fn restarted(self, reset_at: Option<i64>) -> Period {
        Period {
            restarted_ms: restart_within(
                reset_at,
                self.start_us(),
                self.end_us().unwrap_or(u64::MAX),
            ),
            ..self
        }
    }

    /// When the budget's usage was reset inside this period (unix ms).
    pub fn restarted_at(&self) -> Option<i64> {
        (self.restarted_ms > 0).then_some(self.restarted_ms)
    }

    /// The period containing `now_us` (microseconds since the epoch, UTC).
    pub fn current(reset: PeriodicReset, now_us: u64) -> Period {
        let day = (now_us / DAY_US) as i64;
        let start_day = match reset {
            PeriodicReset::None => 0,
            PeriodicReset::Daily => day,
            // 1970-01-01 was a Thursday: (day + 4) % 7 is 0 on Sundays.
            PeriodicReset::Weekly => day - (day + 4).rem_euclid(7),
            PeriodicReset::Monthly => {
                let (y, m, _) = civil_from_days(day);
                days_from_civil(y, m, 1)
            }
        };
        Period {
            reset,
            start_day,
            restarted_ms: 0,
        }
    }

    pub fn reset(&self) -> PeriodicReset {
        self.reset
    }

    /// First instant of the natural period (µs since the epoch); 0 for `none`. A restarted
    /// period keeps its natural bounds: only its identity differs.
    pub fn start_us(&self) -> u64 {
        (self.start_day.max(0) as u64) * DAY_US
    }

    /// First instant after the period (µs since the epoch); `None` for `none`.
    pub fn end_us(&self) -> Option<u64> {
        let end_day = match self.reset {
            PeriodicReset::None => return None,
            PeriodicReset::Daily => self.start_day + 1,
            PeriodicReset::Weekly => self.start_day + 7,
            PeriodicReset::Monthly => {
                let (y, m, _) = civil_from_days(self.start_day);
                if m == 12 {
                    days_from_civil(y + 1, 1, 1)
                } else {
                    days_from_civil(y, m + 1, 1)
                }
            }
        };
        Some(end_day.max(0) as u64 * DAY_US)
    }

    /// Whether `now_us` falls inside this period.
    pub fn contains(&self, now_us: u64) -> bool {
        match self.end_us() {
            None => true,
            Some(end) => now_us >= self.start_us() && now_us < end,
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = civil_from_days(self.start_day);
        match self.reset {
            PeriodicReset::None => f.write_str("all")?,
            PeriodicReset::Daily => write!(f, "d{y:04}-{m:02}-{d:02}")?,
            PeriodicReset::Weekly => write!(f, "w{y:04}-{m:02}-{d:02}")?,
            PeriodicReset::Monthly => write!(f, "m{y:04}-{m:02}")?,
        }
        match self.restarted_at() {
            Some(ms) => write!(f, "@{ms}"),
            None => Ok(()),
        }
    }
}

/// Why a period label did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a budget period label (all, dYYYY-MM-DD, wYYYY-MM-DD (a Sunday), mYYYY-MM): {0:?}")]
pub struct BadPeriod(pub String);

impl FromStr for Period {
    type Err = BadPeriod;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || BadPeriod(s.to_string());
        if let Some((natural, ms)) = s.split_once('@') {
            let ms: i64 = ms
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| ms.parse().ok())
                .flatten()
                .ok_or_else(bad)?;
            let p: Period = natural.parse().map_err(|_| bad())?;
            let restarted = p.restarted(Some(ms));
            // A reset outside the period is not a label this module writes.
            return restarted.restarted_at().map(|_| restarted).ok_or_else(bad);
        }
        if s == "all" {
            return Ok(Period::LIFETIME);
        }
        let (tag, rest) = s.split_at_checked(1).ok_or_else(bad)?;
        let mut parts = rest.split('-');
        let mut num = |min: i64, max: i64| -> Result<i64, BadPeriod> {
            let p = parts.next().ok_or_else(bad)?;
            if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let v: i64 = p.parse().map_err(|_| bad())?;
            if v < min || v > max {
                return Err(bad());
            }
            Ok(v)
        };
        let y = num(1970, 9999)?;
        let m = num(1, 12)? as u32;
        let (reset, day) = match tag {
            "m" => (PeriodicReset::Monthly, 1),
            "d" => (PeriodicReset::Daily, num(1, 31)? as u32),
            "w" => (PeriodicReset::Weekly, num(1, 31)? as u32),
            _ => return Err(bad()),
        };
        if parts.next().is_some() {
            return Err(bad());
        }
        let start_day = days_from_civil(y, m, day);
        let p = Period {
            reset,
            start_day,
            restarted_ms: 0,
        };
        // Reject dates that do not exist and weeks that do not start on a Sunday.
        if civil_from_days(start_day) != (y, m, day) || Period::current(reset, p.start_us()) != p {
            return Err(bad());
        }
        Ok(p)
    }
}

impl Serialize for Period {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Period {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(y: i64, m: u32, d: u32, h: u64) -> u64 {
        days_from_civil(y, m, d) as u64 * DAY_US + h * 3_600_000_000
    }

    #[test]
    fn civil_round_trip() {
        for z in -800_000..800_000i64 {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(19_860), (2024, 5, 17));
    }

    #[test]
    fn periods_and_labels() {
        let now = at(2024, 5, 17, 13); // a Friday
        assert_eq!(Period::current(PeriodicReset::None, now).to_string(), "all");
        assert_eq!(
            Period::current(PeriodicReset::Daily, now).to_string(),
            "d2024-05-17"
        );
        assert_eq!(
            Period::current(PeriodicReset::Weekly, now).to_string(),
            "w2024-05-12"
        );
        assert_eq!(
            Period::current(PeriodicReset::Monthly, now).to_string(),
            "m2024-05"
        );
        let w = Period::current(PeriodicReset::Weekly, now);
        assert_eq!(w.start_us(), at(2024, 5, 12, 0));
        assert_eq!(w.end_us(), Some(at(2024, 5, 19, 0)));
        let m = Period::current(PeriodicReset::Monthly, at(2024, 12, 31, 23));
        assert_eq!(m.end_us(), Some(at(2025, 1, 1, 0)));
        // Sunday 00:00 starts a new week; Saturday 23:59 is still the old one.
        let sat = at(2024, 5, 18, 23) + 3_599_999_999;
        assert_eq!(Period::current(PeriodicReset::Weekly, sat), w);
        assert_ne!(Period::current(PeriodicReset::Weekly, sat + 1), w);
        for label in ["all", "d2024-02-29", "w2024-05-12", "m2024-05"] {
            let p: Period = label.parse().unwrap();
            assert_eq!(p.to_string(), label);
            assert_eq!(serde_json::to_string(&p).unwrap(), format!("\"{label}\""));
        }
        for bad in [
            "",
            "x",
            "d2023-02-29",
            "w2024-05-13",
            "m2024-13",
            "d2024-5-1x",
            "all2",
            "m2024-05@",
            "m2024-05@x",
            "m2024-05@-1",
            "m2024-05@0",
            // A reset in another month.
            "m2024-05@1000",
            "all@1@2",
        ] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_reset_starts_its_period_over_and_only_that_one() {
        let now = at(2024, 5, 17, 13);
        let reset_ms = (at(2024, 5, 10, 8) / 1_000) as i64;
        let month = Period::current(PeriodicReset::Monthly, now);
        let restarted = month.restarted(Some(reset_ms));
        assert_ne!(restarted, month);
        assert_eq!(restarted.restarted_at(), Some(reset_ms));
        assert_eq!(restarted.to_string(), format!("m2024-05@{reset_ms}"));
        assert_eq!(
            (restarted.start_us(), restarted.end_us()),
            (month.start_us(), month.end_us())
        );
        // Labels round-trip, with and without the reset.
        for p in [restarted, Period::LIFETIME.restarted(Some(reset_ms))] {
            assert_eq!(p.to_string().parse::<Period>().unwrap(), p);
        }
        // The next month, and a day before the reset, are natural periods again.
        assert_eq!(
            Period::current(PeriodicReset::Monthly, at(2024, 6, 1, 0)).restarted(Some(reset_ms)),
            Period::current(PeriodicReset::Monthly, at(2024, 6, 1, 0))
        );
        let day = Period::current(PeriodicReset::Daily, at(2024, 5, 9, 23));
        assert_eq!(day.restarted(Some(reset_ms)), day);
        // A budget that never resets periodically starts over at any reset.
        assert_eq!(
            Period::LIFETIME.restarted(Some(reset_ms)).restarted_at(),
            Some(reset_ms)
        );
        let limit = UsageLimit {
            kind: portcullis_core::limits::UsageKind::Tokens,
            credit_limit: 10.0,
            alert_threshold: None,
            periodic_reset: PeriodicReset::Monthly,
            reset_at: Some(reset_ms),
        };
        assert_eq!(Period::of_limit(&limit, now), restarted);
        assert_eq!(Period::of_limit(&limit.with_reset(None), now), month);
    }
}
