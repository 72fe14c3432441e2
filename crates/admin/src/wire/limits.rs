//! `usage_limits` and `rate_limits` in and out (doc §0.6), checked with core's `validate()`.

use portcullis_core::limits::{
    PeriodicReset, RateKind, RateLimit, RateUnit, UsageKind, UsageLimit,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::body::from_value;
use crate::error::{ApiError, ApiResult};

#[derive(Deserialize)]
struct UsageIn {
    /// Portkey's default when omitted is unconfirmed; `cost` is assumed (doc §11.9).
    #[serde(rename = "type", default)]
    kind: Option<UsageKind>,
    credit_limit: f64,
    #[serde(default)]
    alert_threshold: Option<f64>,
    #[serde(default)]
    periodic_reset: Option<PeriodicReset>,
}

#[derive(Deserialize)]
struct RateIn {
    #[serde(rename = "type", default)]
    kind: Option<RateKind>,
    unit: RateUnit,
    value: u64,
}

/// Parses `v` as `T`, prefixing error paths with `field`.
fn parse_at<T: serde::de::DeserializeOwned>(field: &str, v: Value) -> ApiResult<T> {
    from_value(v).map_err(|e| {
        let path = match e.param.as_deref() {
            Some(p) if p.starts_with('[') => format!("{field}{p}"),
            Some(p) => format!("{field}.{p}"),
            None => field.to_owned(),
        };
        let inner = e.param.as_deref().unwrap_or("");
        let detail = match e.message.strip_prefix(inner) {
            Some(rest) if !inner.is_empty() => rest.trim_start_matches([':', ' ']).to_owned(),
            _ => e
                .message
                .trim_start_matches("invalid request body: ")
                .to_owned(),
        };
        let sep = if detail.starts_with("is ") { " " } else { ": " };
        ApiError::field(&path, format!("{path}{sep}{detail}"))
    })
}

/// One `usage_limits` object.
pub fn usage_one(field: &str, v: Value) -> ApiResult<UsageLimit> {
    if !v.is_object() {
        return Err(ApiError::field(field, format!("{field} must be an object")));
    }
    let u: UsageIn = parse_at(field, v)?;
    let limit = UsageLimit {
        kind: u.kind.unwrap_or(UsageKind::Cost),
        credit_limit: u.credit_limit,
        alert_threshold: u.alert_threshold,
        periodic_reset: u.periodic_reset.unwrap_or_default(),
        reset_at: None,
    };
    limit
        .validate()
        .map_err(|m| ApiError::field(field, m.replacen("usage_limits", field, 1)))?;
    Ok(limit)
}

/// `usage_limits` as an array of at most one (workspaces, integration grants); a bare object is
/// accepted too. `[]` is "none".
pub fn usage_list(field: &str, v: Value) -> ApiResult<Option<UsageLimit>> {
    match v {
        Value::Array(items) if items.len() > 1 => Err(ApiError::field(
            field,
            format!("{field} holds at most one limit"),
        )),
        Value::Array(items) => items
            .into_iter()
            .next()
            .map(|i| usage_one(&format!("{field}[0]"), i))
            .transpose(),
        other => usage_one(field, other).map(Some),
    }
}

/// `rate_limits`: an array, or one object (the Python SDK types it as a dict on providers).
pub fn rates(field: &str, v: Value) -> ApiResult<Vec<RateLimit>> {
    let items = match v {
        Value::Array(items) => items,
        obj @ Value::Object(_) => vec![obj],
        _ => return Err(ApiError::field(field, format!("{field} must be an array"))),
    };
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let at = format!("{field}[{i}]");
            let r: RateIn = parse_at(&at, item)?;
            let limit = RateLimit {
                kind: r.kind.unwrap_or(RateKind::Requests),
                unit: r.unit,
                value: r.value,
            };
            limit
                .validate()
                .map_err(|m| ApiError::field(&at, m.replacen("rate_limits[]", &at, 1)))?;
            Ok(limit)
        })
        .collect()
}

/// A number as Portkey shows it: integral values without a fraction.
pub fn number(v: f64) -> Value {
    if v.fract() == 0.0 && v.abs() < 9.0e15 {
        json!(v as i64)
    } else {
        json!(v)
    }
}

/// One usage limit object, or `null`.
pub fn usage_out(u: &Option<UsageLimit>) -> Value {
    let Some(u) = u else { return Value::Null };
    let mut o = json!({
        "type": match u.kind { UsageKind::Cost => "cost", UsageKind::Tokens => "tokens" },
        "credit_limit": number(u.credit_limit),
    });
    if let Some(a) = u.alert_threshold {
        o["alert_threshold"] = number(a);
    }
    let reset = match u.periodic_reset {
        PeriodicReset::None => None,
        PeriodicReset::Daily => Some("daily"),
        PeriodicReset::Weekly => Some("weekly"),
        PeriodicReset::Monthly => Some("monthly"),
    };
    if let Some(r) = reset {
        o["periodic_reset"] = json!(r);
    }
    o
}

/// Usage limits as an array of at most one, or `null` (workspaces, grants).
pub fn usage_list_out(u: &Option<UsageLimit>) -> Value {
    match u {
        Some(_) => json!([usage_out(u)]),
        None => Value::Null,
    }
}

/// Rate limits as an array (`[]` when none).
pub fn rates_out(r: &[RateLimit]) -> Value {
    serde_json::to_value(r).unwrap_or_else(|_| json!([]))
}

/// Rate limits as an array, or `null` when none (providers, workspaces, grants).
pub fn rates_or_null(r: &[RateLimit]) -> Value {
    if r.is_empty() {
        Value::Null
    } else {
        rates_out(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_shows_portkey_shapes() {
        let u = usage_one(
            "usage_limits",
            json!({"type":"cost","credit_limit":50,"alert_threshold":40,"periodic_reset":"monthly"}),
        )
        .unwrap();
        assert_eq!(
            usage_out(&Some(u)),
            json!({"type":"cost","credit_limit":50,"alert_threshold":40,"periodic_reset":"monthly"})
        );
        let u = usage_list(
            "usage_limits",
            json!([{"credit_limit": 100, "alert_threshold": 80}]),
        )
        .unwrap();
        assert_eq!(u.unwrap().kind, UsageKind::Cost, "type defaults to cost");
        assert_eq!(usage_list("usage_limits", json!([])).unwrap(), None);
        let r = rates(
            "rate_limits",
            json!({"type":"requests","unit":"rpm","value":100}),
        )
        .unwrap();
        assert_eq!(
            rates_out(&r),
            json!([{"type":"requests","unit":"rpm","value":100}])
        );
        assert_eq!(rates_or_null(&[]), Value::Null);
    }

    #[test]
    fn errors_name_the_path() {
        let e = rates(
            "rate_limits",
            json!([{"type":"requests","unit":"rpy","value":1}]),
        )
        .unwrap_err();
        assert_eq!(e.param.as_deref(), Some("rate_limits[0].unit"));
        assert!(
            e.message
                .starts_with("rate_limits[0].unit: unknown variant"),
            "{}",
            e.message
        );
        let e = usage_one("usage_limits", json!({"credit_limit": -1})).unwrap_err();
        assert!(
            e.message.contains("usage_limits.credit_limit"),
            "{}",
            e.message
        );
        let e = usage_one(
            "usage_limits",
            json!({"credit_limit": 10, "alert_threshold": 20}),
        )
        .unwrap_err();
        assert!(e.message.contains("alert_threshold"));
        let e = usage_list(
            "usage_limits",
            json!([{"credit_limit": 1}, {"credit_limit": 2}]),
        )
        .unwrap_err();
        assert!(e.message.contains("at most one"));
        let e = usage_one("usage_limits", json!({"credit_limit": "ten"})).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("usage_limits.credit_limit"));
        let e = rates("rate_limits", json!([{"unit": "rpm"}])).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("rate_limits[0].value"));
        assert_eq!(e.message, "rate_limits[0].value is required");
        let e = usage_one("usage_limits", json!([1])).unwrap_err();
        assert_eq!(e.param.as_deref(), Some("usage_limits"));
    }
}
