//! What the logs and analytics APIs ask of a log store.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::record::Outcome;

/// Filters shared by log listing, export and analytics. Every field narrows; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogFilter {
    /// Unix milliseconds, inclusive start and exclusive end.
    pub from: Option<i64>,
    pub to: Option<i64>,
    /// The caller's visibility: a workspace key only ever sees its workspace.
    pub workspace_ids: Option<Vec<String>>,
    pub api_key_id: Option<String>,
    pub provider_id: Option<String>,
    pub provider: Option<String>,
    /// Served model.
    pub model: Option<String>,
    /// Exact HTTP status, or a class (`2xx`, `4xx`, `5xx`) via `status_class`.
    pub status: Option<u16>,
    pub status_class: Option<u8>,
    pub outcome: Option<Outcome>,
    /// `metadata.<key> = value` (string comparison), all must match.
    pub metadata: Vec<(String, String)>,
    pub trace_id: Option<String>,
    /// Cost bounds in nano-dollars, inclusive.
    pub min_cost_nanos: Option<i64>,
    pub max_cost_nanos: Option<i64>,
}

/// A page of a listing, newest first. `cursor` is opaque (the last record's `(created_at, id)`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PageRequest {
    pub limit: u32,
    pub cursor: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Present when more records follow.
    pub next_cursor: Option<String>,
}

/// What analytics can group by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Model,
    Provider,
    ProviderId,
    ApiKey,
    Workspace,
    Status,
    Outcome,
    Endpoint,
    /// Any metadata key, `_user` included.
    Metadata(String),
}

/// One group's (or the whole range's) aggregates. Latencies in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Aggregates {
    pub requests: u64,
    pub successes: u64,
    pub errors: u64,
    /// Errors by outcome (`provider_error`, `rate_limited`, …).
    pub errors_by_outcome: std::collections::BTreeMap<String, u64>,
    /// Errors by HTTP status.
    pub errors_by_status: std::collections::BTreeMap<u16, u64>,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    pub cached_tokens: u64,
    pub cache_write_tokens: u64,
    pub reasoning_tokens: u64,
    pub total_tokens: u64,
    pub cost_nanos: i64,
    pub latency_avg_us: u64,
    pub latency_p50_us: u64,
    pub latency_p90_us: u64,
    pub latency_p95_us: u64,
    pub latency_p99_us: u64,
    pub ttft_avg_us: u64,
    pub ttft_p50_us: u64,
    pub ttft_p95_us: u64,
    pub upstream_avg_us: u64,
    pub overhead_avg_us: u64,
    pub overhead_p50_us: u64,
    pub overhead_p99_us: u64,
    pub cache_hits: u64,
    pub cache_misses: u64,
    /// Requests that needed at least one retry, and those that then succeeded.
    pub retried: u64,
    pub rescued_by_retry: u64,
    /// Requests that fell back to another target, and those that then succeeded.
    pub fell_back: u64,
    pub rescued_by_fallback: u64,
    pub streams: u64,
    pub unique_users: u64,
    pub unique_models: u64,
    pub unique_keys: u64,
}

/// One time bucket of a series.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// Unix milliseconds at the bucket's start.
    pub start: i64,
    pub values: Aggregates,
}

/// One group of a group-by.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The group's value (`null` for records without it).
    pub key: Value,
    pub values: Aggregates,
}

/// A change to existing feedback (`PUT /v1/feedback/{id}`): fields left `None` keep their value;
/// `metadata` replaces the whole map.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedbackUpdate {
    pub value: Option<i64>,
    pub weight: Option<f64>,
    pub metadata: Option<serde_json::Map<String, Value>>,
}

/// Feedback attached to a trace (`POST /v1/feedback`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Feedback {
    pub id: String,
    pub trace_id: String,
    /// Portkey: an integer score from -10 to 10.
    pub value: i64,
    /// Portkey: 0 to 1, default 1.
    pub weight: f64,
    pub metadata: serde_json::Map<String, Value>,
    pub workspace_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What feedback analytics group by. Feedback counts by when it was given; filters other
/// than time and workspace apply to the logged requests of its trace.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedbackBy {
    /// Epoch-aligned buckets of this many milliseconds (every bucket of a bounded range).
    Time(i64),
    /// The feedback value (-10..=10).
    Score,
    /// The model that served the trace (its latest logged request).
    Model,
    /// A metadata value of the trace's latest logged request (`_user` for end users).
    Metadata(String),
}

/// One group of feedback.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeedbackGroup {
    /// The bucket start (unix ms), score, model or metadata value; `null` when unknown.
    pub key: Value,
    pub count: u64,
    /// The sum of `value × weight` (Portkey's weighted feedback).
    pub weighted_sum: f64,
    /// Distinct traces with feedback.
    pub traces: u64,
}
