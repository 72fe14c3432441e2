//! Write-behind spend deltas and stored-spend seeds, shared by both backends.

use hashbrown::HashMap;
use parking_lot::Mutex;
use portcullis_core::limits::UsageKind;

use crate::{Period, Scope, SpendDelta};

/// Per scope: (kind, period, delta) entries.
type DeltaMap = HashMap<Scope, Vec<(UsageKind, Period, i64)>>;
/// Per scope: the seed of each usage kind (indexed by `usage_idx`).
type SeedMap = HashMap<Scope, [Option<(Period, i64)>; 2]>;

/// Settled spend not yet handed to the database writer, coalesced per (scope, kind, period).
/// Memory is bounded by the number of distinct budget ledgers touched between two drains.
#[derive(Default)]
pub(crate) struct DeltaSink {
    map: Mutex<DeltaMap>,
}

impl DeltaSink {
    pub fn add(&self, scope: &Scope, usage: UsageKind, period: Period, delta: i64) {
        if delta == 0 {
            return;
        }
        let mut map = self.map.lock();
        let list = match map.get_mut(scope) {
            Some(l) => l,
            None => map.entry(scope.clone()).or_default(),
        };
        match list
            .iter_mut()
            .find(|(u, p, _)| *u == usage && *p == period)
        {
            Some((_, _, d)) => *d = d.saturating_add(delta),
            None => list.push((usage, period, delta)),
        }
    }

    pub fn drain(&self) -> Vec<SpendDelta> {
        let map = std::mem::take(&mut *self.map.lock());
        map.into_iter()
            .flat_map(|(scope, list)| {
                list.into_iter()
                    .map(move |(usage, period, delta)| SpendDelta {
                        scope: scope.clone(),
                        usage,
                        period,
                        delta,
                    })
            })
            .collect()
    }
}

/// Stored spend per (scope, kind), as handed to `seed`.
#[derive(Default)]
pub(crate) struct Seeds {
    map: Mutex<SeedMap>,
}

pub(crate) fn usage_idx(u: UsageKind) -> usize {
    match u {
        UsageKind::Cost => 0,
        UsageKind::Tokens => 1,
    }
}

impl Seeds {
    pub fn set(&self, scope: &Scope, usage: UsageKind, period: Period, spent: i64) {
        let mut map = self.map.lock();
        let slot = match map.get_mut(scope) {
            Some(s) => s,
            None => map.entry(scope.clone()).or_default(),
        };
        slot[usage_idx(usage)] = Some((period, spent));
    }

    pub fn get(&self, scope: &Scope, usage: UsageKind) -> Option<(Period, i64)> {
        self.map.lock().get(scope).and_then(|s| s[usage_idx(usage)])
    }
}
