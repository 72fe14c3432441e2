//! Prometheus metrics from finished requests.
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `portcullis_requests_total` | counter | provider, model, workspace, status, outcome, endpoint |
//! | `portcullis_errors_total` | counter | provider, model, workspace, outcome, status |
//! | `portcullis_request_duration_seconds` | histogram | provider, model, workspace |
//! | `portcullis_upstream_duration_seconds` | histogram | provider, model, workspace |
//! | `portcullis_time_to_first_token_seconds` | histogram (streams only) | provider, model, workspace |
//! | `portcullis_gateway_overhead_seconds` | histogram (from 10 µs) | provider, model, workspace |
//! | `portcullis_tokens_total` | counter | provider, model, workspace, type |
//! | `portcullis_cost_usd_total` | counter | provider, model, workspace |
//! | `portcullis_cache_total` | counter | status |
//! | `portcullis_retries_total`, `portcullis_retries_exhausted_total`, `portcullis_fallbacks_total` | counter | |
//! | `portcullis_log_queue_depth`, `portcullis_log_queue_bytes` | gauge | |
//! | `portcullis_log_records_dropped_total`, `portcullis_log_payloads_shed_total`, `portcullis_log_records_written_total` | counter (set) | |
//! | `portcullis_budget_remaining`, `portcullis_rate_limit_remaining` | gauge | scope_kind, scope_id, kind |
//! | `portcullis_metrics_series_overflow_total` | counter | |
//!
//! `model` is the model the provider reported serving, else the one requested; a missing value
//! is `unknown`. `type` is `prompt`, `completion`, `cached`, `cache_write` or `reasoning`.
//!
//! [`Metrics::observe`] is on the request path, so every label set is resolved once: the first
//! record with a given (provider, model, workspace, endpoint, status, outcome) builds the label
//! strings and registers the series, later ones find the metric handles with one borrowed-key
//! hash lookup under a read lock and only touch atomics (and the histograms' per-series mutexes).
//! Nothing is allocated on that path.
//!
//! Cardinality is capped twice (see [`Limits`]): request label sets (`portcullis_requests_total`,
//! `portcullis_errors_total`, 1–2 time series each) at 10,000, and (provider, model, workspace)
//! sets at 1,000, because each of those carries the latency histograms, tokens and cost (up to
//! ~85 time series). Past a cap, new label sets are recorded under `model="other"`; past 110% of
//! it, under `provider`, `model`, `workspace` and `endpoint` all `"other"`. Records folded this
//! way are counted by `portcullis_metrics_series_overflow_total`. Label values are clipped to
//! [`MAX_LABEL_LEN`] bytes. Ids of traces, requests, keys and end users are never labels.
//!
//! Series that would stay at zero are not exposed: the upstream and time-to-first-token
//! histograms, token counters and cost of a (provider, model, workspace) appear with their first
//! non-zero observation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

use hashbrown::{Equivalent, HashMap};
use portcullis_logs::{LogRecord, Outcome, SinkStats};
use prometheus_client::encoding::{
    EncodeLabelSet, EncodeMetric, MetricEncoder, NoLabelSet, prometheus_text, text,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::exemplar::Exemplar;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::{MetricType, TypedMetric};
use prometheus_client::registry::{Registry, Unit};

/// Caps on distinct label sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// (provider, model, workspace, endpoint, status, outcome) sets: requests and errors.
    pub request_series: usize,
    /// (provider, model, workspace) sets: latency histograms, tokens and cost.
    pub model_series: usize,
    /// (scope_kind, scope_id, kind) sets, for each of the budget and rate-limit gauges. Past it
    /// new ones are ignored (and counted as overflow).
    pub scope_series: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            request_series: 10_000,
            model_series: 1_000,
            scope_series: 10_000,
        }
    }
}
/// Label values longer than this (in bytes) are cut at a character boundary.
pub const MAX_LABEL_LEN: usize = 128;
/// The label value that absorbs label sets past the cap.
pub const OVERFLOW_LABEL: &str = "other";
/// The label value for a missing provider, model, workspace, endpoint or outcome.
pub const UNKNOWN_LABEL: &str = "unknown";

/// Content type of [`Metrics::render`] (Prometheus text exposition format 0.0.4).
pub const CONTENT_TYPE: &str = prometheus_text::CONTENT_TYPE;
/// Content type of [`Metrics::render_openmetrics`].
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Latency buckets (seconds) for whole requests, upstream time and time to first token: 5 ms to
/// 5 minutes, as LLM calls go.
const LATENCY_BUCKETS: [f64; 17] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0,
    300.0,
];
/// Gateway-overhead buckets (seconds): from 10 µs, so tens of microseconds are resolved.
const OVERHEAD_BUCKETS: [f64; 16] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_075, 0.000_1, 0.000_25, 0.000_5, 0.000_75, 0.001, 0.002_5,
    0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
];

/// Cache statuses counted by `portcullis_cache_total`; anything else counts as `other`.
const CACHE_STATUSES: [&str; 6] = [
    "DISABLED",
    "MISS",
    "HIT",
    "REFRESH",
    "SEMANTIC HIT",
    "SEMANTIC MISS",
];

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

fn overhead_histogram() -> Histogram {
    Histogram::new(OVERHEAD_BUCKETS)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    provider: String,
    model: String,
    workspace: String,
    status: u16,
    outcome: &'static str,
    endpoint: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    provider: String,
    model: String,
    workspace: String,
    outcome: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    provider: String,
    model: String,
    workspace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TokenLabels {
    provider: String,
    model: String,
    workspace: String,
    r#type: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    status: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ScopeLabels {
    scope_kind: String,
    scope_id: String,
    kind: String,
}

/// A counter of US dollars kept as integer nano-dollars, so sums are exact; rendered in dollars.
#[derive(Clone, Debug, Default)]
struct UsdCounter(Arc<AtomicU64>);

impl UsdCounter {
    fn add_nanos(&self, nanos: u64) {
        self.0.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl TypedMetric for UsdCounter {
    const TYPE: MetricType = MetricType::Counter;
}

impl EncodeMetric for UsdCounter {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), std::fmt::Error> {
        let usd = self.0.load(Ordering::Relaxed) as f64 / 1e9;
        encoder.encode_counter::<NoLabelSet, f64, f64>(&usd, None::<&Exemplar<NoLabelSet, f64>>)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

/// The request-series key, owned (stored in the map).
#[derive(Hash, PartialEq, Eq)]
struct SeriesKey {
    provider: Box<str>,
    model: Box<str>,
    workspace: Box<str>,
    endpoint: Box<str>,
    status: u16,
    outcome: &'static str,
}

/// The same key, borrowed from a record. Hashes exactly like [`SeriesKey`] (same field order,
/// `Box<str>` and `&str` hash as `str`), so the map is searched without allocating.
#[derive(Hash, Clone, Copy)]
struct SeriesRef<'a> {
    provider: &'a str,
    model: &'a str,
    workspace: &'a str,
    endpoint: &'a str,
    status: u16,
    outcome: &'static str,
}

impl Equivalent<SeriesKey> for SeriesRef<'_> {
    fn equivalent(&self, k: &SeriesKey) -> bool {
        self.status == k.status
            && self.outcome == k.outcome
            && self.model == &*k.model
            && self.workspace == &*k.workspace
            && self.provider == &*k.provider
            && self.endpoint == &*k.endpoint
    }
}

impl From<&SeriesRef<'_>> for SeriesKey {
    fn from(r: &SeriesRef<'_>) -> Self {
        SeriesKey {
            provider: r.provider.into(),
            model: r.model.into(),
            workspace: r.workspace.into(),
            endpoint: r.endpoint.into(),
            status: r.status,
            outcome: r.outcome,
        }
    }
}

#[derive(Hash, PartialEq, Eq)]
struct ScopeKey {
    scope_kind: Box<str>,
    scope_id: Box<str>,
    kind: Box<str>,
}

#[derive(Hash, Clone, Copy)]
struct ScopeRef<'a> {
    scope_kind: &'a str,
    scope_id: &'a str,
    kind: &'a str,
}

impl From<&ScopeRef<'_>> for ScopeKey {
    fn from(r: &ScopeRef<'_>) -> Self {
        ScopeKey {
            scope_kind: r.scope_kind.into(),
            scope_id: r.scope_id.into(),
            kind: r.kind.into(),
        }
    }
}

impl Equivalent<ScopeKey> for ScopeRef<'_> {
    fn equivalent(&self, k: &ScopeKey) -> bool {
        self.scope_id == &*k.scope_id && self.kind == &*k.kind && self.scope_kind == &*k.scope_kind
    }
}

/// Handles of the per-(provider, model, workspace) metrics; the ones that often stay at zero are
/// registered on first use.
struct ModelSeries {
    labels: ModelLabels,
    total: Histogram,
    overhead: Histogram,
    upstream: OnceLock<Histogram>,
    ttft: OnceLock<Histogram>,
    /// prompt, completion, cached, cache_write, reasoning.
    tokens: [OnceLock<Counter>; 5],
    cost: OnceLock<UsdCounter>,
}

/// Handles of everything one request label set touches.
struct Series {
    requests: Counter,
    errors: Option<Counter>,
    model: Arc<ModelSeries>,
    /// The model-level labels were folded by the cap.
    model_folded: bool,
}

const TOKEN_TYPES: [&str; 5] = ["prompt", "completion", "cached", "cache_write", "reasoning"];

fn us_to_seconds(us: u64) -> f64 {
    us as f64 / 1e6
}

/// Where a label set that is not in its map goes, when the map holds `len` sets and is capped at
/// `cap`: `None` (itself) while there is room; past the cap `model="other"`; past 110% of it, the
/// folded set if it already exists, else `provider`, `model`, `workspace` and `endpoint` all
/// `"other"`.
fn fold<'a>(
    key: SeriesRef<'a>,
    len: usize,
    cap: usize,
    contains: impl Fn(&SeriesRef<'a>) -> bool,
) -> Option<SeriesRef<'a>> {
    if len < cap {
        return None;
    }
    let folded = SeriesRef {
        model: OVERFLOW_LABEL,
        ..key
    };
    if len < cap.saturating_add(cap / 10) || contains(&folded) {
        return Some(folded);
    }
    Some(SeriesRef {
        provider: OVERFLOW_LABEL,
        model: OVERFLOW_LABEL,
        workspace: OVERFLOW_LABEL,
        // Model-level keys have no endpoint.
        endpoint: if key.endpoint.is_empty() {
            ""
        } else {
            OVERFLOW_LABEL
        },
        ..key
    })
}

/// A capped family of gauges keyed by (scope_kind, scope_id, kind).
struct ScopeGauges {
    family: Family<ScopeLabels, Gauge<f64, AtomicU64>>,
    handles: RwLock<HashMap<ScopeKey, Gauge<f64, AtomicU64>>>,
    max: usize,
}

impl ScopeGauges {
    fn new(max: usize) -> Self {
        ScopeGauges {
            family: Family::default(),
            handles: RwLock::new(HashMap::new()),
            max,
        }
    }

    /// Sets the gauge; returns false when the cap refused a new label set.
    fn set(&self, scope_kind: &str, scope_id: &str, kind: &str, value: f64) -> bool {
        let key = ScopeRef {
            scope_kind: clip(scope_kind),
            scope_id: clip(scope_id),
            kind: clip(kind),
        };
        if let Some(g) = self
            .handles
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
        {
            g.set(value);
            return true;
        }
        let mut map = self.handles.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(g) = map.get(&key) {
            g.set(value);
            return true;
        }
        if map.len() >= self.max {
            return false;
        }
        let gauge = self.family.get_or_create_owned(&ScopeLabels {
            scope_kind: key.scope_kind.to_owned(),
            scope_id: key.scope_id.to_owned(),
            kind: key.kind.to_owned(),
        });
        gauge.set(value);
        map.insert(ScopeKey::from(&key), gauge);
        true
    }
}

/// The gateway's Prometheus registry. Share it behind an `Arc`; every method takes `&self`.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    errors: Family<ErrorLabels, Counter>,
    total: HistogramFamily<ModelLabels>,
    upstream: HistogramFamily<ModelLabels>,
    ttft: HistogramFamily<ModelLabels>,
    overhead: HistogramFamily<ModelLabels>,
    tokens: Family<TokenLabels, Counter>,
    cost: Family<ModelLabels, UsdCounter>,
    /// One per [`CACHE_STATUSES`] entry, then `other`.
    cache: [Counter; CACHE_STATUSES.len() + 1],
    retries: Counter,
    retries_exhausted: Counter,
    fallbacks: Counter,
    log_queue_depth: Gauge,
    log_queue_bytes: Gauge,
    log_dropped: Counter,
    log_shed: Counter,
    log_written: Counter,
    budget_remaining: ScopeGauges,
    rate_limit_remaining: ScopeGauges,
    overflow: Counter,
    series: RwLock<HashMap<SeriesKey, Series>>,
    models: RwLock<HashMap<SeriesKey, Arc<ModelSeries>>>,
    limits: Limits,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("series", &self.series_count())
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with every metric registered and the default [`Limits`].
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// Like [`Self::new`], with other caps on distinct label sets (see the module docs).
    pub fn with_limits(limits: Limits) -> Self {
        let mut registry = Registry::with_prefix("portcullis");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Finished requests by provider, model, workspace, HTTP status, outcome and endpoint",
            requests.clone(),
        );
        let errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "errors",
            "Requests that ended in an error outcome",
            errors.clone(),
        );
        let total: HistogramFamily<ModelLabels> = Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "request_duration",
            "Request received to response (or stream) complete",
            Unit::Seconds,
            total.clone(),
        );
        let upstream: HistogramFamily<ModelLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "upstream_duration",
            "Time spent waiting on providers, every attempt included",
            Unit::Seconds,
            upstream.clone(),
        );
        let ttft: HistogramFamily<ModelLabels> = Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "time_to_first_token",
            "Streaming requests: request received to first event sent",
            Unit::Seconds,
            ttft.clone(),
        );
        let overhead: HistogramFamily<ModelLabels> =
            Family::new_with_constructor(overhead_histogram);
        registry.register_with_unit(
            "gateway_overhead",
            "The gateway's own share of the latency (total minus upstream)",
            Unit::Seconds,
            overhead.clone(),
        );
        let tokens = Family::<TokenLabels, Counter>::default();
        registry.register(
            "tokens",
            "Tokens as providers reported them (prompt includes cached and cache_write, completion includes reasoning)",
            tokens.clone(),
        );
        let cost = Family::<ModelLabels, UsdCounter>::default();
        registry.register("cost_usd", "Cost of requests in US dollars", cost.clone());

        let cache_family = Family::<CacheLabels, Counter>::default();
        registry.register("cache", "Requests by cache status", cache_family.clone());
        let cache = std::array::from_fn(|i| {
            let status = CACHE_STATUSES.get(i).copied().unwrap_or(OVERFLOW_LABEL);
            cache_family.get_or_create_owned(&CacheLabels { status })
        });

        let retries = Counter::default();
        registry.register(
            "retries",
            "Retry attempts that led to a response (requests that exhausted their retries are counted in retries_exhausted)",
            retries.clone(),
        );
        let retries_exhausted = Counter::default();
        registry.register(
            "retries_exhausted",
            "Requests that exhausted their retries",
            retries_exhausted.clone(),
        );
        let fallbacks = Counter::default();
        registry.register(
            "fallbacks",
            "Requests answered by a fallback target (more than one target tried)",
            fallbacks.clone(),
        );

        let log_queue_depth = Gauge::default();
        registry.register(
            "log_queue_depth",
            "Log records waiting to be written",
            log_queue_depth.clone(),
        );
        let log_queue_bytes = Gauge::default();
        registry.register(
            "log_queue_bytes",
            "Memory held by log records waiting to be written (bytes, approximate)",
            log_queue_bytes.clone(),
        );
        let log_dropped = Counter::default();
        registry.register(
            "log_records_dropped",
            "Log records dropped because the queue was full",
            log_dropped.clone(),
        );
        let log_shed = Counter::default();
        registry.register(
            "log_payloads_shed",
            "Log records queued without their payloads because the queue was over its byte budget",
            log_shed.clone(),
        );
        let log_written = Counter::default();
        registry.register(
            "log_records_written",
            "Log records written to the store",
            log_written.clone(),
        );

        let budget_remaining = ScopeGauges::new(limits.scope_series);
        registry.register(
            "budget_remaining",
            "What remains of a budget (kind: cost in USD, tokens, …)",
            budget_remaining.family.clone(),
        );
        let rate_limit_remaining = ScopeGauges::new(limits.scope_series);
        registry.register(
            "rate_limit_remaining",
            "What remains of a rate limit in its current window",
            rate_limit_remaining.family.clone(),
        );
        let overflow = Counter::default();
        registry.register(
            "metrics_series_overflow",
            "Records whose label set was folded into \"other\" by the cardinality cap",
            overflow.clone(),
        );

        Metrics {
            registry,
            requests,
            errors,
            total,
            upstream,
            ttft,
            overhead,
            tokens,
            cost,
            cache,
            retries,
            retries_exhausted,
            fallbacks,
            log_queue_depth,
            log_queue_bytes,
            log_dropped,
            log_shed,
            log_written,
            budget_remaining,
            rate_limit_remaining,
            overflow,
            series: RwLock::new(HashMap::new()),
            models: RwLock::new(HashMap::new()),
            limits,
        }
    }

    /// Counts one finished request. Cheap: one hash lookup under a read lock and a few atomic
    /// operations once its label set has been seen.
    pub fn observe(&self, r: &LogRecord) {
        let key = SeriesRef {
            provider: label(r.provider.as_deref()),
            model: label(
                r.model
                    .as_deref()
                    .filter(|m| !m.is_empty())
                    .or(r.requested_model.as_deref()),
            ),
            workspace: label(r.workspace_id.as_deref()),
            endpoint: label(Some(r.endpoint.as_str())),
            status: r.status,
            outcome: r.outcome.map_or(UNKNOWN_LABEL, Outcome::as_str),
        };
        let found = {
            let map = self.series.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(series) = map.get(&key) {
                self.record(series, r, false);
                true
            } else if let Some(folded) = fold(key, map.len(), self.limits.request_series, |k| {
                map.contains_key(k)
            }) && let Some(series) = map.get(&folded)
            {
                self.record(series, r, true);
                true
            } else {
                false
            }
        };
        if !found {
            self.observe_new(key, r);
        }

        if !r.cache_status.is_empty() {
            let i = CACHE_STATUSES
                .iter()
                .position(|s| *s == r.cache_status)
                .unwrap_or(CACHE_STATUSES.len());
            self.cache[i].inc();
        }
        match r.retry_count {
            n if n > 0 => {
                self.retries.inc_by(n as u64);
            }
            n if n < 0 => {
                self.retries_exhausted.inc();
            }
            _ => {}
        }
        if r.fallback_path.len() > 1 {
            self.fallbacks.inc();
        }
    }

    fn record(&self, s: &Series, r: &LogRecord, folded: bool) {
        s.requests.inc();
        if let Some(errors) = &s.errors {
            errors.inc();
        }
        if folded || s.model_folded {
            self.overflow.inc();
        }
        let m = &*s.model;
        let t = &r.timings;
        m.total.observe(us_to_seconds(t.total_us));
        m.overhead.observe(us_to_seconds(t.overhead_us));
        if let Some(us) = t.upstream_us {
            m.upstream
                .get_or_init(|| self.upstream.get_or_create_owned(&m.labels))
                .observe(us_to_seconds(us));
        }
        if r.stream
            && let Some(us) = t.ttft_us
        {
            m.ttft
                .get_or_init(|| self.ttft.get_or_create_owned(&m.labels))
                .observe(us_to_seconds(us));
        }
        let k = &r.tokens;
        let counts = [k.prompt, k.completion, k.cached, k.cache_write, k.reasoning];
        for ((slot, n), r#type) in m.tokens.iter().zip(counts).zip(TOKEN_TYPES) {
            if n > 0 {
                slot.get_or_init(|| {
                    self.tokens.get_or_create_owned(&TokenLabels {
                        provider: m.labels.provider.clone(),
                        model: m.labels.model.clone(),
                        workspace: m.labels.workspace.clone(),
                        r#type,
                    })
                })
                .inc_by(n);
            }
        }
        if let Some(nanos) = r.cost_nanos
            && nanos > 0
        {
            m.cost
                .get_or_init(|| self.cost.get_or_create_owned(&m.labels))
                .add_nanos(nanos as u64);
        }
    }

    /// The slow path: a label set seen for the first time (or folded by the cap).
    #[cold]
    fn observe_new(&self, key: SeriesRef<'_>, r: &LogRecord) {
        let mut map = self.series.write().unwrap_or_else(PoisonError::into_inner);
        // Another thread may have registered it since the read lock was released.
        if let Some(series) = map.get(&key) {
            self.record(series, r, false);
            return;
        }
        let folded = fold(key, map.len(), self.limits.request_series, |k| {
            map.contains_key(k)
        });
        let target = folded.unwrap_or(key);
        if !map.contains_key(&target) {
            let is_error = r.outcome.map_or(r.status >= 400, Outcome::is_error);
            let series = self.new_series(target, is_error);
            map.insert(SeriesKey::from(&target), series);
        }
        if let Some(series) = map.get(&target) {
            self.record(series, r, folded.is_some());
        }
    }

    fn new_series(&self, key: SeriesRef<'_>, is_error: bool) -> Series {
        let requests = self.requests.get_or_create_owned(&RequestLabels {
            provider: key.provider.to_owned(),
            model: key.model.to_owned(),
            workspace: key.workspace.to_owned(),
            status: key.status,
            outcome: key.outcome,
            endpoint: key.endpoint.to_owned(),
        });
        let errors = is_error.then(|| {
            self.errors.get_or_create_owned(&ErrorLabels {
                provider: key.provider.to_owned(),
                model: key.model.to_owned(),
                workspace: key.workspace.to_owned(),
                outcome: key.outcome,
                status: key.status,
            })
        });
        // Model series are keyed by the same struct with the per-request fields blanked.
        let model_key = SeriesRef {
            endpoint: "",
            status: 0,
            outcome: "",
            ..key
        };
        let mut models = self.models.write().unwrap_or_else(PoisonError::into_inner);
        let target = if models.contains_key(&model_key) {
            None
        } else {
            fold(model_key, models.len(), self.limits.model_series, |k| {
                models.contains_key(k)
            })
        };
        let model_folded = target.is_some() && key.model != OVERFLOW_LABEL;
        let target = target.unwrap_or(model_key);
        let model = match models.get(&target) {
            Some(m) => m.clone(),
            None => {
                let m = Arc::new(self.new_model_series(target));
                models.insert(SeriesKey::from(&target), m.clone());
                m
            }
        };
        Series {
            requests,
            errors,
            model,
            model_folded,
        }
    }

    fn new_model_series(&self, key: SeriesRef<'_>) -> ModelSeries {
        let labels = ModelLabels {
            provider: key.provider.to_owned(),
            model: key.model.to_owned(),
            workspace: key.workspace.to_owned(),
        };
        ModelSeries {
            total: self.total.get_or_create_owned(&labels),
            overhead: self.overhead.get_or_create_owned(&labels),
            upstream: OnceLock::new(),
            ttft: OnceLock::new(),
            tokens: Default::default(),
            cost: OnceLock::new(),
            labels,
        }
    }

    /// Sets the log queue's depth and the writer's running totals (absolute values).
    pub fn set_log_queue(&self, s: &SinkStats) {
        let gauge = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.log_queue_depth.set(gauge(s.queue_depth));
        self.log_queue_bytes.set(gauge(s.queue_bytes));
        self.log_dropped.inner().store(s.dropped, Ordering::Relaxed);
        self.log_shed
            .inner()
            .store(s.payloads_shed, Ordering::Relaxed);
        self.log_written.inner().store(s.written, Ordering::Relaxed);
    }

    /// Sets what remains of a budget, e.g. `("workspace", "ws_1", "cost", 12.5)`. Scope ids are
    /// budget owners (workspaces, keys), bounded by configuration; past
    /// [`Limits::scope_series`] label sets new ones are ignored.
    pub fn set_budget_remaining(
        &self,
        scope_kind: &str,
        scope_id: &str,
        kind: &str,
        remaining: f64,
    ) {
        if !self
            .budget_remaining
            .set(scope_kind, scope_id, kind, remaining)
        {
            self.overflow.inc();
        }
    }

    /// Sets what remains of a rate limit in its window, e.g. `("api_key", "key_1", "requests",
    /// 42.0)`. Capped like [`Self::set_budget_remaining`].
    pub fn set_rate_limit_remaining(
        &self,
        scope_kind: &str,
        scope_id: &str,
        kind: &str,
        remaining: f64,
    ) {
        if !self
            .rate_limit_remaining
            .set(scope_kind, scope_id, kind, remaining)
        {
            self.overflow.inc();
        }
    }

    /// Distinct request label sets so far (at most about 110% of [`Limits::request_series`]).
    pub fn series_count(&self) -> usize {
        self.series
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Distinct (provider, model, workspace) sets so far (at most about 110% of
    /// [`Limits::model_series`]).
    pub fn model_series_count(&self) -> usize {
        self.models
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Every metric in the Prometheus text exposition format; serve it with [`Self::content_type`].
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing to a String cannot fail.
        let _ = prometheus_text::encode(&mut out, &self.registry);
        out
    }

    /// The `Content-Type` of [`Self::render`]: `text/plain; version=0.0.4; charset=utf-8`.
    pub fn content_type(&self) -> &'static str {
        CONTENT_TYPE
    }

    /// Every metric in the OpenMetrics text format (ends with `# EOF`), for scrapers that ask for
    /// `application/openmetrics-text`; serve it with [`OPENMETRICS_CONTENT_TYPE`].
    pub fn render_openmetrics(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        let _ = text::encode(&mut out, &self.registry);
        out
    }
}

/// A label value: missing or empty becomes `unknown`, long values are clipped.
fn label(v: Option<&str>) -> &str {
    match v {
        Some(s) if !s.is_empty() => clip(s),
        _ => UNKNOWN_LABEL,
    }
}

fn clip(s: &str) -> &str {
    if s.len() <= MAX_LABEL_LEN {
        return s;
    }
    let mut end = MAX_LABEL_LEN;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

// `SeriesRef` must hash like `SeriesKey` for the borrowed lookups to find anything.
#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn borrowed_and_owned_keys_hash_alike() {
        let r = SeriesRef {
            provider: "openai",
            model: "gpt-4o",
            workspace: "ws",
            endpoint: "chat.completions",
            status: 200,
            outcome: "success",
        };
        let k = SeriesKey::from(&r);
        let s = hashbrown::DefaultHashBuilder::default();
        assert_eq!(s.hash_one(r), s.hash_one(&k));
        assert!(r.equivalent(&k));
    }

    #[test]
    fn clip_respects_char_boundaries() {
        let long = "é".repeat(100);
        let c = clip(&long);
        assert!(c.len() <= MAX_LABEL_LEN);
        assert!(c.chars().all(|ch| ch == 'é'));
        assert_eq!(clip("short"), "short");
    }
}
