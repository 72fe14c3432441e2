//! `/v1/analytics`: one summary, a time series, or a group-by over the request logs, with the
//! logs' filters and the `analytics.view` scope. Every response carries the same metrics (see
//! `docs/analytics.md`): the store's [`Aggregates`] plus rates and ratios derived from them.
//! Money is integer nano-dollars (`*_nanos`) and a USD number; latencies are microseconds.

use axum::Json;
use axum::extract::State;
use portcullis_logs::store::{DEFAULT_GROUPS, MAX_GROUPS, MAX_SERIES_BUCKETS};
use portcullis_logs::{Aggregates, GroupBy, LogFilter, Outcome};
use serde_json::{Map, Value, json};

use super::portkey_groups::Shape;
use super::{P, Reply, Shared};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::logq::{self, log_error, usd};
use crate::paging::Params;

pub(crate) const MINUTE: i64 = 60_000;
pub(crate) const HOUR: i64 = 60 * MINUTE;
pub(crate) const DAY: i64 = 24 * HOUR;

/// Every error outcome, always listed in `errors_by_outcome` (zero when none).
const ERROR_OUTCOMES: [Outcome; 8] = [
    Outcome::ProviderError,
    Outcome::GatewayError,
    Outcome::InvalidRequest,
    Outcome::Unauthorized,
    Outcome::RateLimited,
    Outcome::BudgetExhausted,
    Outcome::GuardrailDenied,
    Outcome::ClientDisconnect,
];

/// `a / b`, 0 when `b` is 0.
pub(crate) fn ratio(a: f64, b: f64) -> f64 {
    if b == 0.0 { 0.0 } else { a / b }
}

/// Rounded to 6 decimals so rates read cleanly.
pub(crate) fn r6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// The metrics of one aggregate (the summary, a bucket or a group), in a fixed order.
pub fn metrics(a: &Aggregates) -> Map<String, Value> {
    let req = a.requests as f64;
    let mut by_outcome = Map::new();
    for o in ERROR_OUTCOMES {
        let n = a.errors_by_outcome.get(o.as_str()).copied().unwrap_or(0);
        by_outcome.insert(o.as_str().to_owned(), json!(n));
    }
    for (k, n) in &a.errors_by_outcome {
        if !by_outcome.contains_key(k) {
            by_outcome.insert(k.clone(), json!(n));
        }
    }
    let by_status: Map<String, Value> = a
        .errors_by_status
        .iter()
        .map(|(s, n)| (s.to_string(), json!(n)))
        .collect();
    let in_class = |c: u16| -> u64 {
        a.errors_by_status
            .iter()
            .filter(|(s, _)| **s / 100 == c)
            .map(|(_, n)| n)
            .sum()
    };
    let cost = a.cost_nanos;
    let per_request_nanos = if a.requests == 0 {
        0
    } else {
        cost / i64::try_from(a.requests).unwrap_or(i64::MAX)
    };
    let per_1k_nanos = if a.total_tokens == 0 {
        0
    } else {
        let t = i128::from(a.total_tokens);
        i64::try_from(i128::from(cost) * 1000 / t).unwrap_or(0)
    };
    // Cache hits are logged without a provider charge: what they saved is estimated at the
    // average cost of the requests that did reach a provider.
    let uncached = a.requests.saturating_sub(a.cache_hits);
    let savings_nanos = if uncached == 0 {
        0
    } else {
        let avg = i128::from(cost) / i128::from(uncached);
        i64::try_from(avg * i128::from(a.cache_hits)).unwrap_or(0)
    };
    let lookups = a.cache_hits + a.cache_misses;
    let fields: Vec<(&str, Value)> = vec![
        ("requests", json!(a.requests)),
        ("successes", json!(a.successes)),
        ("errors", json!(a.errors)),
        ("success_rate", json!(r6(ratio(a.successes as f64, req)))),
        ("error_rate", json!(r6(ratio(a.errors as f64, req)))),
        ("errors_by_outcome", Value::Object(by_outcome)),
        ("errors_by_status", Value::Object(by_status)),
        ("client_errors", json!(in_class(4))),
        ("server_errors", json!(in_class(5))),
        ("prompt_tokens", json!(a.prompt_tokens)),
        ("completion_tokens", json!(a.completion_tokens)),
        ("cached_tokens", json!(a.cached_tokens)),
        ("cache_write_tokens", json!(a.cache_write_tokens)),
        ("reasoning_tokens", json!(a.reasoning_tokens)),
        ("total_tokens", json!(a.total_tokens)),
        (
            "tokens_per_request",
            json!(r6(ratio(a.total_tokens as f64, req))),
        ),
        (
            "prompt_tokens_per_request",
            json!(r6(ratio(a.prompt_tokens as f64, req))),
        ),
        (
            "completion_tokens_per_request",
            json!(r6(ratio(a.completion_tokens as f64, req))),
        ),
        (
            "cached_token_ratio",
            json!(r6(ratio(a.cached_tokens as f64, a.prompt_tokens as f64))),
        ),
        (
            "reasoning_token_ratio",
            json!(r6(ratio(
                a.reasoning_tokens as f64,
                a.completion_tokens as f64
            ))),
        ),
        ("cost_nanos", json!(cost)),
        ("cost", json!(usd(cost))),
        ("cost_per_request_nanos", json!(per_request_nanos)),
        ("cost_per_request", json!(usd(per_request_nanos))),
        ("cost_per_1k_tokens_nanos", json!(per_1k_nanos)),
        ("cost_per_1k_tokens", json!(usd(per_1k_nanos))),
        ("latency_avg_us", json!(a.latency_avg_us)),
        ("latency_p50_us", json!(a.latency_p50_us)),
        ("latency_p90_us", json!(a.latency_p90_us)),
        ("latency_p95_us", json!(a.latency_p95_us)),
        ("latency_p99_us", json!(a.latency_p99_us)),
        ("ttft_avg_us", json!(a.ttft_avg_us)),
        ("ttft_p50_us", json!(a.ttft_p50_us)),
        ("ttft_p95_us", json!(a.ttft_p95_us)),
        ("upstream_avg_us", json!(a.upstream_avg_us)),
        ("overhead_avg_us", json!(a.overhead_avg_us)),
        ("overhead_p50_us", json!(a.overhead_p50_us)),
        ("overhead_p99_us", json!(a.overhead_p99_us)),
        (
            "overhead_share",
            json!(r6(ratio(a.overhead_avg_us as f64, a.latency_avg_us as f64))),
        ),
        ("cache_hits", json!(a.cache_hits)),
        ("cache_misses", json!(a.cache_misses)),
        (
            "cache_hit_rate",
            json!(r6(ratio(a.cache_hits as f64, lookups as f64))),
        ),
        ("cache_savings_estimate_nanos", json!(savings_nanos)),
        ("cache_savings_estimate", json!(usd(savings_nanos))),
        ("retried", json!(a.retried)),
        ("rescued_by_retry", json!(a.rescued_by_retry)),
        (
            "retry_rescue_rate",
            json!(r6(ratio(a.rescued_by_retry as f64, a.retried as f64))),
        ),
        ("fell_back", json!(a.fell_back)),
        ("rescued_by_fallback", json!(a.rescued_by_fallback)),
        (
            "fallback_rescue_rate",
            json!(r6(ratio(a.rescued_by_fallback as f64, a.fell_back as f64))),
        ),
        ("streams", json!(a.streams)),
        ("stream_rate", json!(r6(ratio(a.streams as f64, req)))),
        ("unique_users", json!(a.unique_users)),
        ("unique_models", json!(a.unique_models)),
        ("unique_keys", json!(a.unique_keys)),
        (
            "requests_per_user",
            json!(r6(ratio(a.requests as f64, a.unique_users as f64))),
        ),
    ];
    fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// The time range a response covers, as both ISO text and unix milliseconds.
pub(crate) fn range(f: &LogFilter) -> Value {
    json!({
        "from": f.from.map(crate::time::iso),
        "to": f.to.map(crate::time::iso),
        "from_ms": f.from,
        "to_ms": f.to,
    })
}

/// Checks the caller and reads the filters.
pub(crate) async fn prepare(
    ctx: &Shared,
    caller: &Caller,
    params: &Params,
) -> ApiResult<LogFilter> {
    caller.require("analytics.view")?;
    logq::store(ctx)?;
    logq::filter(ctx, caller, params).await
}

pub async fn summary(State(ctx): State<Shared>, caller: Caller, params: Params) -> Reply {
    let filter = prepare(&ctx, &caller, &params).await?;
    let store = logq::store(&ctx)?;
    let a = store
        .summary(&filter)
        .await
        .map_err(|e| log_error(e, None))?;
    let mut data = metrics(&a);
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && to > from
    {
        let minutes = (to - from) as f64 / MINUTE as f64;
        data.insert(
            "requests_per_minute".to_owned(),
            json!(r6(a.requests as f64 / minutes)),
        );
    }
    Ok(Json(json!({
        "object": "analytics-summary",
        "range": range(&filter),
        "data": data,
    })))
}

/// A bucket width: `5m`, `1h` or `1d` (Portkey's `hour` / `day` too), in milliseconds.
pub(crate) fn bucket(text: &str) -> ApiResult<(&'static str, i64)> {
    match text.trim().to_ascii_lowercase().as_str() {
        "5m" | "5min" => Ok(("5m", 5 * MINUTE)),
        "1h" | "h" | "hour" => Ok(("1h", HOUR)),
        "1d" | "d" | "day" => Ok(("1d", DAY)),
        _ => Err(ApiError::field(
            "bucket",
            format!("bucket must be 5m, 1h or 1d (got {text:?})"),
        )),
    }
}

/// Bounds a series' range (every bucket is returned, empty ones too): the last day (30 days
/// for daily buckets) unless the caller names one; 400 when it holds too many buckets.
pub(crate) fn bound_series(filter: &mut LogFilter, name: &str, width: i64) -> ApiResult<()> {
    let span = if width >= DAY { 30 * DAY } else { DAY };
    let to = filter.to.unwrap_or_else(crate::time::now);
    let from = filter.from.unwrap_or(to.saturating_sub(span));
    filter.from = Some(from);
    filter.to = Some(to);
    if to > from {
        let start = i128::from(from) - i128::from(from.rem_euclid(width));
        let n = (i128::from(to) - start + i128::from(width) - 1) / i128::from(width);
        if n > i128::from(MAX_SERIES_BUCKETS) {
            return Err(ApiError::field(
                "bucket",
                format!(
                    "the range holds {n} buckets of {name}, more than the {MAX_SERIES_BUCKETS} \
                     allowed: use a wider bucket or a shorter range"
                ),
            ));
        }
    }
    Ok(())
}

pub async fn graphs(State(ctx): State<Shared>, caller: Caller, params: Params) -> Reply {
    let mut filter = prepare(&ctx, &caller, &params).await?;
    let (name, width) = bucket(
        params
            .get(&["bucket", "interval", "total_units"])
            .unwrap_or("1h"),
    )?;
    bound_series(&mut filter, name, width)?;
    let store = logq::store(&ctx)?;
    let buckets = store
        .series(&filter, width)
        .await
        .map_err(|e| log_error(e, Some("bucket")))?;
    let seconds = width as f64 / 1000.0;
    let data: Vec<Value> = buckets
        .iter()
        .map(|b| {
            let mut m = Map::new();
            m.insert("timestamp".into(), json!(crate::time::iso(b.start)));
            m.insert("timestamp_ms".into(), json!(b.start));
            m.extend(metrics(&b.values));
            m.insert(
                "requests_per_second".into(),
                json!(r6(b.values.requests as f64 / seconds)),
            );
            Value::Object(m)
        })
        .collect();
    Ok(Json(json!({
        "object": "analytics-graph",
        "bucket": name,
        "bucket_ms": width,
        "range": range(&filter),
        "data": data,
    })))
}

/// A group-by dimension, with Portkey's names (`ai-models`, `users`, …) as aliases.
fn dimension(text: &str) -> ApiResult<(String, GroupBy)> {
    let t = text.trim();
    if let Some(key) = t.strip_prefix("metadata.") {
        if key.is_empty() {
            return Err(ApiError::field(
                "dimension",
                "dimension metadata.<key> needs a key",
            ));
        }
        return Ok((t.to_owned(), GroupBy::Metadata(key.to_owned())));
    }
    let by = match t {
        "model" | "models" | "ai-models" | "ai_models" | "ai_model" => GroupBy::Model,
        "provider" | "providers" | "ai_service" => GroupBy::Provider,
        "provider_id" => GroupBy::ProviderId,
        "api_key" | "api_keys" | "api_key_id" => GroupBy::ApiKey,
        "workspace" | "workspaces" | "workspace_id" => GroupBy::Workspace,
        "status" | "status_code" => GroupBy::Status,
        "outcome" => GroupBy::Outcome,
        "endpoint" => GroupBy::Endpoint,
        "users" | "user" => GroupBy::Metadata("_user".to_owned()),
        _ => {
            return Err(ApiError::field(
                "dimension",
                format!(
                    "dimension must be model, provider, provider_id, api_key, workspace, \
                     status, outcome, endpoint or metadata.<key> (got {t:?})"
                ),
            ));
        }
    };
    let name = match &by {
        GroupBy::Model => "model",
        GroupBy::Provider => "provider",
        GroupBy::ProviderId => "provider_id",
        GroupBy::ApiKey => "api_key",
        GroupBy::Workspace => "workspace",
        GroupBy::Status => "status",
        GroupBy::Outcome => "outcome",
        GroupBy::Endpoint => "endpoint",
        GroupBy::Metadata(_) => "metadata._user",
    };
    Ok((name.to_owned(), by))
}

async fn grouped(ctx: Shared, caller: Caller, params: Params, dim: &str) -> Reply {
    let filter = prepare(&ctx, &caller, &params).await?;
    let (name, by) = dimension(dim)?;
    let limit = logq::count(&params, &["limit", "page_size"], DEFAULT_GROUPS, MAX_GROUPS)?;
    let store = logq::store(&ctx)?;
    let groups = store
        .group_by(&filter, &by, limit)
        .await
        .map_err(|e| log_error(e, None))?;
    let data: Vec<Value> = groups
        .iter()
        .map(|g| {
            let mut m = Map::new();
            m.insert("key".into(), g.key.clone());
            m.extend(metrics(&g.values));
            Value::Object(m)
        })
        .collect();
    Ok(Json(json!({
        "object": "list",
        "dimension": name,
        "range": range(&filter),
        "total": data.len(),
        "data": data,
    })))
}

pub async fn groups(
    State(ctx): State<Shared>,
    caller: Caller,
    params: Params,
    P(dim): P<String>,
) -> Reply {
    // Portkey's own `users` and `ai-models` have routes of their own (Portkey's shape).
    grouped(ctx, caller, params, &dim).await
}

/// Portkey's `GET /analytics/groups/metadata/{key}`, in Portkey's shape.
pub async fn groups_metadata(
    State(ctx): State<Shared>,
    caller: Caller,
    params: Params,
    P(key): P<String>,
) -> Reply {
    if key.trim().is_empty() {
        return Err(ApiError::field("dimension", "the metadata key is missing"));
    }
    super::portkey_groups::serve(ctx, caller, params, Shape::Metadata(key)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimensions_and_aliases() {
        assert_eq!(dimension("ai-models").unwrap().1, GroupBy::Model);
        assert_eq!(
            dimension("users").unwrap().1,
            GroupBy::Metadata("_user".into())
        );
        assert_eq!(
            dimension("metadata.team").unwrap(),
            ("metadata.team".into(), GroupBy::Metadata("team".into()))
        );
        for bad in ["metadata.", "colour", ""] {
            assert_eq!(
                dimension(bad).unwrap_err().param.as_deref(),
                Some("dimension")
            );
        }
    }

    #[test]
    fn derived_metrics() {
        let a = Aggregates {
            requests: 4,
            successes: 3,
            errors: 1,
            total_tokens: 2000,
            prompt_tokens: 1500,
            completion_tokens: 500,
            cached_tokens: 300,
            cost_nanos: 3_000_000,
            cache_hits: 1,
            cache_misses: 3,
            ..Aggregates::default()
        };
        let m = metrics(&a);
        assert_eq!(m["error_rate"], 0.25);
        assert_eq!(m["cache_hit_rate"], 0.25);
        assert_eq!(m["tokens_per_request"], 500.0);
        assert_eq!(m["cost_per_request_nanos"], 750_000);
        assert_eq!(m["cost_per_1k_tokens_nanos"], 1_500_000);
        assert_eq!(m["cost"], 0.003);
        assert_eq!(m["cache_savings_estimate_nanos"], 1_000_000);
        assert_eq!(m["cached_token_ratio"], 0.2);
        assert_eq!(m["errors_by_outcome"]["rate_limited"], 0);
        assert!(metrics(&Aggregates::default())["error_rate"] == 0.0);
    }
}
