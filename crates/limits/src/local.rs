//! In-process backend (single node).
//!
//! State lives in two sharded maps (64 shards, each a `parking_lot::Mutex<HashTable>`): one cell
//! per (scope, rate kind, unit) and one per (scope, usage kind), each cell with its own mutex.
//! Admission looks the cells up (a shard lock held only for the lookup), then locks the cells it
//! needs in address order (so two admissions sharing cells cannot deadlock), checks everything,
//! applies everything, and unlocks: all-or-nothing and atomic, with no lock held across an await
//! (the whole admission is synchronous). Contention is limited to requests that really share a
//! scope. Idle cells (bucket empty, or budget period over with nothing reserved) are swept
//! incrementally: every 4096 admissions on a thread sweep one shard.

use std::cell::Cell;
use std::fmt;
use std::future::ready;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use hashbrown::hash_table::Entry;
use hashbrown::{DefaultHashBuilder, HashTable};
use parking_lot::{Mutex, MutexGuard};
use portcullis_core::limits::{RateKind, RateLimit, RateUnit, UsageKind, UsageLimit};
use smallvec::SmallVec;
use std::hash::BuildHasher;
use std::time::Duration;

use crate::gcra::{Gcra, RateState};
use crate::period::restart_within;
use crate::sink::DeltaSink;
use crate::{
    Actual, Admitted, BoxFuture, Burst, Clock, Crossing, CrossingKind, Estimate, Limiter, Limits,
    Period, RateInfo, Refusal, Reservation, ReservationInner, Scope, SpendDelta, SystemClock,
    units,
};

const SHARDS: usize = 64;
const SWEEP_EVERY: u32 = 4096;

thread_local! {
    static OPS: Cell<u32> = const { Cell::new(0) };
}

trait Keyed {
    fn hash_key(&self, h: &DefaultHashBuilder) -> u64;
}

struct ShardMap<C> {
    hasher: DefaultHashBuilder,
    shards: Box<[Mutex<HashTable<Arc<C>>>]>,
}

impl<C: Keyed> ShardMap<C> {
    fn new() -> Self {
        ShardMap {
            hasher: DefaultHashBuilder::default(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashTable::new())).collect(),
        }
    }

    fn shard(&self, hash: u64) -> &Mutex<HashTable<Arc<C>>> {
        // hashbrown uses the low bits (bucket) and the top 7 bits (tag); pick shards from the
        // middle so a shard's entries still spread over both.
        &self.shards[((hash >> 32) as usize) & (SHARDS - 1)]
    }

    fn get(&self, hash: u64, eq: impl Fn(&C) -> bool) -> Option<Arc<C>> {
        self.shard(hash).lock().find(hash, |c| eq(c)).cloned()
    }

    fn get_or_insert(
        &self,
        hash: u64,
        eq: impl Fn(&C) -> bool,
        make: impl FnOnce() -> C,
    ) -> Arc<C> {
        let mut table = self.shard(hash).lock();
        let hasher = &self.hasher;
        match table.entry(hash, |c| eq(c), |c| c.hash_key(hasher)) {
            Entry::Occupied(e) => Arc::clone(e.get()),
            Entry::Vacant(v) => Arc::clone(v.insert(Arc::new(make())).get()),
        }
    }

    /// Drops cells nobody else holds (strong count 1 under the shard lock, and new references
    /// are only made under it) and that `idle` says carry no state.
    fn sweep_shard(&self, i: usize, idle: impl Fn(&C) -> bool) {
        self.shards[i]
            .lock()
            .retain(|c| Arc::strong_count(c) > 1 || !idle(c));
    }

    fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().len()).sum()
    }
}

pub(crate) struct RateCell {
    scope: Scope,
    kind: RateKind,
    unit: RateUnit,
    st: Mutex<RateState>,
}

impl Keyed for RateCell {
    fn hash_key(&self, h: &DefaultHashBuilder) -> u64 {
        rate_hash(h, &self.scope, self.kind, self.unit)
    }
}

fn rate_hash(h: &DefaultHashBuilder, s: &Scope, k: RateKind, u: RateUnit) -> u64 {
    h.hash_one((s.kind, s.id.as_str(), k, u))
}

pub(crate) struct BudgetCell {
    scope: Scope,
    usage: UsageKind,
    st: Mutex<BudgetSlot>,
}

impl Keyed for BudgetCell {
    fn hash_key(&self, h: &DefaultHashBuilder) -> u64 {
        budget_hash(h, &self.scope, self.usage)
    }
}

fn budget_hash(h: &DefaultHashBuilder, s: &Scope, u: UsageKind) -> u64 {
    h.hash_one((s.kind, s.id.as_str(), u))
}

#[derive(Default)]
struct BudgetSlot {
    cur: Option<Ledger>,
    /// The previous period's ledger while it still has reservations in flight.
    prev: Option<Ledger>,
    /// Stored spend handed to `seed`, used when the ledger of that period is created.
    seed: Option<(Period, i64)>,
}

#[derive(Debug, Clone, Copy)]
struct Ledger {
    period: Period,
    start_us: u64,
    end_us: u64,
    spent: i64,
    reserved: i64,
    alerted: bool,
    exhausted: bool,
}

impl Ledger {
    fn new(period: Period, spent: i64, limit: &UsageLimit) -> Ledger {
        Ledger {
            period,
            start_us: period.start_us(),
            end_us: period.end_us().unwrap_or(u64::MAX),
            spent,
            reserved: 0,
            alerted: limit.alert_units().is_some_and(|a| spent >= a),
            exhausted: spent >= limit.limit_units(),
        }
    }
}

impl BudgetSlot {
    /// The ledger of the period containing `now`, rolling over when a new period started or
    /// the budget's usage was reset.
    fn ledger(&mut self, now: u64, limit: &UsageLimit) -> &mut Ledger {
        let reset = limit.periodic_reset;
        let live = self.cur.as_ref().is_some_and(|l| {
            l.period.reset() == reset
                && now >= l.start_us
                && now < l.end_us
                && l.period.restarted_at().unwrap_or(0)
                    == restart_within(limit.reset_at, l.start_us, l.end_us)
        });
        if !live {
            let period = Period::of_limit(limit, now);
            if self.prev.as_ref().is_some_and(|p| p.period == period) {
                // The clock went back across a boundary: the old ledger is current again.
                std::mem::swap(&mut self.cur, &mut self.prev);
            } else {
                if let Some(old) = self.cur.take()
                    && old.reserved > 0
                {
                    self.prev = Some(old);
                }
                let spent = match self.seed {
                    Some((p, s)) if p == period => s,
                    _ => 0,
                };
                self.cur = Some(Ledger::new(period, spent, limit));
            }
        }
        self.cur
            .get_or_insert_with(|| Ledger::new(Period::of_limit(limit, now), 0, limit))
    }

    fn find(&mut self, period: Period) -> Option<&mut Ledger> {
        if self.cur.as_ref().is_some_and(|l| l.period == period) {
            self.cur.as_mut()
        } else if self.prev.as_ref().is_some_and(|l| l.period == period) {
            self.prev.as_mut()
        } else {
            None
        }
    }

    fn idle(&self, now: u64) -> bool {
        self.cur
            .as_ref()
            .is_none_or(|l| l.end_us <= now && l.reserved == 0)
            && self.prev.as_ref().is_none_or(|l| l.reserved == 0)
            && self
                .seed
                .is_none_or(|(p, _)| p.end_us().is_some_and(|e| e <= now))
    }
}

struct RateHold {
    cell: Arc<RateCell>,
    gcra: Gcra,
}

struct BudgetHold {
    cell: Arc<BudgetCell>,
    period: Period,
    est: i64,
    limit: i64,
    alert: Option<i64>,
}

/// What an in-process admission holds: token-rate cells (for the settle correction) and budget
/// reservations.
#[derive(Default)]
pub(crate) struct LocalReservation {
    rates: SmallVec<[RateHold; 2]>,
    budgets: SmallVec<[BudgetHold; 4]>,
    /// For `Drop` (set only when budgets are held).
    sink: Option<Arc<DeltaSink>>,
}

impl fmt::Debug for LocalReservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalReservation")
            .field("token_limits", &self.rates.len())
            .field(
                "budgets",
                &self
                    .budgets
                    .iter()
                    .map(|b| (&b.cell.scope, b.period.to_string(), b.est))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl LocalReservation {
    pub(crate) fn budgets(&self) -> Vec<(Scope, UsageKind, Period, i64)> {
        self.budgets
            .iter()
            .map(|b| (b.cell.scope.clone(), b.cell.usage, b.period, b.est))
            .collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rates.is_empty() && self.budgets.is_empty()
    }
}

/// Gives back a reservation synchronously: the token estimate and the budget reservations.
fn give_back(r: &LocalReservation, est: Estimate) {
    for h in &r.rates {
        h.gcra
            .correct(&mut h.cell.st.lock(), 0, -i128::from(est.tokens));
    }
    for h in &r.budgets {
        if let Some(l) = h.cell.st.lock().find(h.period) {
            l.reserved = (l.reserved - h.est).max(0);
        }
    }
}

/// `Drop` of an unsettled reservation: the call may have happened (a client that disconnects
/// cancels the handler), so charge the estimate as spent. Crossings are not reported.
pub(crate) fn charge_estimate(r: LocalReservation) {
    for h in &r.budgets {
        if let Some(l) = h.cell.st.lock().find(h.period) {
            l.reserved = (l.reserved - h.est).max(0);
            l.spent = l.spent.saturating_add(h.est);
            if h.alert.is_some_and(|a| l.spent >= a) {
                l.alerted = true;
            }
            if l.spent >= h.limit {
                l.exhausted = true;
            }
        }
        if let Some(sink) = &r.sink {
            sink.add(&h.cell.scope, h.cell.usage, h.period, h.est);
        }
    }
}

struct Shared {
    clock: Arc<dyn Clock>,
    burst: Burst,
    rates: ShardMap<RateCell>,
    budgets: ShardMap<BudgetCell>,
    deltas: Arc<DeltaSink>,
    sweep_cursor: AtomicUsize,
}

/// The in-process limiter. Cheap to clone (clones share state).
#[derive(Clone)]
pub struct InProcessLimiter {
    s: Arc<Shared>,
}

impl Default for InProcessLimiter {
    fn default() -> Self {
        Self::new(Arc::new(SystemClock), Burst::Window)
    }
}

impl fmt::Debug for InProcessLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InProcessLimiter")
            .field("burst", &self.s.burst)
            .field("rate_cells", &self.s.rates.len())
            .field("budget_cells", &self.s.budgets.len())
            .finish()
    }
}

enum Item<'l> {
    Rate {
        cell: Arc<RateCell>,
        limit: &'l RateLimit,
    },
    Budget {
        idx: usize,
        cell: Arc<BudgetCell>,
        limit: &'l UsageLimit,
    },
}

impl Item<'_> {
    fn addr(&self) -> usize {
        match self {
            Item::Rate { cell, .. } => Arc::as_ptr(cell) as usize,
            Item::Budget { cell, .. } => Arc::as_ptr(cell) as usize,
        }
    }
}

enum Guard<'a> {
    Rate(MutexGuard<'a, RateState>),
    Budget(MutexGuard<'a, BudgetSlot>),
}

/// Per-item outcome of the check phase.
#[derive(Clone, Copy)]
enum Staged {
    Rate { pass: crate::gcra::Pass, gcra: Gcra },
    Budget { period: Period, est: i64 },
}

impl InProcessLimiter {
    pub fn new(clock: Arc<dyn Clock>, burst: Burst) -> Self {
        InProcessLimiter {
            s: Arc::new(Shared {
                clock,
                burst,
                rates: ShardMap::new(),
                budgets: ShardMap::new(),
                deltas: Arc::default(),
                sweep_cursor: AtomicUsize::new(0),
            }),
        }
    }

    pub fn burst(&self) -> Burst {
        self.s.burst
    }

    /// [`Limiter::admit`] without the future (it never waits).
    pub fn admit_now(&self, limits: &Limits, est: Estimate) -> Result<Admitted, Refusal> {
        if limits.is_empty() {
            return Ok(Admitted {
                reservation: Reservation::empty(est),
                requests: None,
                tokens: None,
            });
        }
        let s = &*self.s;
        let now = s.clock.now_us();
        self.maybe_sweep(now);

        let mut items: SmallVec<[Item<'_>; 12]> = SmallVec::new();
        for (scope, limit) in &limits.rate {
            let h = rate_hash(&s.rates.hasher, scope, limit.kind, limit.unit);
            let cell = s.rates.get_or_insert(
                h,
                |c| c.kind == limit.kind && c.unit == limit.unit && c.scope == *scope,
                || RateCell {
                    scope: scope.clone(),
                    kind: limit.kind,
                    unit: limit.unit,
                    st: Mutex::new(RateState::default()),
                },
            );
            items.push(Item::Rate { cell, limit });
        }
        for (idx, (scope, limit)) in limits.budgets.iter().enumerate() {
            let h = budget_hash(&s.budgets.hasher, scope, limit.kind);
            let cell = s.budgets.get_or_insert(
                h,
                |c| c.usage == limit.kind && c.scope == *scope,
                || BudgetCell {
                    scope: scope.clone(),
                    usage: limit.kind,
                    st: Mutex::new(BudgetSlot::default()),
                },
            );
            items.push(Item::Budget { idx, cell, limit });
        }
        // Lock order = address order; merge duplicates of one cell, keeping the tightest limit.
        items.sort_unstable_by_key(Item::addr);
        items.dedup_by(|later, kept| {
            if later.addr() != kept.addr() {
                return false;
            }
            match (later, kept) {
                (Item::Rate { limit: a, .. }, Item::Rate { limit: b, .. }) if a.value < b.value => {
                    *b = *a;
                }
                (Item::Budget { limit: a, .. }, Item::Budget { limit: b, .. })
                    if a.limit_units() < b.limit_units() =>
                {
                    *b = *a;
                }
                _ => {}
            }
            true
        });

        let mut guards: SmallVec<[Guard<'_>; 12]> = items
            .iter()
            .map(|it| match it {
                Item::Rate { cell, .. } => Guard::Rate(cell.st.lock()),
                Item::Budget { cell, .. } => Guard::Budget(cell.st.lock()),
            })
            .collect();

        // Check everything.
        let mut staged: SmallVec<[Staged; 12]> = SmallVec::with_capacity(items.len());
        let mut budget_fail: Option<(usize, usize)> = None; // (input idx, item idx)
        let mut rate_fail: Option<(u64, usize)> = None; // (wait µs, item idx)
        for (i, (item, guard)) in items.iter().zip(guards.iter_mut()).enumerate() {
            match (item, guard) {
                (Item::Rate { limit, .. }, Guard::Rate(st)) => {
                    let n = match limit.kind {
                        RateKind::Requests => 1,
                        RateKind::Tokens => est.tokens,
                    };
                    let result = match Gcra::new(limit, s.burst) {
                        None => Err(limit.unit.window_ms() * 1_000),
                        Some(g) => {
                            g.rescale(st, now);
                            g.check(st, now, n).map(|pass| (pass, g))
                        }
                    };
                    match result {
                        Ok((pass, gcra)) => staged.push(Staged::Rate { pass, gcra }),
                        Err(wait) => {
                            if rate_fail.is_none_or(|(w, _)| wait > w) {
                                rate_fail = Some((wait, i));
                            }
                            // Placeholder keeps indices aligned; never applied.
                            staged.push(Staged::Budget {
                                period: Period::LIFETIME,
                                est: 0,
                            });
                        }
                    }
                }
                (Item::Budget { idx, limit, .. }, Guard::Budget(slot)) => {
                    let e = units(limit.kind, est.tokens, est.cost_nanos);
                    let led = slot.ledger(now, limit);
                    let used = led.spent.saturating_add(led.reserved);
                    let cap = limit.limit_units();
                    // Refused only once nothing is left (spent + in flight), as Portkey does:
                    // an estimate larger than the remainder (a default max_tokens against a
                    // small budget) is still admitted, and holds the rest until it settles.
                    if used >= cap && budget_fail.is_none_or(|(first, _)| *idx < first) {
                        budget_fail = Some((*idx, i));
                    }
                    staged.push(Staged::Budget {
                        period: led.period,
                        est: e,
                    });
                }
                _ => unreachable!("guards follow items"),
            }
        }
        if let Some((_, i)) = budget_fail {
            let Item::Budget { cell, limit, .. } = &items[i] else {
                unreachable!()
            };
            return Err(Refusal::BudgetExhausted {
                scope: cell.scope.clone(),
                limit: **limit,
            });
        }
        if let Some((wait, i)) = rate_fail {
            let Item::Rate { cell, limit, .. } = &items[i] else {
                unreachable!()
            };
            return Err(Refusal::RateLimited {
                scope: cell.scope.clone(),
                limit: **limit,
                retry_after: Duration::from_micros(wait),
            });
        }

        // Apply everything.
        let mut requests: Option<RateInfo> = None;
        let mut tokens: Option<RateInfo> = None;
        for ((item, guard), st) in items.iter().zip(guards.iter_mut()).zip(&staged) {
            match (item, guard, st) {
                (Item::Rate { limit, .. }, Guard::Rate(state), Staged::Rate { pass, .. }) => {
                    state.tat = pass.new_tat;
                    let info = RateInfo {
                        limit: limit.value,
                        remaining: pass.remaining,
                        reset: Duration::from_micros(pass.reset_us),
                    };
                    let slot = match limit.kind {
                        RateKind::Requests => &mut requests,
                        RateKind::Tokens => &mut tokens,
                    };
                    if slot
                        .is_none_or(|cur| (info.remaining, info.limit) < (cur.remaining, cur.limit))
                    {
                        *slot = Some(info);
                    }
                }
                (Item::Budget { .. }, Guard::Budget(slot), Staged::Budget { period, est }) => {
                    if let Some(l) = slot.find(*period) {
                        l.reserved = l.reserved.saturating_add(*est);
                    }
                }
                _ => {}
            }
        }
        drop(guards);

        let mut res = LocalReservation::default();
        for (item, st) in items.into_iter().zip(staged) {
            match (item, st) {
                (Item::Rate { cell, limit, .. }, Staged::Rate { gcra, .. })
                    if limit.kind == RateKind::Tokens =>
                {
                    res.rates.push(RateHold { cell, gcra });
                }
                (Item::Budget { cell, limit, .. }, Staged::Budget { period, est }) => {
                    res.budgets.push(BudgetHold {
                        cell,
                        period,
                        est,
                        limit: limit.limit_units(),
                        alert: limit.alert_units(),
                    });
                }
                _ => {}
            }
        }
        if !res.budgets.is_empty() {
            res.sink = Some(Arc::clone(&s.deltas));
        }
        Ok(Admitted {
            reservation: Reservation {
                inner: (!res.is_empty()).then_some(ReservationInner::Local(res)),
                estimate: est,
            },
            requests,
            tokens,
        })
    }

    /// [`Limiter::settle`] without the future.
    pub fn settle_now(&self, mut reservation: Reservation, actual: Actual) -> Vec<Crossing> {
        let est = reservation.estimate;
        let Some(ReservationInner::Local(r)) = reservation.inner.take() else {
            return Vec::new();
        };
        let now = self.s.clock.now_us();
        let mut crossings = Vec::new();
        let delta = i128::from(actual.tokens) - i128::from(est.tokens);
        for h in &r.rates {
            h.gcra.correct(&mut h.cell.st.lock(), now, delta);
        }
        for h in &r.budgets {
            let cell = &h.cell;
            let spend = units(cell.usage, actual.tokens, actual.cost_nanos);
            {
                let mut slot = cell.st.lock();
                if let Some(l) = slot.find(h.period) {
                    l.reserved = (l.reserved - h.est).max(0);
                    l.spent = l.spent.saturating_add(spend);
                    let mut cross = |kind, threshold| {
                        crossings.push(Crossing {
                            scope: cell.scope.clone(),
                            usage: cell.usage,
                            kind,
                            spent: l.spent,
                            threshold,
                            limit: h.limit,
                            period: h.period,
                        });
                    };
                    if let Some(a) = h.alert
                        && !l.alerted
                        && l.spent >= a
                    {
                        l.alerted = true;
                        cross(CrossingKind::AlertThreshold, a);
                    }
                    if !l.exhausted && l.spent >= h.limit {
                        l.exhausted = true;
                        cross(CrossingKind::Exhausted, h.limit);
                    }
                }
                if slot.prev.as_ref().is_some_and(|p| p.reserved == 0) {
                    slot.prev = None;
                }
            }
            self.s.deltas.add(&cell.scope, cell.usage, h.period, spend);
        }
        crossings
    }

    /// [`Limiter::release`] without the future.
    pub fn release_now(&self, mut reservation: Reservation) {
        if let Some(ReservationInner::Local(r)) = reservation.inner.take() {
            give_back(&r, reservation.estimate);
        }
    }

    /// (period, spent, reserved) of the live ledger of a budget, if any.
    pub fn budget_state(&self, scope: &Scope, usage: UsageKind) -> Option<(Period, i64, i64)> {
        let h = budget_hash(&self.s.budgets.hasher, scope, usage);
        let cell = self
            .s
            .budgets
            .get(h, |c| c.usage == usage && c.scope == *scope)?;
        let slot = cell.st.lock();
        slot.cur.as_ref().map(|l| (l.period, l.spent, l.reserved))
    }

    /// Number of (rate cells, budget cells) held.
    pub fn cells(&self) -> (usize, usize) {
        (self.s.rates.len(), self.s.budgets.len())
    }

    /// Drops every idle cell now (admission also does this incrementally).
    pub fn sweep(&self) {
        let now = self.s.clock.now_us();
        for i in 0..SHARDS * 2 {
            self.sweep_one(i, now);
        }
    }

    fn sweep_one(&self, i: usize, now: u64) {
        if i < SHARDS {
            self.s
                .rates
                .sweep_shard(i, |c| Gcra::idle(&c.st.lock(), now));
        } else {
            self.s
                .budgets
                .sweep_shard(i - SHARDS, |c| c.st.lock().idle(now));
        }
    }

    fn maybe_sweep(&self, now: u64) {
        let due = OPS.with(|c| {
            let n = c.get().wrapping_add(1);
            c.set(n);
            n % SWEEP_EVERY == 0
        });
        if due {
            let i = self.s.sweep_cursor.fetch_add(1, Ordering::Relaxed) % (SHARDS * 2);
            self.sweep_one(i, now);
        }
    }

    fn seed_now(&self, scope: &Scope, usage: UsageKind, period: Period, spent: i64) {
        let s = &*self.s;
        let h = budget_hash(&s.budgets.hasher, scope, usage);
        let cell = s.budgets.get_or_insert(
            h,
            |c| c.usage == usage && c.scope == *scope,
            || BudgetCell {
                scope: scope.clone(),
                usage,
                st: Mutex::new(BudgetSlot::default()),
            },
        );
        let mut slot = cell.st.lock();
        let live = slot.cur.as_ref().is_some_and(|l| l.period == period)
            || slot.prev.as_ref().is_some_and(|l| l.period == period);
        if !live {
            slot.seed = Some((period, spent));
        }
    }
}

impl Limiter for InProcessLimiter {
    fn admit<'a>(
        &'a self,
        limits: &'a Limits,
        estimate: Estimate,
    ) -> BoxFuture<'a, Result<Admitted, Refusal>> {
        Box::pin(ready(self.admit_now(limits, estimate)))
    }

    fn settle(&self, reservation: Reservation, actual: Actual) -> BoxFuture<'_, Vec<Crossing>> {
        Box::pin(ready(self.settle_now(reservation, actual)))
    }

    fn release(&self, reservation: Reservation) -> BoxFuture<'_, ()> {
        self.release_now(reservation);
        Box::pin(ready(()))
    }

    fn seed(&self, scope: &Scope, usage: UsageKind, period: Period, spent: i64) {
        self.seed_now(scope, usage, period, spent);
    }

    fn drain(&self) -> Vec<SpendDelta> {
        self.s.deltas.drain()
    }
}
