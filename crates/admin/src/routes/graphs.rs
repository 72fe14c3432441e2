//! Portkey's per-metric analytics: `/v1/analytics/graphs/<metric>` and
//! `/v1/analytics/summary/cache`, in Portkey's shape (`summary`, `data_points`) and units
//! (cost in US cents, latency in milliseconds, rates in percent). They read the same
//! rollup-backed summary and series as `/v1/analytics/graphs`; the feedback graphs read the
//! feedback table. Buckets follow the range (5 min up to 6 h, hourly up to 7 days, else daily)
//! unless `bucket` names one.

use axum::Json;
use axum::extract::State;
use portcullis_logs::{Aggregates, FeedbackBy, FeedbackGroup, LogFilter, Outcome};
use serde_json::{Map, Value, json};

use super::analytics::{DAY, HOUR, bound_series, bucket, prepare, range, ratio};
use super::{Reply, Shared};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::logq::{self, cents, log_error};
use crate::paging::Params;

/// One of Portkey's graphs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    Requests,
    Cost,
    Latency,
    Tokens,
    Users,
    UsersRequests,
    Errors,
    ErrorRate,
    ErrorStacks,
    ErrorStatusCodes,
    Rescued,
    CacheHitRate,
    CacheLatency,
    Feedbacks,
    FeedbackScores,
    FeedbackWeighted,
    FeedbackModels,
}

fn round(x: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (x * f).round() / f
}

fn ms(us: u64) -> u64 {
    (us + 500) / 1000
}

fn percent(a: u64, b: u64) -> f64 {
    round(ratio(a as f64, b as f64) * 100.0, 2)
}

fn cost_cents(nanos: i64) -> f64 {
    round(cents(nanos), 6)
}

/// Average cost per request in cents.
fn avg_cents(a: &Aggregates) -> f64 {
    round(ratio(cents(a.cost_nanos), a.requests as f64), 6)
}

/// What cache hits saved, estimated at the average cost of the requests that reached a
/// provider (as `cache_savings_estimate` in `docs/analytics.md`).
fn savings_nanos(a: &Aggregates) -> i64 {
    let uncached = a.requests.saturating_sub(a.cache_hits);
    if uncached == 0 {
        return 0;
    }
    let avg = i128::from(a.cost_nanos) / i128::from(uncached);
    i64::try_from(avg * i128::from(a.cache_hits)).unwrap_or(0)
}

/// `[{"<code_key>": status, "count": n}]`, most frequent first.
fn status_counts(a: &Aggregates, code_key: &str) -> Vec<Value> {
    let mut v: Vec<(u16, u64)> = a.errors_by_status.iter().map(|(s, n)| (*s, *n)).collect();
    v.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    v.into_iter()
        .map(|(s, n)| json!({ code_key: s, "count": n }))
        .collect()
}

fn latency_values(a: &Aggregates) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("avg".into(), json!(ms(a.latency_avg_us)));
    m.insert("p50".into(), json!(ms(a.latency_p50_us)));
    m.insert("p90".into(), json!(ms(a.latency_p90_us)));
    m.insert("p99".into(), json!(ms(a.latency_p99_us)));
    m
}

/// Only the cache hits among what `f` selects (nothing when `f` names another outcome).
fn cache_hits_only(f: &LogFilter) -> LogFilter {
    let mut hits = f.clone();
    match f.outcome {
        None | Some(Outcome::CacheHit) => hits.outcome = Some(Outcome::CacheHit),
        Some(_) => hits.workspace_ids = Some(Vec::new()),
    }
    hits
}

/// The summary and one data point of a log metric.
fn log_values(metric: Metric, a: &Aggregates) -> Map<String, Value> {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_owned(), v);
    };
    match metric {
        Metric::Requests => put("total", json!(a.requests)),
        Metric::Cost => {
            put("total", json!(cost_cents(a.cost_nanos)));
            put("avg", json!(avg_cents(a)));
        }
        Metric::Latency | Metric::CacheLatency => return latency_values(a),
        Metric::Tokens => {
            put("total", json!(a.total_tokens));
            put(
                "avg",
                json!(round(ratio(a.total_tokens as f64, a.requests as f64), 2)),
            );
        }
        Metric::Users => put("total", json!(a.unique_users)),
        Metric::UsersRequests => {
            put("total", json!(a.requests));
            put("unique", json!(a.unique_users));
            put(
                "avg",
                json!(round(ratio(a.requests as f64, a.unique_users as f64), 2)),
            );
        }
        Metric::Errors | Metric::ErrorStacks => put("total", json!(a.errors)),
        Metric::ErrorRate => put("rate", json!(percent(a.errors, a.requests))),
        Metric::Rescued => {
            put("retry", json!(a.rescued_by_retry));
            put("fallback", json!(a.rescued_by_fallback));
        }
        Metric::CacheHitRate => {
            put("total", json!(a.cache_hits));
            put(
                "rate",
                json!(percent(a.cache_hits, a.cache_hits + a.cache_misses)),
            );
        }
        Metric::ErrorStatusCodes
        | Metric::Feedbacks
        | Metric::FeedbackScores
        | Metric::FeedbackWeighted
        | Metric::FeedbackModels => {}
    }
    m
}

/// The bucket width: the one named, else one that suits the range.
fn width(params: &Params, f: &LogFilter) -> ApiResult<(&'static str, i64)> {
    if let Some(b) = params.get(&["bucket", "interval"]) {
        return bucket(b);
    }
    let span = match (f.from, f.to) {
        (Some(from), Some(to)) => to.saturating_sub(from),
        (Some(from), None) => crate::time::now().saturating_sub(from),
        _ => DAY,
    };
    Ok(if span <= 6 * HOUR {
        ("5m", 5 * 60_000)
    } else if span <= 7 * DAY {
        ("1h", HOUR)
    } else {
        ("1d", DAY)
    })
}

fn reply(metric_bucket: &str, f: &LogFilter, summary: Value, points: Vec<Value>) -> Reply {
    Ok(Json(json!({
        "object": "analytics-graph",
        "summary": summary,
        "data_points": points,
        "bucket": metric_bucket,
        "range": range(f),
    })))
}

fn point(start: i64, values: Map<String, Value>) -> Value {
    let mut m = Map::new();
    m.insert("timestamp".into(), json!(crate::time::iso(start)));
    m.extend(values);
    Value::Object(m)
}

fn avg_feedback(g: &FeedbackGroup) -> f64 {
    round(ratio(g.weighted_sum, g.count as f64), 4)
}

async fn graph(ctx: Shared, caller: Caller, params: Params, metric: Metric) -> Reply {
    let mut f = prepare(&ctx, &caller, &params).await?;
    let (name, ms_width) = width(&params, &f)?;
    bound_series(&mut f, name, ms_width)?;
    let store = logq::store(&ctx)?;
    let fail = |e| log_error(e, None);
    match metric {
        Metric::Feedbacks | Metric::FeedbackWeighted => {
            let buckets = store
                .feedback_stats(&f, &FeedbackBy::Time(ms_width))
                .await
                .map_err(fail)?;
            let total = FeedbackGroup {
                count: buckets.iter().map(|b| b.count).sum(),
                weighted_sum: buckets.iter().map(|b| b.weighted_sum).sum(),
                ..FeedbackGroup::default()
            };
            let values = |g: &FeedbackGroup| -> Map<String, Value> {
                let mut m = Map::new();
                if metric == Metric::Feedbacks {
                    m.insert("total".into(), json!(g.count));
                } else {
                    m.insert("avg".into(), json!(avg_feedback(g)));
                }
                m
            };
            let points = buckets
                .iter()
                .map(|b| point(b.key.as_i64().unwrap_or(0), values(b)))
                .collect();
            reply(name, &f, Value::Object(values(&total)), points)
        }
        Metric::FeedbackScores | Metric::FeedbackModels => {
            let by = if metric == Metric::FeedbackScores {
                FeedbackBy::Score
            } else {
                FeedbackBy::Model
            };
            let groups = store.feedback_stats(&f, &by).await.map_err(fail)?;
            let total: u64 = groups.iter().map(|g| g.count).sum();
            let points = groups
                .iter()
                .map(|g| match by {
                    FeedbackBy::Score => json!({ "score": g.key, "total": g.count }),
                    _ => json!({
                        "ai_model": g.key,
                        "total": g.count,
                        "avg_weighted_feedback": avg_feedback(g),
                    }),
                })
                .collect();
            let summary = if by == FeedbackBy::Score {
                json!({ "total": total })
            } else {
                json!({})
            };
            reply(name, &f, summary, points)
        }
        Metric::ErrorStatusCodes => {
            let a = store.summary(&f).await.map_err(fail)?;
            let summary = json!({
                "total_errors": a.errors,
                "unique_error_codes": a.errors_by_status.len(),
            });
            reply(name, &f, summary, status_counts(&a, "status_code"))
        }
        _ => {
            let source = if metric == Metric::CacheLatency {
                cache_hits_only(&f)
            } else {
                f.clone()
            };
            let a = store.summary(&source).await.map_err(fail)?;
            let buckets = store.series(&source, ms_width).await.map_err(fail)?;
            let mut saved = 0i64;
            let points = buckets
                .iter()
                .map(|b| {
                    let v = &b.values;
                    let mut m = log_values(metric, v);
                    match metric {
                        Metric::ErrorStacks => {
                            m.clear();
                            m.insert(
                                "stats".into(),
                                Value::Array(status_counts(v, "response_status_code")),
                            );
                        }
                        Metric::UsersRequests => {
                            m.retain(|k, _| k == "avg");
                        }
                        Metric::Rescued => {
                            // Portkey lists rescues per retry attempt; the attempt is not kept
                            // per bucket here, so all retry rescues are one entry.
                            let n = v.rescued_by_retry;
                            let retry: Vec<Value> = if n == 0 {
                                Vec::new()
                            } else {
                                vec![json!({ "retry_success_count": null, "count": n })]
                            };
                            m.insert("retry".into(), Value::Array(retry));
                            m.insert("retry_total".into(), json!(n));
                        }
                        Metric::CacheHitRate => {
                            saved = saved.saturating_add(savings_nanos(v));
                            m.clear();
                            m.insert("simple_hits".into(), json!(v.cache_hits));
                            m.insert("semantic_hits".into(), json!(0));
                            m.insert(
                                "rate".into(),
                                json!(percent(v.cache_hits, v.cache_hits + v.cache_misses)),
                            );
                            m.insert(
                                "cumulative_simple_cache_savings".into(),
                                json!(cost_cents(saved)),
                            );
                            m.insert("cumulative_semantic_cache_savings".into(), json!(0));
                        }
                        _ => {}
                    }
                    point(b.start, m)
                })
                .collect();
            reply(name, &f, Value::Object(log_values(metric, &a)), points)
        }
    }
}

/// `GET /v1/analytics/summary/cache`: cache hits, their average latency (ms), all requests,
/// and how much faster hits were than the rest (percent).
pub async fn cache_summary(State(ctx): State<Shared>, caller: Caller, params: Params) -> Reply {
    let f = prepare(&ctx, &caller, &params).await?;
    let store = logq::store(&ctx)?;
    let all = store.summary(&f).await.map_err(|e| log_error(e, None))?;
    let hits = store
        .summary(&cache_hits_only(&f))
        .await
        .map_err(|e| log_error(e, None))?;
    let rest = all.requests.saturating_sub(hits.requests);
    let rest_avg = if rest == 0 {
        0.0
    } else {
        let sum = |a: &Aggregates| a.latency_avg_us as f64 * a.requests as f64;
        ((sum(&all) - sum(&hits)) / rest as f64).max(0.0)
    };
    let hit_avg = hits.latency_avg_us as f64;
    let speedup = if rest_avg > 0.0 && hits.requests > 0 {
        round((rest_avg - hit_avg) / rest_avg * 100.0, 2)
    } else {
        0.0
    };
    Ok(Json(json!({
        "object": "analytics-summary",
        "summary": {
            "hits": all.cache_hits,
            "avg_latency": ms(hits.latency_avg_us),
            "total_requests": all.requests,
            "cache_speedup": speedup,
        },
        "range": range(&f),
    })))
}

macro_rules! graph_routes {
    ($($(#[$doc:meta])* $name:ident => $metric:ident),* $(,)?) => {
        $(
            $(#[$doc])*
            pub async fn $name(
                State(ctx): State<Shared>,
                caller: Caller,
                params: Params,
            ) -> Reply {
                graph(ctx, caller, params, Metric::$metric).await
            }
        )*
    };
}

graph_routes! {
    /// Requests per bucket.
    requests => Requests,
    /// Cost in cents, total and per request.
    cost => Cost,
    /// Latency in ms: average, p50, p90, p99.
    latency => Latency,
    /// Tokens, total and per request.
    tokens => Tokens,
    /// Distinct end users (`metadata._user`).
    users => Users,
    /// Requests per end user.
    users_requests => UsersRequests,
    /// Failed requests.
    errors => Errors,
    /// Failed requests in percent.
    error_rate => ErrorRate,
    /// Failed requests per status code, per bucket.
    error_stacks => ErrorStacks,
    /// Failed requests per status code over the range.
    error_status_codes => ErrorStatusCodes,
    /// Requests rescued by retries and by fallbacks.
    rescued => Rescued,
    /// Cache hits, hit rate and cumulative savings in cents.
    cache_hit_rate => CacheHitRate,
    /// Latency of cache hits in ms.
    cache_latency => CacheLatency,
    /// Feedback given per bucket.
    feedbacks => Feedbacks,
    /// Feedback per score over the range.
    feedback_scores => FeedbackScores,
    /// Average weighted feedback (value × weight) per bucket.
    feedback_weighted => FeedbackWeighted,
    /// Feedback per model over the range.
    feedback_models => FeedbackModels,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_follow_the_range() {
        let p = Params::default();
        let f = |from: i64, to: i64| LogFilter {
            from: Some(from),
            to: Some(to),
            ..LogFilter::default()
        };
        assert_eq!(width(&p, &f(0, HOUR)).unwrap().0, "5m");
        assert_eq!(width(&p, &f(0, 2 * DAY)).unwrap().0, "1h");
        assert_eq!(width(&p, &f(0, 30 * DAY)).unwrap().0, "1d");
        assert_eq!(
            width(&Params::parse("bucket=1d"), &f(0, HOUR)).unwrap().0,
            "1d"
        );
        assert!(width(&Params::parse("bucket=7m"), &f(0, HOUR)).is_err());
    }

    #[test]
    fn portkey_units() {
        let a = Aggregates {
            requests: 4,
            errors: 1,
            cost_nanos: 30_000_000,
            latency_avg_us: 1_499,
            cache_hits: 1,
            cache_misses: 3,
            ..Aggregates::default()
        };
        assert_eq!(log_values(Metric::Cost, &a)["total"], 3.0);
        assert_eq!(log_values(Metric::Cost, &a)["avg"], 0.75);
        assert_eq!(log_values(Metric::Latency, &a)["avg"], 1);
        assert_eq!(log_values(Metric::ErrorRate, &a)["rate"], 25.0);
        assert_eq!(log_values(Metric::CacheHitRate, &a)["rate"], 25.0);
        // Three uncached requests cost 3 cents: the hit saved one.
        assert_eq!(savings_nanos(&a), 10_000_000);
    }
}
