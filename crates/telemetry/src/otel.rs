//! One OpenTelemetry span per finished request, exported over OTLP/HTTP (protobuf) in batches.
//!
//! [`Tracing::record`] turns a [`LogRecord`] into the SDK's [`SpanData`] with the record's own
//! W3C ids and times, and hands it to a bounded queue without waiting: when the queue is full the
//! span is dropped and counted. A Tokio task batches the queue (up to [`MAX_BATCH`] spans, or
//! every [`BATCH_DELAY`]) and exports through `opentelemetry-otlp`'s HTTP exporter (its retry
//! policy, bounded by the configured timeout) over a hyper + rustls client. Failures are logged at
//! most once per [`LOG_INTERVAL`] and the batch is dropped. [`Tracing::flush`] and
//! [`Tracing::shutdown`] are async and bounded by the timeout.
//!
//! The span: name `"{gen_ai.operation.name} {gen_ai.request.model}"`, kind `SERVER` (the gateway
//! handling the caller's request, child of the caller's span when it sent `traceparent`), the
//! record's `w3c_trace_id` / `span_id` / `parent_span_id`, start `created_at` and end start +
//! `timings.total_us`, status `ERROR` (description: the error message) when the outcome is an
//! error. Attributes (each only when the record has a value):
//!
//! - GenAI semantic conventions (Development status): `gen_ai.operation.name`,
//!   `gen_ai.provider.name` and the deprecated `gen_ai.system` (same value), `gen_ai.request.model`,
//!   `gen_ai.response.model`, `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`,
//!   `gen_ai.usage.cache_read.input_tokens`, `gen_ai.usage.cache_creation.input_tokens`,
//!   `gen_ai.usage.reasoning.output_tokens`;
//! - HTTP and errors: `http.request.method`, `url.path`, `http.response.status_code`,
//!   `http.request.body.size`, `http.response.body.size`, `error.type` (the gateway's error type,
//!   else the outcome);
//! - the gateway's: `portcullis.trace_id` (the client's trace id), `portcullis.request_id`,
//!   `portcullis.workspace_id`, `portcullis.api_key_id`, `portcullis.provider` (kind),
//!   `portcullis.provider_id`, `portcullis.integration_id`, `portcullis.endpoint`,
//!   `portcullis.stream`, `portcullis.outcome`, `portcullis.error_code`, `portcullis.cost_usd`,
//!   `portcullis.cache_status`, `portcullis.retry_count`, `portcullis.fallback_count`,
//!   `portcullis.overhead_us`, `portcullis.upstream_us`, `portcullis.ttft_us`.
//!
//! Bodies, metadata and the end user are never put on spans. Sampling is parent-based: a
//! request whose caller sent `traceparent` with the sampled flag off is not exported (its
//! providers receive the flag off too); every other request is.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_http::hyper::HyperClient;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanExporter, SpanLinks};
use portcullis_logs::{LogRecord, Outcome};
use tokio::sync::{mpsc, oneshot};

use crate::TelemetryError;
use crate::settings::OtlpSettings;
use crate::trace_context::{is_valid_span_id, is_valid_trace_id, new_span_id, new_trace_id};

/// Spans waiting for export; more are dropped.
pub const MAX_QUEUE: usize = 4096;
/// Spans per export request.
pub const MAX_BATCH: usize = 512;
/// How long a partial batch waits before it is exported.
pub const BATCH_DELAY: Duration = Duration::from_secs(2);
/// At most one warning per this interval for drops and for failed exports.
pub const LOG_INTERVAL: Duration = Duration::from_secs(30);
/// The instrumentation scope of the exported spans.
pub const SCOPE_NAME: &str = "portcullis";
/// Longest `error.message`-like text put on a span (status description).
const MAX_DESCRIPTION: usize = 256;

/// Counters of what the exporter did, for health checks and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TracingStats {
    /// Spans accepted by a successful export.
    pub exported: u64,
    /// Spans dropped because the queue was full or tracing was shut down.
    pub dropped: u64,
    /// Spans lost in failed exports.
    pub failed: u64,
}

#[derive(Debug, Default)]
struct Counters {
    exported: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
}

/// Lets a warning through at most once per interval and counts what it held back.
#[derive(Debug)]
struct LogLimiter {
    origin: Instant,
    interval_ms: u64,
    next_ms: AtomicU64,
    suppressed: AtomicU64,
}

impl LogLimiter {
    fn new(interval: Duration) -> Self {
        LogLimiter {
            origin: Instant::now(),
            interval_ms: interval.as_millis() as u64,
            next_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(number held back since the last one)` when this one may be logged.
    fn allow(&self) -> Option<u64> {
        let now = self.origin.elapsed().as_millis() as u64;
        let next = self.next_ms.load(Ordering::Relaxed);
        if now >= next
            && self
                .next_ms
                .compare_exchange(
                    next,
                    now + self.interval_ms,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                )
                .is_ok()
        {
            return Some(self.suppressed.swap(0, Ordering::Relaxed));
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        None
    }
}

enum Msg {
    Span(Box<SpanData>),
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

#[derive(Debug)]
struct Inner {
    tx: mpsc::Sender<Msg>,
    counters: Arc<Counters>,
    drops_log: LogLimiter,
    scope: InstrumentationScope,
    timeout: Duration,
}

/// The span exporter: disabled (every call a no-op) unless started with OTLP settings. Cheap to
/// clone; clones share the queue. When the last clone is dropped the queue is drained and
/// exported in the background; call [`Self::shutdown`] to wait for that.
#[derive(Debug, Clone, Default)]
pub struct Tracing {
    inner: Option<Arc<Inner>>,
}

impl Tracing {
    /// Tracing that records nothing.
    pub fn disabled() -> Self {
        Tracing { inner: None }
    }

    /// Starts exporting to `settings` (disabled when `None`). Needs a Tokio runtime: the batch
    /// task is spawned on the current one.
    pub fn start(settings: Option<&OtlpSettings>) -> Result<Self, TelemetryError> {
        let Some(settings) = settings else {
            return Ok(Self::disabled());
        };
        settings.validate()?;
        let runtime =
            tokio::runtime::Handle::try_current().map_err(|_| TelemetryError::NoRuntime)?;
        let url = settings.traces_url()?;
        let timeout = settings.timeout();

        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .build();
        let client = HyperClient::new(https, timeout, None);
        let headers: HashMap<String, String> = settings
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(client)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(url.clone())
            .with_timeout(timeout)
            .with_headers(headers)
            .build()
            .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
        let resource = Resource::builder_empty()
            .with_service_name(settings.service_name.clone())
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        exporter.set_resource(&resource);

        let (tx, rx) = mpsc::channel(MAX_QUEUE);
        let counters = Arc::new(Counters::default());
        runtime.spawn(run_exporter(exporter, rx, counters.clone(), url, timeout));
        let scope = InstrumentationScope::builder(SCOPE_NAME)
            .with_version(env!("CARGO_PKG_VERSION"))
            .build();
        Ok(Tracing {
            inner: Some(Arc::new(Inner {
                tx,
                counters,
                drops_log: LogLimiter::new(LOG_INTERVAL),
                scope,
                timeout,
            })),
        })
    }

    /// Whether spans are exported.
    pub fn is_enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Queues the span of one finished request. Never waits: a full queue drops it.
    pub fn record(&self, record: &LogRecord) {
        let Some(inner) = &self.inner else {
            return;
        };
        if record.sampled == Some(false) {
            return;
        }
        let span = span_data(record, inner.scope.clone());
        if inner.tx.try_send(Msg::Span(Box::new(span))).is_err() {
            inner.counters.dropped.fetch_add(1, Ordering::Relaxed);
            if let Some(held_back) = inner.drops_log.allow() {
                tracing::warn!(
                    queue = MAX_QUEUE,
                    dropped_since_last_warning = held_back,
                    "OTLP span queue full or closed: dropping spans"
                );
            }
        }
    }

    /// Exports everything queued so far and waits for it (at most the export timeout plus the
    /// time to reach the queue). Spans that fail are dropped, not retried later.
    pub async fn flush(&self) -> Result<(), TelemetryError> {
        self.control(Msg::Flush).await
    }

    /// Exports everything queued, then stops; later spans are dropped. Bounded like
    /// [`Self::flush`]. Shutting down a disabled or already shut down `Tracing` is a no-op.
    pub async fn shutdown(&self) -> Result<(), TelemetryError> {
        match self.control(Msg::Shutdown).await {
            Err(TelemetryError::Closed) => Ok(()),
            r => r,
        }
    }

    async fn control(&self, msg: fn(oneshot::Sender<()>) -> Msg) -> Result<(), TelemetryError> {
        let Some(inner) = &self.inner else {
            return Ok(());
        };
        // The queue ahead may hold a full export, then ours.
        let limit = inner.timeout * 2 + Duration::from_secs(1);
        let (done, wait) = oneshot::channel();
        let sent = tokio::time::timeout(limit, inner.tx.send(msg(done)))
            .await
            .map_err(|_| TelemetryError::Timeout(limit))?;
        if sent.is_err() {
            return Err(TelemetryError::Closed);
        }
        match tokio::time::timeout(limit, wait).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(TelemetryError::Closed),
            Err(_) => Err(TelemetryError::Timeout(limit)),
        }
    }

    /// What the exporter has done so far (all zero when disabled).
    pub fn stats(&self) -> TracingStats {
        let Some(inner) = &self.inner else {
            return TracingStats::default();
        };
        let c = &inner.counters;
        TracingStats {
            exported: c.exported.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
        }
    }
}

async fn run_exporter(
    exporter: opentelemetry_otlp::SpanExporter,
    mut rx: mpsc::Receiver<Msg>,
    counters: Arc<Counters>,
    url: String,
    timeout: Duration,
) {
    let failures_log = LogLimiter::new(LOG_INTERVAL);
    let export = |batch: Vec<SpanData>| {
        let (exporter, counters, failures_log, url) = (&exporter, &counters, &failures_log, &url);
        async move {
            if batch.is_empty() {
                return;
            }
            let n = batch.len() as u64;
            // The exporter bounds its retries by `timeout`; this also bounds a stuck connection.
            let result =
                tokio::time::timeout(timeout + Duration::from_secs(1), exporter.export(batch))
                    .await;
            let error = match result {
                Ok(Ok(())) => {
                    counters.exported.fetch_add(n, Ordering::Relaxed);
                    return;
                }
                Ok(Err(e)) => e.to_string(),
                Err(_) => format!("timed out after {timeout:?}"),
            };
            counters.failed.fetch_add(n, Ordering::Relaxed);
            if let Some(held_back) = failures_log.allow() {
                tracing::warn!(
                    endpoint = %url,
                    spans = n,
                    failed_exports_since_last_warning = held_back,
                    error = %error,
                    "OTLP span export failed; spans dropped"
                );
            }
        }
    };

    let mut batch: Vec<SpanData> = Vec::with_capacity(MAX_BATCH);
    let mut ticker = tokio::time::interval(BATCH_DELAY);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(Msg::Span(span)) => {
                    batch.push(*span);
                    if batch.len() >= MAX_BATCH {
                        export(std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH))).await;
                    }
                }
                Some(Msg::Flush(done)) => {
                    export(std::mem::take(&mut batch)).await;
                    let _ = done.send(());
                }
                Some(Msg::Shutdown(done)) => {
                    rx.close();
                    drain(&mut rx, &mut batch, &counters);
                    for chunk in chunks(std::mem::take(&mut batch)) {
                        export(chunk).await;
                    }
                    let _ = exporter.shutdown();
                    let _ = done.send(());
                    return;
                }
                None => {
                    for chunk in chunks(std::mem::take(&mut batch)) {
                        export(chunk).await;
                    }
                    let _ = exporter.shutdown();
                    return;
                }
            },
            _ = ticker.tick() => {
                if !batch.is_empty() {
                    export(std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH))).await;
                }
            }
        }
    }
}

/// Takes what is still queued after a shutdown; waiting control messages are answered.
fn drain(rx: &mut mpsc::Receiver<Msg>, batch: &mut Vec<SpanData>, counters: &Counters) {
    while let Ok(msg) = rx.try_recv() {
        match msg {
            Msg::Span(span) if batch.len() < MAX_QUEUE + MAX_BATCH => batch.push(*span),
            Msg::Span(_) => {
                counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
            Msg::Flush(done) | Msg::Shutdown(done) => {
                let _ = done.send(());
            }
        }
    }
}

fn chunks(mut spans: Vec<SpanData>) -> Vec<Vec<SpanData>> {
    let mut out = Vec::new();
    while spans.len() > MAX_BATCH {
        let rest = spans.split_off(MAX_BATCH);
        out.push(std::mem::replace(&mut spans, rest));
    }
    out.push(spans);
    out
}

/// The GenAI `gen_ai.operation.name` for a record's endpoint: `chat`, `text_completion`,
/// `embeddings`, or the endpoint itself for anything without a predefined value (`proxy`,
/// `messages.count_tokens`, …).
pub fn operation_name(endpoint: &str) -> &str {
    match endpoint {
        "chat.completions" | "chatComplete" | "messages" | "responses" => "chat",
        "completions" | "complete" => "text_completion",
        "embeddings" | "embed" => "embeddings",
        "" => "unknown",
        other => other,
    }
}

/// The GenAI `gen_ai.provider.name` for a provider kind: the semantic conventions' well-known
/// value where there is one (`azure-openai` → `azure.ai.openai`, `google` → `gcp.gemini`, …),
/// the kind itself otherwise.
pub fn provider_name(provider: &str) -> &str {
    match provider {
        "azure-openai" => "azure.ai.openai",
        "azure-ai" => "azure.ai.inference",
        "bedrock" | "aws-bedrock" => "aws.bedrock",
        "vertex-ai" | "google-vertex-ai" => "gcp.vertex_ai",
        "google" => "gcp.gemini",
        "mistral-ai" => "mistral_ai",
        "x-ai" => "x_ai",
        "perplexity-ai" => "perplexity",
        "watsonx" | "ibm-watsonx" => "ibm.watsonx.ai",
        other => other,
    }
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// The span of one finished request (what [`Tracing::record`] exports). Invalid ids in the
/// record are replaced by fresh random ones (an invalid parent is left out).
pub fn span_data(r: &LogRecord, scope: InstrumentationScope) -> SpanData {
    let trace_id = if is_valid_trace_id(&r.w3c_trace_id) {
        TraceId::from_hex(&r.w3c_trace_id)
    } else {
        TraceId::from_hex(&new_trace_id())
    }
    .unwrap_or(TraceId::INVALID);
    let span_id = if is_valid_span_id(&r.span_id) {
        SpanId::from_hex(&r.span_id)
    } else {
        SpanId::from_hex(&new_span_id())
    }
    .unwrap_or(SpanId::INVALID);
    let parent = r
        .parent_span_id
        .as_deref()
        .filter(|p| is_valid_span_id(p))
        .and_then(|p| SpanId::from_hex(p).ok());

    let total = Duration::from_micros(r.timings.total_us);
    let start = match u64::try_from(r.created_at) {
        Ok(ms) if ms > 0 => UNIX_EPOCH + Duration::from_millis(ms),
        _ => SystemTime::now().checked_sub(total).unwrap_or(UNIX_EPOCH),
    };
    let end = start + total;

    let operation = operation_name(&r.endpoint);
    let request_model = nonempty(&r.requested_model).or(nonempty(&r.model));
    let name: Cow<'static, str> = match request_model {
        Some(m) => format!("{operation} {m}").into(),
        None => operation.to_owned().into(),
    };

    let failed = r.outcome.map_or(r.status >= 400, Outcome::is_error);
    let mut a: Vec<KeyValue> = Vec::with_capacity(32);
    a.push(KeyValue::new("gen_ai.operation.name", operation.to_owned()));
    if let Some(p) = nonempty(&r.provider) {
        let p = provider_name(p).to_owned();
        a.push(KeyValue::new("gen_ai.provider.name", p.clone()));
        // Deprecated since semconv 1.37 in favour of gen_ai.provider.name; still read by many
        // backends.
        a.push(KeyValue::new("gen_ai.system", p));
    }
    if let Some(m) = request_model {
        a.push(KeyValue::new("gen_ai.request.model", m.to_owned()));
    }
    if let Some(m) = nonempty(&r.model) {
        a.push(KeyValue::new("gen_ai.response.model", m.to_owned()));
    }
    let t = &r.tokens;
    if t.total() > 0 || r.outcome == Some(Outcome::Success) {
        a.push(KeyValue::new("gen_ai.usage.input_tokens", int(t.prompt)));
        a.push(KeyValue::new(
            "gen_ai.usage.output_tokens",
            int(t.completion),
        ));
    }
    if t.cached > 0 {
        a.push(KeyValue::new(
            "gen_ai.usage.cache_read.input_tokens",
            int(t.cached),
        ));
    }
    if t.cache_write > 0 {
        a.push(KeyValue::new(
            "gen_ai.usage.cache_creation.input_tokens",
            int(t.cache_write),
        ));
    }
    if t.reasoning > 0 {
        a.push(KeyValue::new(
            "gen_ai.usage.reasoning.output_tokens",
            int(t.reasoning),
        ));
    }
    if !r.method.is_empty() {
        a.push(KeyValue::new("http.request.method", r.method.clone()));
    }
    if !r.path.is_empty() {
        a.push(KeyValue::new("url.path", r.path.clone()));
    }
    if r.status != 0 {
        a.push(KeyValue::new(
            "http.response.status_code",
            i64::from(r.status),
        ));
    }
    if r.request_bytes > 0 {
        a.push(KeyValue::new(
            "http.request.body.size",
            int(r.request_bytes),
        ));
    }
    if r.response_bytes > 0 {
        a.push(KeyValue::new(
            "http.response.body.size",
            int(r.response_bytes),
        ));
    }
    if failed {
        let error_type = nonempty(&r.error_type)
            .or(r.outcome.map(Outcome::as_str))
            .map_or_else(|| r.status.to_string(), str::to_owned);
        a.push(KeyValue::new("error.type", error_type));
    }

    if !r.trace_id.is_empty() {
        a.push(KeyValue::new("portcullis.trace_id", r.trace_id.clone()));
    }
    if !r.id.is_empty() {
        a.push(KeyValue::new("portcullis.request_id", r.id.clone()));
    }
    if let Some(w) = nonempty(&r.workspace_id) {
        a.push(KeyValue::new("portcullis.workspace_id", w.to_owned()));
    }
    if let Some(k) = nonempty(&r.api_key_id) {
        a.push(KeyValue::new("portcullis.api_key_id", k.to_owned()));
    }
    if let Some(p) = nonempty(&r.provider) {
        a.push(KeyValue::new("portcullis.provider", p.to_owned()));
    }
    if let Some(p) = nonempty(&r.provider_id) {
        a.push(KeyValue::new("portcullis.provider_id", p.to_owned()));
    }
    if let Some(i) = nonempty(&r.integration_id) {
        a.push(KeyValue::new("portcullis.integration_id", i.to_owned()));
    }
    if !r.endpoint.is_empty() {
        a.push(KeyValue::new("portcullis.endpoint", r.endpoint.clone()));
    }
    a.push(KeyValue::new("portcullis.stream", r.stream));
    if let Some(o) = r.outcome {
        a.push(KeyValue::new("portcullis.outcome", o.as_str()));
    }
    if let Some(c) = nonempty(&r.error_code) {
        a.push(KeyValue::new("portcullis.error_code", c.to_owned()));
    }
    if let Some(nanos) = r.cost_nanos {
        a.push(KeyValue::new("portcullis.cost_usd", nanos as f64 / 1e9));
    }
    if !r.cache_status.is_empty() {
        a.push(KeyValue::new(
            "portcullis.cache_status",
            r.cache_status.clone(),
        ));
    }
    a.push(KeyValue::new(
        "portcullis.retry_count",
        i64::from(r.retry_count),
    ));
    if r.fallback_path.len() > 1 {
        a.push(KeyValue::new(
            "portcullis.fallback_count",
            (r.fallback_path.len() - 1) as i64,
        ));
    }
    a.push(KeyValue::new(
        "portcullis.overhead_us",
        int(r.timings.overhead_us),
    ));
    if let Some(us) = r.timings.upstream_us {
        a.push(KeyValue::new("portcullis.upstream_us", int(us)));
    }
    if let Some(us) = r.timings.ttft_us {
        a.push(KeyValue::new("portcullis.ttft_us", int(us)));
    }

    let status = if failed {
        let description = nonempty(&r.error_message)
            .or(nonempty(&r.error_type))
            .or(r.outcome.map(Outcome::as_str))
            .unwrap_or("error");
        Status::error(clip(description, MAX_DESCRIPTION).to_owned())
    } else {
        Status::Unset
    };

    SpanData {
        span_context: SpanContext::new(
            trace_id,
            span_id,
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        ),
        parent_span_id: parent.unwrap_or(SpanId::INVALID),
        parent_span_is_remote: parent.is_some(),
        span_kind: SpanKind::Server,
        name,
        start_time: start,
        end_time: end,
        attributes: a,
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status,
        instrumentation_scope: scope,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> InstrumentationScope {
        InstrumentationScope::builder(SCOPE_NAME).build()
    }

    #[test]
    fn invalid_ids_are_replaced_and_invalid_parent_dropped() {
        let r = LogRecord {
            w3c_trace_id: "not-hex".into(),
            span_id: "0000000000000000".into(),
            parent_span_id: Some("ABCDEFABCDEFABCD".into()),
            created_at: 1_700_000_000_000,
            endpoint: "embeddings".into(),
            ..Default::default()
        };
        let s = span_data(&r, scope());
        assert!(s.span_context.trace_id() != TraceId::INVALID);
        assert!(s.span_context.span_id() != SpanId::INVALID);
        assert_eq!(s.parent_span_id, SpanId::INVALID);
        assert!(!s.parent_span_is_remote);
        assert_eq!(s.name, "embeddings");
    }

    #[test]
    fn operation_and_provider_names() {
        assert_eq!(operation_name("chat.completions"), "chat");
        assert_eq!(operation_name("messages"), "chat");
        assert_eq!(operation_name("completions"), "text_completion");
        assert_eq!(operation_name("embeddings"), "embeddings");
        assert_eq!(operation_name("proxy"), "proxy");
        assert_eq!(provider_name("openai"), "openai");
        assert_eq!(provider_name("azure-openai"), "azure.ai.openai");
        assert_eq!(provider_name("google"), "gcp.gemini");
        assert_eq!(provider_name("together-ai"), "together-ai");
    }

    #[test]
    fn log_limiter_lets_one_through_per_interval() {
        let l = LogLimiter::new(Duration::from_secs(3600));
        assert_eq!(l.allow(), Some(0));
        assert_eq!(l.allow(), None);
        assert_eq!(l.allow(), None);
        let l = LogLimiter::new(Duration::ZERO);
        assert_eq!(l.allow(), Some(0));
        assert_eq!(l.allow(), Some(0));
    }

    #[test]
    fn chunks_split_large_batches() {
        let r = LogRecord::default();
        let spans: Vec<SpanData> = (0..MAX_BATCH * 2 + 3)
            .map(|_| span_data(&r, scope()))
            .collect();
        let sizes: Vec<usize> = chunks(spans).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![MAX_BATCH, MAX_BATCH, 3]);
    }
}
