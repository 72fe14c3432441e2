//! Budget and rate-limit definitions in Portkey's JSON shapes, shared by the store, the admin
//! API and the limiter. Money is integer nano-dollars everywhere below the API edge.

use serde::{Deserialize, Serialize};

/// Nano-dollars in one US dollar.
pub const NANOS_PER_USD: i64 = 1_000_000_000;

/// What a rate limit counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateKind {
    Requests,
    Tokens,
}

/// The window of a rate limit (Portkey's units; `rps` is accepted as 2.0 does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RateUnit {
    Rps,
    Rpm,
    Rph,
    Rpd,
}

impl RateUnit {
    pub const fn window_ms(self) -> u64 {
        match self {
            RateUnit::Rps => 1_000,
            RateUnit::Rpm => 60_000,
            RateUnit::Rph => 3_600_000,
            RateUnit::Rpd => 86_400_000,
        }
    }
}

/// `{"type": "requests"|"tokens", "unit": "rpm"|"rph"|"rpd", "value": N}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    #[serde(rename = "type")]
    pub kind: RateKind,
    pub unit: RateUnit,
    /// Requests or tokens per window; 0 blocks everything (Portkey: "value 0 disables").
    pub value: u64,
}

/// What a budget counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UsageKind {
    Cost,
    Tokens,
}

/// When a budget starts over. Weekly resets on Sunday 00:00 UTC, monthly on the 1st (Portkey).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PeriodicReset {
    #[default]
    None,
    Daily,
    Weekly,
    Monthly,
}

/// `{"type": "cost"|"tokens", "credit_limit": N, "alert_threshold": N, "periodic_reset": …}`.
/// `credit_limit` and `alert_threshold` are USD for cost budgets and tokens for token budgets.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageLimit {
    #[serde(rename = "type")]
    pub kind: UsageKind,
    pub credit_limit: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alert_threshold: Option<f64>,
    #[serde(default, skip_serializing_if = "is_none_reset")]
    pub periodic_reset: PeriodicReset,
    /// When the budget's usage was last reset (Portkey's `reset_usage`), unix milliseconds:
    /// spend counts from then. Not part of the limit as clients and the store write it (the
    /// catalog keeps resets beside their owner); the snapshot fills it in for the limiter.
    #[serde(skip)]
    pub reset_at: Option<i64>,
}

fn is_none_reset(r: &PeriodicReset) -> bool {
    *r == PeriodicReset::None
}

impl UsageLimit {
    /// The limit in ledger units: nano-dollars for cost, tokens for tokens.
    pub fn limit_units(&self) -> i64 {
        to_units(self.kind, self.credit_limit)
    }

    pub fn alert_units(&self) -> Option<i64> {
        self.alert_threshold.map(|a| to_units(self.kind, a))
    }

    /// The same limit, its usage last reset at `reset_at` (unix ms).
    pub fn with_reset(mut self, reset_at: Option<i64>) -> UsageLimit {
        self.reset_at = reset_at;
        self
    }

    /// Checks the values a client sent; the message says what to fix.
    pub fn validate(&self) -> Result<(), String> {
        let finite_pos = |v: f64| v.is_finite() && v > 0.0;
        if !finite_pos(self.credit_limit) {
            return Err("usage_limits.credit_limit must be a number above 0".into());
        }
        if let Some(a) = self.alert_threshold
            && (!finite_pos(a) || a > self.credit_limit)
        {
            return Err(
                "usage_limits.alert_threshold must be above 0 and at most credit_limit".into(),
            );
        }
        Ok(())
    }
}

impl RateLimit {
    pub fn validate(&self) -> Result<(), String> {
        if self.value > 1_000_000_000_000 {
            return Err("rate_limits[].value is too large".into());
        }
        Ok(())
    }
}

fn to_units(kind: UsageKind, v: f64) -> i64 {
    match kind {
        UsageKind::Cost => (v * NANOS_PER_USD as f64).round() as i64,
        UsageKind::Tokens => v.round() as i64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_portkey_shapes() {
        let r: RateLimit =
            serde_json::from_value(json!({"type": "requests", "unit": "rpm", "value": 100}))
                .unwrap();
        assert_eq!(r.unit.window_ms(), 60_000);
        let u: UsageLimit = serde_json::from_value(
            json!({"type": "cost", "credit_limit": 10.5, "alert_threshold": 8, "periodic_reset": "monthly"}),
        )
        .unwrap();
        assert_eq!(u.limit_units(), 10_500_000_000);
        assert_eq!(u.alert_units(), Some(8_000_000_000));
        assert!(
            serde_json::from_value::<RateLimit>(
                json!({"type": "requests", "unit": "rpy", "value": 1})
            )
            .is_err()
        );
        assert!(
            serde_json::from_value::<UsageLimit>(
                json!({"type": "cost", "credit_limit": 1, "extra": 1})
            )
            .is_err()
        );
    }

    #[test]
    fn validation_says_what_to_fix() {
        let mut u = UsageLimit {
            kind: UsageKind::Tokens,
            credit_limit: 100.0,
            alert_threshold: Some(200.0),
            periodic_reset: PeriodicReset::None,
            reset_at: None,
        };
        assert!(u.validate().unwrap_err().contains("alert_threshold"));
        u.alert_threshold = None;
        u.credit_limit = -1.0;
        assert!(u.validate().unwrap_err().contains("credit_limit"));
    }
}
