#![allow(dead_code)]

use std::sync::Arc;

use portcullis_limits::*;

pub fn scope(kind: ScopeKind, id: &str) -> Scope {
    Scope::new(kind, id)
}

pub fn key(id: &str) -> Scope {
    Scope::new(ScopeKind::ApiKey, id)
}

pub fn req(unit: RateUnit, value: u64) -> RateLimit {
    RateLimit {
        kind: RateKind::Requests,
        unit,
        value,
    }
}

pub fn tok(unit: RateUnit, value: u64) -> RateLimit {
    RateLimit {
        kind: RateKind::Tokens,
        unit,
        value,
    }
}

/// A cost budget in USD.
pub fn usd(limit: f64, alert: Option<f64>, reset: PeriodicReset) -> UsageLimit {
    UsageLimit {
        kind: UsageKind::Cost,
        credit_limit: limit,
        alert_threshold: alert,
        periodic_reset: reset,
        reset_at: None,
    }
}

pub fn tokens_budget(limit: u64, reset: PeriodicReset) -> UsageLimit {
    UsageLimit {
        kind: UsageKind::Tokens,
        credit_limit: limit as f64,
        alert_threshold: None,
        periodic_reset: reset,
        reset_at: None,
    }
}

pub fn rate_only(s: &Scope, l: RateLimit) -> Limits {
    Limits {
        rate: vec![(s.clone(), l)],
        budgets: vec![],
    }
}

pub fn budget_only(s: &Scope, l: UsageLimit) -> Limits {
    Limits {
        rate: vec![],
        budgets: vec![(s.clone(), l)],
    }
}

pub fn one() -> Estimate {
    Estimate::default()
}

pub fn cost(nanos: i64) -> Estimate {
    Estimate {
        tokens: 0,
        cost_nanos: nanos,
    }
}

pub fn spend(nanos: i64) -> Actual {
    Actual {
        tokens: 0,
        cost_nanos: nanos,
    }
}

pub const T0: u64 = 1_700_000_000_000_000; // 2023-11-14T22:13:20Z

pub fn limiter(burst: Burst) -> (InProcessLimiter, TestClock) {
    let clock = TestClock::new(T0);
    (InProcessLimiter::new(Arc::new(clock.clone()), burst), clock)
}
