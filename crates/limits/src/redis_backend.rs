//! Redis backend: several gateway replicas share limits.
//!
//! Exactly one Redis round trip per admission: one Lua script (`lua/admit.lua`, called with
//! EVALSHA, falling back to EVAL on NOSCRIPT) checks every rate limit and budget of the request
//! and applies all charges only if all pass. Time is `redis.call('TIME')`, so replicas agree.
//! Settle and release are one more script call (`lua/settle.lua`), off the response path.
//!
//! # Key layout
//!
//! `P` is [`RedisConfig::prefix`]; `scope` is `<scope kind>:<scope id>` (the id is last or
//! followed only by a colon-free period label, so keys cannot collide).
//!
//! | key | type | content | expiry |
//! |---|---|---|---|
//! | `P r:<q\|t>:<rps\|rpm\|rph\|rpd>:<scope>` | string | GCRA TAT, µs since the epoch (`q` requests, `t` tokens) | when the bucket is empty + `rate_margin` |
//! | `P b:<c\|t>:<scope>:<period>` | hash | `s` spent, `r` reserved (ledger units: nano-dollars for `c` cost, tokens for `t`), `a`/`x` alert/exhausted already reported | period end + `budget_margin`; `all` (no reset) never |
//! | `P l:<c\|t>:<scope>:<period>` | zset | in-flight reservations `<reservation id>:<estimate>`, score = lease deadline µs | with its budget key; deleted by Redis when empty |
//!
//! `<period>` is `all`, `dYYYY-MM-DD`, `wYYYY-MM-DD` (the Sunday) or `mYYYY-MM` ([`Period`]),
//! followed by `@<unix ms>` once the budget's usage was reset inside that period (new keys, so
//! the budget starts from zero).
//! A budget key is created on first use from the seed handed to [`Limiter::seed`] when the seed's
//! period is the current one (SET-NX semantics inside the script), else from 0.
//!
//! Leases: a reservation that is never settled (its replica died) is given back by the next
//! admission after [`RedisConfig::lease`]; a settle arriving after that still adds the spend but
//! does not give the reservation back twice.
//!
//! Redis Cluster: the script touches keys derived inside it, so all keys must live in one slot;
//! use a hash-tagged prefix such as `{portcullis}:`. Lua numbers are doubles: exact up to 2^53
//! (budgets up to ~$9M in nano-dollars); GCRA comparisons allow 1 µs of rounding.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use portcullis_core::limits::{
    PeriodicReset, RateKind, RateLimit, RateUnit, UsageKind, UsageLimit,
};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, RedisResult, Script, Value};
use smallvec::SmallVec;

use crate::sink::{DeltaSink, Seeds};
use crate::{
    Actual, Admitted, BoxFuture, Burst, Clock, Crossing, CrossingKind, Estimate, Limiter, Limits,
    Period, RateInfo, Refusal, Reservation, ReservationInner, Scope, SpendDelta, SystemClock,
    units,
};

const COMMON: &str = include_str!("../lua/common.lua");
const ADMIT: &str = include_str!("../lua/admit.lua");
const SETTLE: &str = include_str!("../lua/settle.lua");

/// Settings of the Redis backend.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// Prepended to every key (e.g. `portcullis:`; `{portcullis}:` for Redis Cluster).
    pub prefix: String,
    pub burst: Burst,
    /// How long a reservation may stay unsettled before another admission gives it back.
    /// Longer than the longest request (streams included).
    pub lease: Duration,
    /// Kept after a rate bucket empties.
    pub rate_margin: Duration,
    /// Kept after a budget period ends (late settles still land in the right ledger).
    pub budget_margin: Duration,
    /// Admit without limits when Redis cannot be reached (spend is still recorded for
    /// [`Limiter::drain`]); otherwise refuse with [`Refusal::Unavailable`].
    pub fail_open: bool,
    pub response_timeout: Duration,
    pub connection_timeout: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            prefix: "portcullis:".into(),
            burst: Burst::Window,
            lease: Duration::from_secs(15 * 60),
            rate_margin: Duration::from_secs(1),
            budget_margin: Duration::from_secs(3_600),
            fail_open: true,
            response_timeout: Duration::from_secs(1),
            connection_timeout: Duration::from_secs(2),
        }
    }
}

struct RShared {
    conn: ConnectionManager,
    cfg: RedisConfig,
    admit: Script,
    admit_src: String,
    settle: Script,
    settle_src: String,
    replica: String,
    counter: AtomicU64,
    seeds: Seeds,
    deltas: DeltaSink,
    /// Added to Redis time (tests only).
    shift_us: AtomicI64,
}

/// The Redis-backed limiter. Cheap to clone (clones share the connection and the state).
#[derive(Clone)]
pub struct RedisLimiter {
    s: Arc<RShared>,
}

impl fmt::Debug for RedisLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisLimiter")
            .field("prefix", &self.s.cfg.prefix)
            .field("replica", &self.s.replica)
            .finish()
    }
}

struct RateHold {
    key: String,
    l: u64,
    w_us: u64,
}

struct BudgetHold {
    scope: Scope,
    usage: UsageKind,
    period: Period,
    key: String,
    lkey: String,
    est: i64,
    limit: i64,
    alert: Option<i64>,
    end_us: u64,
}

/// What a Redis admission holds.
pub(crate) struct RedisReservation {
    s: Arc<RShared>,
    member: String,
    rates: SmallVec<[RateHold; 2]>,
    budgets: SmallVec<[BudgetHold; 4]>,
    /// Admitted while Redis was unreachable (fail open): nothing to give back, spend still
    /// recorded.
    degraded: bool,
}

impl fmt::Debug for RedisReservation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisReservation")
            .field("member", &self.member)
            .field("token_limits", &self.rates.len())
            .field(
                "budgets",
                &self.budgets.iter().map(|b| &b.key).collect::<Vec<_>>(),
            )
            .field("degraded", &self.degraded)
            .finish()
    }
}

impl RedisReservation {
    pub(crate) fn budgets(&self) -> Vec<(Scope, UsageKind, Period, i64)> {
        self.budgets
            .iter()
            .map(|b| (b.scope.clone(), b.usage, b.period, b.est))
            .collect()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rates.is_empty() && self.budgets.is_empty()
    }
}

/// `Drop` of an unsettled reservation: settle it with `actual = estimate` (see [`Reservation`])
/// on a spawned task when a Tokio runtime is around; otherwise its lease expires in Redis.
pub(crate) fn charge_on_drop(r: RedisReservation, est: Estimate) {
    let actual = Actual {
        tokens: est.tokens,
        cost_nanos: est.cost_nanos,
    };
    for b in &r.budgets {
        r.s.deltas.add(&b.scope, b.usage, b.period, b.est);
    }
    if r.degraded || r.is_empty() {
        return;
    }
    if let Ok(h) = tokio::runtime::Handle::try_current() {
        h.spawn(async move {
            let s = Arc::clone(&r.s);
            if let Err(e) = settle_call(&s, &r, est, actual, false).await {
                tracing::warn!(error = %e, "limits: settling a dropped reservation failed");
            }
        });
    }
}

fn rate_letter(k: RateKind) -> &'static str {
    match k {
        RateKind::Requests => "q",
        RateKind::Tokens => "t",
    }
}

fn unit_str(u: RateUnit) -> &'static str {
    match u {
        RateUnit::Rps => "rps",
        RateUnit::Rpm => "rpm",
        RateUnit::Rph => "rph",
        RateUnit::Rpd => "rpd",
    }
}

fn usage_letter(u: UsageKind) -> &'static str {
    match u {
        UsageKind::Cost => "c",
        UsageKind::Tokens => "t",
    }
}

fn reset_letter(r: PeriodicReset) -> &'static str {
    match r {
        PeriodicReset::None => "n",
        PeriodicReset::Daily => "d",
        PeriodicReset::Weekly => "w",
        PeriodicReset::Monthly => "m",
    }
}

fn int(v: &Value) -> Option<i64> {
    match v {
        Value::Int(i) => Some(*i),
        Value::BulkString(b) => std::str::from_utf8(b).ok()?.parse().ok(),
        Value::SimpleString(s) => s.parse().ok(),
        Value::Double(d) => Some(*d as i64),
        _ => None,
    }
}

fn text(v: &Value) -> Option<&str> {
    match v {
        Value::BulkString(b) => std::str::from_utf8(b).ok(),
        Value::SimpleString(s) => Some(s),
        _ => None,
    }
}

fn bad_reply(what: &str) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::UnexpectedReturnType,
        "unexpected limiter script reply",
        what.to_string(),
    ))
}

async fn eval(
    s: &RShared,
    script: &Script,
    src: &str,
    keys: &[String],
    args: &[String],
) -> RedisResult<Value> {
    let build = |name: &str, first: &str| {
        let mut c = Cmd::new();
        c.arg(name).arg(first).arg(keys.len()).arg(keys).arg(args);
        c
    };
    let mut conn = s.conn.clone();
    match build("EVALSHA", script.get_hash())
        .query_async::<Value>(&mut conn)
        .await
    {
        Err(e) if e.code() == Some("NOSCRIPT") => {
            // EVAL also caches the script for the next EVALSHA.
            build("EVAL", src).query_async::<Value>(&mut conn).await
        }
        r => r,
    }
}

async fn settle_call(
    s: &RShared,
    r: &RedisReservation,
    est: Estimate,
    actual: Actual,
    release: bool,
) -> RedisResult<Vec<Crossing>> {
    let nr = r.rates.len();
    let nb = r.budgets.len();
    let mut keys = Vec::with_capacity(nr + 2 * nb);
    keys.extend(r.rates.iter().map(|h| h.key.clone()));
    keys.extend(r.budgets.iter().map(|b| b.key.clone()));
    keys.extend(r.budgets.iter().map(|b| b.lkey.clone()));
    let mut args = Vec::with_capacity(6 + 3 * nr + 5 * nb);
    args.push(nr.to_string());
    args.push(nb.to_string());
    args.push(r.member.clone());
    args.push(s.cfg.rate_margin.as_millis().to_string());
    args.push(s.cfg.budget_margin.as_millis().to_string());
    args.push(s.shift_us.load(Ordering::Relaxed).to_string());
    let delta = if release {
        -i128::from(est.tokens)
    } else {
        i128::from(actual.tokens) - i128::from(est.tokens)
    };
    for h in &r.rates {
        args.push(h.l.to_string());
        args.push(h.w_us.to_string());
        args.push(delta.to_string());
    }
    for b in &r.budgets {
        let spend = if release {
            0
        } else {
            units(b.usage, actual.tokens, actual.cost_nanos)
        };
        args.push(b.est.to_string());
        args.push(spend.to_string());
        args.push(b.limit.to_string());
        args.push(b.alert.unwrap_or(-1).to_string());
        args.push(b.end_us.to_string());
    }
    let reply = eval(s, &s.settle, &s.settle_src, &keys, &args).await?;
    let Value::Array(items) = reply else {
        return Err(bad_reply("settle: not an array"));
    };
    let mut out = Vec::new();
    for c in items.chunks(3) {
        let [j, kind, spent] = c else {
            return Err(bad_reply("settle: odd crossing list"));
        };
        let j = int(j).ok_or_else(|| bad_reply("settle: index"))? as usize;
        let b = r
            .budgets
            .get(j.wrapping_sub(1))
            .ok_or_else(|| bad_reply("settle: index range"))?;
        let (kind, threshold) = match text(kind) {
            Some("a") => (CrossingKind::AlertThreshold, b.alert.unwrap_or(b.limit)),
            _ => (CrossingKind::Exhausted, b.limit),
        };
        out.push(Crossing {
            scope: b.scope.clone(),
            usage: b.usage,
            kind,
            spent: int(spent).unwrap_or(0),
            threshold,
            limit: b.limit,
            period: b.period,
        });
    }
    Ok(out)
}

impl RedisLimiter {
    /// Connects to `url` (`redis://…`) with a [`ConnectionManager`] (reconnects on its own) and
    /// loads the scripts. Fails when Redis cannot be reached.
    pub async fn connect(url: &str, cfg: RedisConfig) -> RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let conn = ConnectionManager::new_with_config(client, Self::manager_config(&cfg)).await?;
        let me = Self::new(conn, cfg);
        me.load_scripts().await?;
        Ok(me)
    }

    /// Like [`connect`](Self::connect) but without talking to Redis yet: the connection is
    /// made on first use and the scripts are sent with EVAL on the first NOSCRIPT. Lets the
    /// gateway start while Redis is down (admissions then follow [`RedisConfig::fail_open`]).
    /// Needs a Tokio runtime.
    pub fn connect_lazy(url: &str, cfg: RedisConfig) -> RedisResult<Self> {
        let client = redis::Client::open(url)?;
        let conn = ConnectionManager::new_lazy_with_config(client, Self::manager_config(&cfg))?;
        Ok(Self::new(conn, cfg))
    }

    /// Uses an existing connection manager; loads the scripts once.
    pub async fn with_connection(conn: ConnectionManager, cfg: RedisConfig) -> RedisResult<Self> {
        let me = Self::new(conn, cfg);
        me.load_scripts().await?;
        Ok(me)
    }

    fn manager_config(cfg: &RedisConfig) -> ConnectionManagerConfig {
        ConnectionManagerConfig::new()
            .set_response_timeout(Some(cfg.response_timeout))
            .set_connection_timeout(Some(cfg.connection_timeout))
            .set_number_of_retries(2)
    }

    fn new(conn: ConnectionManager, cfg: RedisConfig) -> Self {
        let admit_src = format!("{COMMON}\n{ADMIT}");
        let settle_src = format!("{COMMON}\n{SETTLE}");
        RedisLimiter {
            s: Arc::new(RShared {
                conn,
                admit: Script::new(&admit_src),
                settle: Script::new(&settle_src),
                admit_src,
                settle_src,
                cfg,
                replica: format!("{:016x}", rand::random::<u64>()),
                counter: AtomicU64::new(0),
                seeds: Seeds::default(),
                deltas: DeltaSink::default(),
                shift_us: AtomicI64::new(0),
            }),
        }
    }

    /// `SCRIPT LOAD`s both scripts (EVALSHA then finds them; EVAL is the fallback anyway).
    pub async fn load_scripts(&self) -> RedisResult<()> {
        let mut c = self.s.conn.clone();
        for src in [&self.s.admit_src, &self.s.settle_src] {
            redis::cmd("SCRIPT")
                .arg("LOAD")
                .arg(src.as_str())
                .query_async::<String>(&mut c)
                .await?;
        }
        Ok(())
    }

    pub fn config(&self) -> &RedisConfig {
        &self.s.cfg
    }

    /// Shifts the time the scripts use (Redis `TIME` + `us`). For tests that need to move time.
    #[doc(hidden)]
    pub fn debug_shift_time_us(&self, us: i64) {
        self.s.shift_us.store(us, Ordering::Relaxed);
    }

    fn rate_key(&self, scope: &Scope, l: &RateLimit) -> String {
        format!(
            "{}r:{}:{}:{}:{}",
            self.s.cfg.prefix,
            rate_letter(l.kind),
            unit_str(l.unit),
            scope.kind.as_str(),
            scope.id
        )
    }

    fn budget_base(&self, tag: &str, scope: &Scope, u: UsageKind) -> String {
        format!(
            "{}{tag}:{}:{}:{}",
            self.s.cfg.prefix,
            usage_letter(u),
            scope.kind.as_str(),
            scope.id
        )
    }

    /// [`Limiter::admit`] as an inherent async fn.
    pub async fn admit_async(&self, limits: &Limits, est: Estimate) -> Result<Admitted, Refusal> {
        if limits.is_empty() {
            return Ok(Admitted {
                reservation: Reservation::empty(est),
                requests: None,
                tokens: None,
            });
        }
        let s = &*self.s;
        // Merge duplicates (same key), keeping the tightest limit.
        let mut rates: SmallVec<[(String, &Scope, RateLimit); 8]> = SmallVec::new();
        for (scope, l) in &limits.rate {
            let key = self.rate_key(scope, l);
            match rates.iter_mut().find(|(k, ..)| *k == key) {
                Some(e) if l.value < e.2.value => e.2 = *l,
                Some(_) => {}
                None => rates.push((key, scope, *l)),
            }
        }
        let mut budgets: SmallVec<[(String, &Scope, UsageLimit); 8]> = SmallVec::new();
        for (scope, l) in &limits.budgets {
            let key = self.budget_base("b", scope, l.kind);
            match budgets.iter_mut().find(|(k, ..)| *k == key) {
                Some(e) if l.limit_units() < e.2.limit_units() => e.2 = *l,
                Some(_) => {}
                None => budgets.push((key, scope, *l)),
            }
        }
        let nr = rates.len();
        let nb = budgets.len();
        let member = format!(
            "{}.{}",
            s.replica,
            s.counter.fetch_add(1, Ordering::Relaxed)
        );
        let mut keys: Vec<String> = Vec::with_capacity(nr + 2 * nb);
        keys.extend(rates.iter().map(|r| r.0.clone()));
        keys.extend(budgets.iter().map(|b| b.0.clone()));
        keys.extend(budgets.iter().map(|b| self.budget_base("l", b.1, b.2.kind)));
        let mut args: Vec<String> = Vec::with_capacity(8 + 3 * nr + 7 * nb);
        args.push(nr.to_string());
        args.push(nb.to_string());
        args.push(
            match s.cfg.burst {
                Burst::Window => "w",
                Burst::Strict => "s",
            }
            .into(),
        );
        args.push(s.cfg.lease.as_micros().to_string());
        args.push(member.clone());
        args.push(s.cfg.rate_margin.as_millis().to_string());
        args.push((s.cfg.budget_margin + s.cfg.lease).as_millis().to_string());
        args.push(s.shift_us.load(Ordering::Relaxed).to_string());
        for (_, _, l) in &rates {
            let n = match l.kind {
                RateKind::Requests => 1,
                RateKind::Tokens => est.tokens,
            };
            args.push(l.value.to_string());
            args.push((l.unit.window_ms() * 1_000).to_string());
            args.push(n.to_string());
        }
        let mut ests: SmallVec<[i64; 8]> = SmallVec::new();
        for (_, scope, l) in &budgets {
            let e = units(l.kind, est.tokens, est.cost_nanos);
            ests.push(e);
            args.push(reset_letter(l.periodic_reset).into());
            args.push(l.limit_units().to_string());
            args.push(l.alert_units().unwrap_or(-1).to_string());
            args.push(e.to_string());
            match s.seeds.get(scope, l.kind) {
                Some((p, spent)) => {
                    args.push(p.to_string());
                    args.push(spent.to_string());
                }
                None => {
                    args.push(String::new());
                    args.push("0".into());
                }
            }
            args.push(l.reset_at.unwrap_or(0).max(0).to_string());
        }

        let reply = match eval(s, &s.admit, &s.admit_src, &keys, &args).await {
            Ok(v) => v,
            Err(e) => return self.unavailable(e, &budgets, &ests, est),
        };
        let Value::Array(items) = reply else {
            return self.unavailable(bad_reply("admit: not an array"), &budgets, &ests, est);
        };
        match items.first().and_then(int) {
            Some(1) => {}
            Some(0) => {
                let idx = items.get(2).and_then(int).unwrap_or(1).max(1) as usize - 1;
                return Err(match items.get(1).and_then(text) {
                    Some("b") => {
                        let (_, scope, limit) = &budgets[idx.min(nb - 1)];
                        Refusal::BudgetExhausted {
                            scope: (*scope).clone(),
                            limit: *limit,
                        }
                    }
                    _ => {
                        let (_, scope, limit) = &rates[idx.min(nr.saturating_sub(1))];
                        let wait = items.get(3).and_then(int).unwrap_or(0).max(0) as u64;
                        Refusal::RateLimited {
                            scope: (*scope).clone(),
                            limit: *limit,
                            retry_after: Duration::from_micros(wait),
                        }
                    }
                });
            }
            _ => {
                return self.unavailable(bad_reply("admit: status"), &budgets, &ests, est);
            }
        }
        if items.len() != 2 + 2 * nb + 2 * nr {
            return self.unavailable(bad_reply("admit: length"), &budgets, &ests, est);
        }

        let mut res = RedisReservation {
            s: Arc::clone(&self.s),
            member,
            rates: SmallVec::new(),
            budgets: SmallVec::new(),
            degraded: false,
        };
        for (j, ((base, scope, l), e)) in budgets.iter().zip(&ests).enumerate() {
            let label = text(&items[2 + 2 * j]).unwrap_or("all");
            let period: Period = label.parse().unwrap_or(Period::LIFETIME);
            let end_us = int(&items[3 + 2 * j]).unwrap_or(0).max(0) as u64;
            res.budgets.push(BudgetHold {
                scope: (*scope).clone(),
                usage: l.kind,
                period,
                key: format!("{base}:{label}"),
                lkey: format!("{}:{label}", keys[nr + nb + j]),
                est: *e,
                limit: l.limit_units(),
                alert: l.alert_units(),
                end_us,
            });
        }
        let mut requests: Option<RateInfo> = None;
        let mut tokens: Option<RateInfo> = None;
        let off = 2 + 2 * nb;
        for (i, (key, _, l)) in rates.iter().enumerate() {
            let info = RateInfo {
                limit: l.value,
                remaining: int(&items[off + 2 * i]).unwrap_or(0).max(0) as u64,
                reset: Duration::from_micros(
                    int(&items[off + 2 * i + 1]).unwrap_or(0).max(0) as u64
                ),
            };
            let slot = match l.kind {
                RateKind::Requests => &mut requests,
                RateKind::Tokens => {
                    res.rates.push(RateHold {
                        key: key.clone(),
                        l: l.value,
                        w_us: l.unit.window_ms() * 1_000,
                    });
                    &mut tokens
                }
            };
            if slot.is_none_or(|cur| (info.remaining, info.limit) < (cur.remaining, cur.limit)) {
                *slot = Some(info);
            }
        }
        Ok(Admitted {
            reservation: Reservation {
                inner: (!res.is_empty()).then_some(ReservationInner::Redis(Box::new(res))),
                estimate: est,
            },
            requests,
            tokens,
        })
    }

    fn unavailable(
        &self,
        e: redis::RedisError,
        budgets: &[(String, &Scope, UsageLimit)],
        ests: &[i64],
        est: Estimate,
    ) -> Result<Admitted, Refusal> {
        if !self.s.cfg.fail_open {
            tracing::warn!(error = %e, "limits: Redis unavailable, refusing (fail closed)");
            return Err(Refusal::Unavailable {
                reason: e.to_string(),
            });
        }
        tracing::warn!(error = %e, "limits: Redis unavailable, admitting without limits (fail open)");
        let now = SystemClock.now_us();
        let res = RedisReservation {
            s: Arc::clone(&self.s),
            member: String::new(),
            rates: SmallVec::new(),
            budgets: budgets
                .iter()
                .zip(ests)
                .map(|((_, scope, l), e)| BudgetHold {
                    scope: (*scope).clone(),
                    usage: l.kind,
                    period: Period::of_limit(l, now),
                    key: String::new(),
                    lkey: String::new(),
                    est: *e,
                    limit: l.limit_units(),
                    alert: l.alert_units(),
                    end_us: 0,
                })
                .collect(),
            degraded: true,
        };
        Ok(Admitted {
            reservation: Reservation {
                inner: (!res.is_empty()).then_some(ReservationInner::Redis(Box::new(res))),
                estimate: est,
            },
            requests: None,
            tokens: None,
        })
    }

    /// [`Limiter::settle`] as an inherent async fn. The spend is recorded for [`Limiter::drain`]
    /// even when Redis cannot be reached (the crossings are then lost).
    pub async fn settle_async(
        &self,
        mut reservation: Reservation,
        actual: Actual,
    ) -> Vec<Crossing> {
        let est = reservation.estimate;
        let Some(ReservationInner::Redis(r)) = reservation.inner.take() else {
            return Vec::new();
        };
        for b in &r.budgets {
            let spend = units(b.usage, actual.tokens, actual.cost_nanos);
            self.s.deltas.add(&b.scope, b.usage, b.period, spend);
        }
        if r.degraded {
            return Vec::new();
        }
        match settle_call(&self.s, &r, est, actual, false).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "limits: settle failed; spend kept for the database only");
                Vec::new()
            }
        }
    }

    /// [`Limiter::release`] as an inherent async fn.
    pub async fn release_async(&self, mut reservation: Reservation) {
        let est = reservation.estimate;
        let Some(ReservationInner::Redis(r)) = reservation.inner.take() else {
            return;
        };
        if r.degraded {
            return;
        }
        if let Err(e) = settle_call(&self.s, &r, est, Actual::default(), true).await {
            tracing::warn!(error = %e, "limits: release failed; the lease will expire");
        }
    }
}

impl Limiter for RedisLimiter {
    fn admit<'a>(
        &'a self,
        limits: &'a Limits,
        estimate: Estimate,
    ) -> BoxFuture<'a, Result<Admitted, Refusal>> {
        Box::pin(self.admit_async(limits, estimate))
    }

    fn settle(&self, reservation: Reservation, actual: Actual) -> BoxFuture<'_, Vec<Crossing>> {
        Box::pin(self.settle_async(reservation, actual))
    }

    fn release(&self, reservation: Reservation) -> BoxFuture<'_, ()> {
        Box::pin(self.release_async(reservation))
    }

    fn seed(&self, scope: &Scope, usage: UsageKind, period: Period, spent: i64) {
        self.s.seeds.set(scope, usage, period, spent);
    }

    fn drain(&self) -> Vec<SpendDelta> {
        self.s.deltas.drain()
    }
}
