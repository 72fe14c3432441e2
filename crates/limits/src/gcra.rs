//! GCRA (generic cell rate algorithm) in exact integer arithmetic.
//!
//! A limit of `L` units per window `W` has emission interval `T = W/L`. The state is the
//! theoretical arrival time `TAT`; the bucket "level" at time `t` is `max(TAT - t, 0)`, i.e. how
//! far ahead of schedule the scope is. A request of `n` units passes when
//! `level + min(max(n, 1), C)·T <= C·T` and then moves `TAT` to `max(TAT, t) + n·T`, where `C` is
//! the burst capacity in units ([`Burst`]).
//!
//! To stay exact for any `L` (no rounding of `W/L`) the state keeps `TAT` scaled by `L`:
//! `tat = TAT_µs · L`, so one unit costs exactly `W_µs` scaled units and one microsecond drains `L`
//! of them. With `u128` this cannot overflow for any limit the config accepts (`L ≤ 10^12`).

use portcullis_core::limits::RateLimit;

use crate::Burst;

/// State of one (scope, kind, unit) rate limit.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RateState {
    /// TAT in µs × `l`.
    pub tat: u128,
    /// The `L` that `tat` is scaled by (0 = fresh).
    pub l: u64,
}

/// The parameters of one limit.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Gcra {
    /// Window in µs (= the scaled cost of one unit).
    w: u128,
    /// Units per window.
    l: u128,
    /// Burst capacity in units.
    cap: u128,
}

/// An admission that passed: the new TAT and what the response headers should say.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pass {
    pub new_tat: u128,
    pub remaining: u64,
    pub reset_us: u64,
}

impl Gcra {
    /// `None` when the limit is `value: 0` (refuse everything).
    pub fn new(limit: &RateLimit, burst: Burst) -> Option<Gcra> {
        if limit.value == 0 {
            return None;
        }
        let l = u128::from(limit.value);
        Some(Gcra {
            w: u128::from(limit.unit.window_ms()) * 1_000,
            l,
            cap: match burst {
                Burst::Window => l,
                Burst::Strict => 1,
            },
        })
    }

    /// Re-expresses a state scaled by another `L` (the limit was edited) in this one's units,
    /// keeping the number of units in the bucket (5 used of 10 stay 5 used of 5).
    pub fn rescale(&self, st: &mut RateState, now_us: u64) {
        let l = self.l as u64;
        if st.l != l {
            let level = st.tat.saturating_sub(u128::from(now_us) * u128::from(st.l));
            st.tat = u128::from(now_us) * self.l + level;
            st.l = l;
        }
    }

    /// Checks `n` units at `now_us` against a rescaled state. `Err` carries the wait in µs until
    /// the same request would pass.
    pub fn check(&self, st: &RateState, now_us: u64, n: u64) -> Result<Pass, u64> {
        let now = u128::from(now_us) * self.l;
        let base = st.tat.max(now);
        let level = base - now;
        let need = u128::from(n).clamp(1, self.cap) * self.w;
        let capw = self.cap * self.w;
        if level + need > capw {
            let wait = (level + need - capw).div_ceil(self.l);
            return Err(u64::try_from(wait).unwrap_or(u64::MAX));
        }
        let new_tat = base.saturating_add(u128::from(n) * self.w);
        Ok(self.info(new_tat, now))
    }

    fn info(&self, tat: u128, now: u128) -> Pass {
        let level = tat.saturating_sub(now);
        let capw = self.cap * self.w;
        Pass {
            new_tat: tat,
            remaining: u64::try_from(capw.saturating_sub(level) / self.w).unwrap_or(u64::MAX),
            reset_us: u64::try_from(level.div_ceil(self.l)).unwrap_or(u64::MAX),
        }
    }

    /// Applies a settle correction of `delta` units (actual − estimate). One unit is `W` scaled
    /// units whatever `L` the state is scaled by, so no rescale is needed. Taking more starts from
    /// `max(TAT, now)`; giving back may move TAT below `now`, which is the same as an empty
    /// bucket (every read uses `max(TAT, now)`), so credit never exceeds the burst capacity.
    pub fn correct(&self, st: &mut RateState, now_us: u64, delta: i128) {
        let amount = delta.unsigned_abs().saturating_mul(self.w);
        if delta > 0 {
            let now = u128::from(now_us) * u128::from(st.l);
            st.tat = st.tat.max(now).saturating_add(amount);
        } else {
            st.tat = st.tat.saturating_sub(amount);
        }
    }

    /// Whether the state holds nothing (can be forgotten).
    pub fn idle(st: &RateState, now_us: u64) -> bool {
        st.tat <= u128::from(now_us) * u128::from(st.l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::limits::{RateKind, RateUnit};

    fn lim(value: u64, unit: RateUnit) -> RateLimit {
        RateLimit {
            kind: RateKind::Requests,
            unit,
            value,
        }
    }

    #[test]
    fn rescale_keeps_units() {
        let g3 = Gcra::new(&lim(3, RateUnit::Rpm), Burst::Window).unwrap();
        let g7 = Gcra::new(&lim(7, RateUnit::Rpm), Burst::Window).unwrap();
        let mut st = RateState::default();
        g3.rescale(&mut st, 1_000_000);
        let p = g3.check(&st, 1_000_000, 1).unwrap();
        st.tat = p.new_tat;
        assert_eq!(p.reset_us, 20_000_000);
        g7.rescale(&mut st, 1_000_000);
        // One unit of 7/min is 60/7 s ahead.
        assert_eq!(st.tat, 1_000_000 * 7 + 60_000_000);
        assert_eq!(g7.check(&st, 1_000_000, 1).unwrap().remaining, 5);
    }
}
