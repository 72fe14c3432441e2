//! Rate limits and budgets behind the gateway's *admit* and *settle* steps.
//!
//! Per request the gateway collects every limit that applies (the API key's, its workspace's, the
//! provider integration's, the end user's, …: each a [`Scope`]) into [`Limits`] and calls
//! [`Limiter::admit`] with an [`Estimate`] before calling the provider. Admission is atomic and
//! all-or-nothing across every scope: either every rate limit and budget passes and all of them
//! are charged, or nothing is charged and a [`Refusal`] says why. After the call the gateway hands
//! the [`Reservation`] back with the [`Actual`] usage to [`Limiter::settle`] (off the response
//! path), or to [`Limiter::release`] when the provider was never called.
//!
//! # Rate limits: GCRA
//!
//! Each (scope, `requests|tokens`, unit) is one GCRA cell with emission interval `T = W/L`
//! (`W` the window of the unit, `L` the limit's `value`), computed exactly (no rounding of `W/L`
//! in-process; see `gcra.rs`). A request limit consumes 1 at admission; a token limit consumes
//! [`Estimate::tokens`] at admission and is corrected by `actual − estimate` at settle (or
//! refunded in full at release; request limits are never refunded, the attempt counted).
//! `value: 0` refuses everything (Retry-After = one window).
//!
//! The burst capacity `C` ([`Burst`]) fixes the exact bound. For any closed interval of length
//! `d`, the units admitted (each request at most `C` units) are at most `C + ⌊d·L/W⌋`. Hence:
//!
//! * [`Burst::Window`] (default, `C = L`): a burst of up to `L` passes at once; any interval of
//!   length `d` admits at most `L + ⌊d·L/W⌋`, so any window of length `W` at most `2L − 1`, and any
//!   span of `k` windows at most `(k+1)·L − 1` (the long-run rate is exactly `L/W`). It never
//!   refuses a client that keeps at most `L` in every sliding window of `W`, nor a client at a
//!   steady `L/W`. Unlike a fixed window it never admits `2L` in a short instant: just after a
//!   full burst only `d·L/W` more pass in the next `d`.
//! * [`Burst::Strict`] (`C = 1`): at most `L` in *every* sliding window of length `W`
//!   (half-open); a client at a steady `L/W` (requests `≥ W/L` apart) is never refused, but two
//!   requests closer than `W/L` are (no burst at all).
//!
//! No algorithm with constant state gives both "at most `L` in every sliding window" and "a burst
//! of `L` passes"; that needs a log of arrivals. Pick the mode per deployment.
//!
//! A token request whose estimate exceeds `C` passes only when the bucket is empty and then
//! pushes TAT `n·T` ahead (so an oversized `max_tokens` does not lock a scope out forever but still
//! pays its full cost).
//!
//! Retry-After is the exact wait until the same request would pass that limit. [`RateInfo`] for
//! the OpenAI `x-ratelimit-*-requests` headers describes the tightest request limit (fewest
//! remaining): `remaining = ⌊(C·T − level)/T⌋`, `reset` = time until the bucket is empty.
//!
//! # Budgets: reserve, then settle
//!
//! A ledger per (scope, `cost|tokens`, [`Period`]) keeps `spent` and `reserved` in ledger units
//! (nano-dollars or tokens, [`UsageLimit::limit_units`]). Admission refuses when
//! `spent + reserved ≥ limit` (nothing left: Portkey refuses only an exhausted budget, so an
//! estimate larger than the remainder still passes), else reserves the estimate, which holds the
//! remainder against concurrent requests. Settle does `reserved −= estimate; spent += actual` in
//! the period the reservation was made in, and reports each [`Crossing`] (alert threshold,
//! exhaustion) exactly once per period per scope. Overshoot is therefore bounded by what was in
//! flight: `spent` passes `limit` only by what requests admitted while something was left used
//! beyond it.
//!
//! # Durability
//!
//! Spend survives a restart through the gateway's database: [`Limiter::seed`] hands a fresh
//! limiter the stored spend of a (scope, kind, period) — used only when the limiter has no live
//! ledger for it (SET-NX semantics) — and [`Limiter::drain`] returns the settled spend since the
//! last drain as additive deltas for a write-behind writer (call it on a timer and at shutdown;
//! apply each as `spent = spent + delta`).
//!
//! # Backends
//!
//! [`InProcessLimiter`] (single node, a few hundred ns per admission) and [`RedisLimiter`]
//! (several replicas share limits; one Lua script call per admission).

mod clock;
mod gcra;
mod local;
mod period;
mod redis_backend;
mod sink;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

pub use portcullis_core::limits::{
    NANOS_PER_USD, PeriodicReset, RateKind, RateLimit, RateUnit, UsageKind, UsageLimit,
};
use serde::{Deserialize, Serialize};

pub use clock::{Clock, SystemClock, TestClock};
pub use local::InProcessLimiter;
pub use period::{BadPeriod, Period};
pub use redis_backend::{RedisConfig, RedisLimiter};

/// What kind of entity a limit belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeKind {
    ApiKey,
    Workspace,
    Integration,
    Provider,
    VirtualKey,
    /// The end user (`_user` metadata).
    User,
    /// A usage-limit or rate-limit policy (id = policy id plus its group-by values).
    Policy,
}

impl ScopeKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            ScopeKind::ApiKey => "api_key",
            ScopeKind::Workspace => "workspace",
            ScopeKind::Integration => "integration",
            ScopeKind::Provider => "provider",
            ScopeKind::VirtualKey => "virtual_key",
            ScopeKind::User => "user",
            ScopeKind::Policy => "policy",
        }
    }
}

/// One entity whose limits apply to a request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Scope {
    pub kind: ScopeKind,
    pub id: String,
}

impl Scope {
    pub fn new(kind: ScopeKind, id: impl Into<String>) -> Self {
        Scope {
            kind,
            id: id.into(),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.as_str(), self.id)
    }
}

/// Every limit that applies to one request. Duplicates of the same (scope, kind, unit) rate
/// limit or (scope, kind) budget are merged, keeping the tightest.
#[derive(Debug, Clone, Default)]
pub struct Limits {
    pub rate: Vec<(Scope, RateLimit)>,
    pub budgets: Vec<(Scope, UsageLimit)>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self.rate.is_empty() && self.budgets.is_empty()
    }
}

/// What the gateway expects a request to use, before the call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Estimate {
    /// Charged against token rate limits and token budgets (e.g. prompt estimate + max_tokens).
    pub tokens: u64,
    /// Reserved against cost budgets (nano-dollars; negative counts as 0).
    pub cost_nanos: i64,
}

/// What a request actually used, after the call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Actual {
    pub tokens: u64,
    /// Nano-dollars; negative counts as 0.
    pub cost_nanos: i64,
}

/// Burst capacity of the GCRA rate limits (see the crate docs for the exact bounds).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Burst {
    /// Capacity `L`: a full window's worth may pass at once; ≤ `2L − 1` in any window `W`.
    #[default]
    Window,
    /// Capacity 1: ≤ `L` in every sliding window `W`; no bursts.
    Strict,
}

/// Why a request was not admitted. Nothing was charged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Refusal {
    /// HTTP 429. `retry_after` is the wait until this request would pass this limit (the
    /// longest wait among the refusing rate limits).
    #[error("rate limit exceeded for {scope}")]
    RateLimited {
        scope: Scope,
        limit: RateLimit,
        retry_after: Duration,
    },
    /// HTTP 412. A budget of `scope` is used up (spent plus in flight). Reported before any rate
    /// refusal.
    #[error("usage limit exceeded for {scope}")]
    BudgetExhausted { scope: Scope, limit: UsageLimit },
    /// HTTP 503. Only from a backend configured to fail closed (Redis unreachable).
    #[error("limiter unavailable: {reason}")]
    Unavailable { reason: String },
}

impl Refusal {
    /// The HTTP status the gateway should answer with.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::RateLimited { .. } => 429,
            Refusal::BudgetExhausted { .. } => 412,
            Refusal::Unavailable { .. } => 503,
        }
    }

    pub fn scope(&self) -> Option<&Scope> {
        match self {
            Refusal::RateLimited { scope, .. } | Refusal::BudgetExhausted { scope, .. } => {
                Some(scope)
            }
            Refusal::Unavailable { .. } => None,
        }
    }
}

/// The state of the tightest rate limit of one kind after admission, for `x-ratelimit-*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateInfo {
    /// The limit's `value` (units per window).
    pub limit: u64,
    /// Units that would still pass right now.
    pub remaining: u64,
    /// Time until the limit is back to its initial state (bucket empty).
    pub reset: Duration,
}

impl RateInfo {
    /// `reset` in OpenAI's format: `20ms`, `1s`, `1.5s`, `6m0s`, `1h2m3s`.
    pub fn reset_header(&self) -> String {
        format_reset(self.reset)
    }
}

/// Formats a duration as OpenAI's `x-ratelimit-reset-*` headers do (Go duration style, rounded
/// up to the millisecond).
pub fn format_reset(d: Duration) -> String {
    let ms = d.as_micros().div_ceil(1_000);
    if ms == 0 {
        return "0s".into();
    }
    if ms < 1_000 {
        return format!("{ms}ms");
    }
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, frac) = (rest / 1_000, rest % 1_000);
    let secs = if frac == 0 {
        format!("{s}s")
    } else {
        let f = format!("{frac:03}");
        format!("{s}.{}s", f.trim_end_matches('0'))
    };
    if h > 0 {
        format!("{h}h{m}m{secs}")
    } else if m > 0 {
        format!("{m}m{secs}")
    } else {
        secs
    }
}

/// A request that passed admission.
#[derive(Debug)]
pub struct Admitted {
    /// Hand back to [`Limiter::settle`] or [`Limiter::release`].
    pub reservation: Reservation,
    /// Tightest request-rate limit, for `x-ratelimit-{limit,remaining,reset}-requests`.
    pub requests: Option<RateInfo>,
    /// Tightest token-rate limit, for `x-ratelimit-{limit,remaining,reset}-tokens`.
    pub tokens: Option<RateInfo>,
}

impl Admitted {
    /// The OpenAI-style rate-limit headers (empty when no rate limit applied).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = Vec::new();
        if let Some(r) = self.requests {
            h.push(("x-ratelimit-limit-requests", r.limit.to_string()));
            h.push(("x-ratelimit-remaining-requests", r.remaining.to_string()));
            h.push(("x-ratelimit-reset-requests", r.reset_header()));
        }
        if let Some(t) = self.tokens {
            h.push(("x-ratelimit-limit-tokens", t.limit.to_string()));
            h.push(("x-ratelimit-remaining-tokens", t.remaining.to_string()));
            h.push(("x-ratelimit-reset-tokens", t.reset_header()));
        }
        h
    }
}

/// What was charged at admission, to be settled or released exactly once. Dropping it without
/// either (a panic, or a client disconnect cancelling the handler after the provider was called)
/// conservatively settles it with `actual = estimate`: the estimate is counted as spent (and
/// drained), token-rate cells keep the estimate, and crossings are not reported. In Redis this
/// runs on a spawned task; without a runtime the reservation's lease expires instead.
#[derive(Debug)]
pub struct Reservation {
    pub(crate) inner: Option<ReservationInner>,
    pub(crate) estimate: Estimate,
}

#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "the in-process holds stay inline: no allocation per admission on the hot path"
)]
pub(crate) enum ReservationInner {
    Local(local::LocalReservation),
    Redis(Box<redis_backend::RedisReservation>),
}

impl Reservation {
    pub(crate) fn empty(estimate: Estimate) -> Self {
        Reservation {
            inner: None,
            estimate,
        }
    }

    /// The estimate it was admitted with.
    pub fn estimate(&self) -> Estimate {
        self.estimate
    }

    /// The budget ledgers this reservation holds: (scope, kind, period, reserved units).
    pub fn budgets(&self) -> Vec<(Scope, UsageKind, Period, i64)> {
        match &self.inner {
            None => Vec::new(),
            Some(ReservationInner::Local(l)) => l.budgets(),
            Some(ReservationInner::Redis(r)) => r.budgets(),
        }
    }

    /// Whether nothing needs settling (no token limit or budget applied).
    pub fn is_empty(&self) -> bool {
        match &self.inner {
            None => true,
            Some(ReservationInner::Local(l)) => l.is_empty(),
            Some(ReservationInner::Redis(r)) => r.is_empty(),
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        match self.inner.take() {
            None => {}
            Some(ReservationInner::Local(l)) => local::charge_estimate(l),
            Some(ReservationInner::Redis(r)) => redis_backend::charge_on_drop(*r, self.estimate),
        }
    }
}

/// Which line a settle crossed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrossingKind {
    /// `spent` reached the alert threshold (was below it before this settle).
    AlertThreshold,
    /// `spent` reached the credit limit (was below it before this settle).
    Exhausted,
}

/// A budget line crossed at settle; reported once per (scope, kind, period, crossing kind).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crossing {
    pub scope: Scope,
    pub usage: UsageKind,
    pub kind: CrossingKind,
    /// Spend after the settle, ledger units (nano-dollars or tokens).
    pub spent: i64,
    /// The line crossed (alert threshold or credit limit), ledger units.
    pub threshold: i64,
    /// The credit limit, ledger units.
    pub limit: i64,
    pub period: Period,
}

/// Settled spend of one ledger since the last [`Limiter::drain`]; add it to the stored spend.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendDelta {
    pub scope: Scope,
    pub usage: UsageKind,
    pub period: Period,
    /// Ledger units (nano-dollars or tokens).
    pub delta: i64,
}

/// A boxed, sendable future (keeps [`Limiter`] object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The limiter behind admit/settle. Hold it as `Arc<dyn Limiter>`.
pub trait Limiter: Send + Sync {
    /// Atomically checks every rate limit and budget in `limits` and, only if all pass, charges
    /// them all. Nothing is charged on refusal.
    fn admit<'a>(
        &'a self,
        limits: &'a Limits,
        estimate: Estimate,
    ) -> BoxFuture<'a, Result<Admitted, Refusal>>;

    /// Replaces the estimate by the actual usage; returns the budget lines this crossed.
    /// Call it off the response path (e.g. in the logging task).
    fn settle(&self, reservation: Reservation, actual: Actual) -> BoxFuture<'_, Vec<Crossing>>;

    /// Gives back everything the reservation holds except request-rate cells (the provider was
    /// never called).
    fn release(&self, reservation: Reservation) -> BoxFuture<'_, ()>;

    /// The stored spend of a ledger, e.g. loaded from the database at startup (or re-read
    /// later). Used only when the limiter has no live ledger for it; a live one wins.
    fn seed(&self, scope: &Scope, usage: UsageKind, period: Period, spent: i64);

    /// Takes the spend settled by this instance since the last drain, coalesced per ledger.
    fn drain(&self) -> Vec<SpendDelta>;
}

/// The estimate in a budget's ledger units.
pub(crate) fn units(kind: UsageKind, tokens: u64, cost_nanos: i64) -> i64 {
    match kind {
        UsageKind::Cost => cost_nanos.max(0),
        UsageKind::Tokens => i64::try_from(tokens).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_format() {
        let f = |ms: u64| format_reset(Duration::from_millis(ms));
        assert_eq!(f(0), "0s");
        assert_eq!(f(20), "20ms");
        assert_eq!(f(1_000), "1s");
        assert_eq!(f(1_500), "1.5s");
        assert_eq!(f(360_000), "6m0s");
        assert_eq!(f(3_723_000), "1h2m3s");
        assert_eq!(format_reset(Duration::from_micros(1)), "1ms");
    }
}
