//! A request's log record while the request runs: started when it arrives, filled in as the
//! pipeline learns things, emitted once when the response is complete.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue};
use portcullis_core::{GatewayError, JsonObject, Usage};
use portcullis_engine::{Journal, JournalEntries};
use portcullis_logs::{LogRecord, Outcome, Tokens};
use portcullis_pricing::PriceTable;
use serde_json::Value;

use portcullis_telemetry as trace_context;

use super::{Observer, classify, mask};
use crate::governance::Caller;

/// How a stream ended, deposited by the engine's end-of-stream callback.
#[derive(Debug, Default, Clone)]
pub struct StreamSummary {
    pub usage: Option<Usage>,
    pub error: Option<GatewayError>,
    pub completed: bool,
    pub provider: String,
    pub model: String,
    /// The response the stream added up to (JSON text), when payloads are kept.
    pub response: Option<Vec<u8>>,
}

pub type StreamSlot = Arc<Mutex<Option<StreamSummary>>>;

pub struct Draft {
    pub(super) started: Instant,
    pub(super) rec: LogRecord,
    pub(super) journal: Arc<Journal>,
    pub(super) observer: Arc<Observer>,
    pub(super) prices: &'static PriceTable,
    /// Payloads are kept: the log store listens and the client did not send
    /// `x-portkey-debug: false`.
    pub(super) payloads: bool,
    /// Time the provider spent before the handler returned (streams add their body later).
    pub(super) upstream_before: std::time::Duration,
    pub(super) answered_at: Option<Instant>,
    pub(super) stream: Option<StreamSlot>,
}

impl Draft {
    /// Every request gets one (its timings feed the `server-timing` header); it is only emitted
    /// when someone listens.
    pub fn begin(
        observer: &Arc<Observer>,
        prices: &'static PriceTable,
        endpoint: &str,
        method: &http::Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Draft {
        let incoming = headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .and_then(trace_context::parse_traceparent);
        let (w3c_trace_id, parent_span_id, sampled) = match incoming {
            Some(i) => (i.trace_id, Some(i.parent_span_id), Some(i.sampled)),
            None => (trace_context::new_trace_id(), None, None),
        };
        let (id, created_at) = portcullis_logs::record::new_id();
        let rec = LogRecord {
            id,
            w3c_trace_id,
            span_id: trace_context::new_span_id(),
            parent_span_id,
            sampled,
            created_at,
            endpoint: endpoint.to_owned(),
            method: method.as_str().to_owned(),
            path: path.to_owned(),
            cache_status: "DISABLED".into(),
            ..LogRecord::default()
        };
        Draft {
            started: Instant::now(),
            rec,
            journal: Arc::default(),
            observer: observer.clone(),
            prices,
            payloads: observer.wants_payloads(),
            upstream_before: std::time::Duration::ZERO,
            answered_at: None,
            stream: None,
        }
    }

    /// Portkey's trace id: the client's (`x-portkey-trace-id`), or else the record's own id,
    /// which the log store finds without a trace index entry (see `portcullis_logs::store`).
    /// Also whether the client allows payloads (`x-portkey-debug`). Returns the trace id.
    pub fn trace(&mut self, client_trace_id: Option<&str>, debug: bool) -> String {
        self.rec.trace_id = client_trace_id.unwrap_or(&self.rec.id).to_owned();
        self.payloads &= debug;
        self.rec.trace_id.clone()
    }

    pub fn caller(&mut self, caller: &Caller) {
        if let Some(p) = caller.principal() {
            self.rec.api_key_id = Some(p.key_id.clone());
            self.rec.workspace_id = p.workspace_id.clone();
        }
    }

    /// The parsed JSON request (`body`, from `raw`): requested model, stream flag, size and
    /// (masked) payload.
    pub fn request_json(&mut self, body: &JsonObject, raw: &[u8]) {
        self.rec.requested_model = body.get("model").and_then(Value::as_str).map(str::to_owned);
        self.rec.stream = body.get("stream").and_then(Value::as_bool).unwrap_or(false);
        self.rec.request_bytes = raw.len() as u64;
        if self.payloads {
            self.rec.request_body =
                Some(mask::object_payload(raw, body, self.observer.payload_cap));
        }
    }

    /// A body the gateway does not parse (passthrough): size, and payload when it was buffered.
    pub fn request_bytes(&mut self, bytes: Option<&Bytes>, len: u64) {
        self.rec.request_bytes = len;
        if self.payloads
            && let Some(b) = bytes
        {
            self.rec.request_body = Some(mask::bytes_payload(b, self.observer.payload_cap));
        }
    }

    pub fn metadata(&mut self, metadata: &JsonObject) {
        self.rec.metadata = metadata.clone();
    }

    /// The most payload text the record keeps, when it keeps payloads.
    pub fn payload_cap(&self) -> Option<usize> {
        self.payloads.then_some(self.observer.payload_cap)
    }

    /// The journal the engine writes attempts into.
    pub fn journal(&self) -> Arc<Journal> {
        self.journal.clone()
    }

    /// The `traceparent` providers receive: this request's span as their parent, with the
    /// caller's sampling decision (sampled when it made none).
    pub fn traceparent(&self) -> Option<HeaderValue> {
        HeaderValue::from_str(&trace_context::traceparent(
            &self.rec.w3c_trace_id,
            &self.rec.span_id,
            self.rec.sampled != Some(false),
        ))
        .ok()
    }

    /// Where a stream's end is reported (by the pipeline's end-of-stream callback).
    pub fn stream_slot(&mut self) -> StreamSlot {
        self.stream.get_or_insert_with(StreamSlot::default).clone()
    }

    /// The answer is not a stream: no end-of-stream report will come.
    pub fn no_stream(&mut self) {
        self.stream = None;
    }

    /// The request ended before any provider answered (validation, auth, limits): emit now.
    pub fn fail(mut self, err: &GatewayError) {
        self.error(err);
        self.rec.status = err.status().as_u16();
        self.answered_at = Some(Instant::now());
        self.emit(None, 0);
    }

    pub(super) fn error(&mut self, err: &GatewayError) {
        self.rec.outcome = Some(classify::outcome_of(err));
        self.rec.error_code = Some(err.code().label().to_owned());
        self.rec.error_type = Some(err.code().spec().wire_type.to_owned());
        self.rec.error_message = Some(mask::cap_text(err.message().to_owned(), 1024));
    }

    pub(super) fn usage(&mut self, provider: &str, model: &str, u: &Usage) {
        self.rec.tokens = Tokens {
            prompt: u.prompt_tokens,
            completion: u.completion_tokens,
            cached: u.cached_tokens,
            cache_write: u.cache_write_tokens,
            reasoning: u.reasoning_tokens,
        };
        self.rec.cost_nanos = self.prices.cost(provider, model, u).map(|c| c.total_nanos);
    }

    pub(super) fn journal_entries(&mut self) -> JournalEntries {
        let j = self.journal.entries();
        self.rec.fallback_path = j.fallback_path();
        if let Some(last) = j.last() {
            self.rec.provider_id = last.provider_id.clone();
            self.rec.integration_id = last.integration_id.clone();
            if self.rec.provider.is_none() {
                self.rec.provider = Some(last.provider.clone());
            }
        }
        j
    }

    /// Fills the timings and hands the record over. `ttft` is the first body byte's time;
    /// `stream_upstream` the provider time after the handler returned.
    pub(super) fn emit(mut self, ttft: Option<Instant>, response_bytes: u64) {
        let now = Instant::now();
        let j = self.journal_entries();
        let answered = self.answered_at.unwrap_or(now);
        let before = answered.saturating_duration_since(self.started);
        let upstream_before = j.upstream.max(self.upstream_before);
        // A stream's body after the handler returned is the provider's time too.
        let after = if self.rec.stream {
            now.saturating_duration_since(answered)
        } else {
            std::time::Duration::ZERO
        };
        let us = |d: std::time::Duration| d.as_micros().min(u64::MAX as u128) as u64;
        self.rec.timings.total_us = us(now.saturating_duration_since(self.started));
        self.rec.timings.upstream_us =
            (!j.attempts.is_empty()).then(|| us(upstream_before + after));
        self.rec.timings.ttft_us = ttft.map(|t| us(t.saturating_duration_since(self.started)));
        self.rec.timings.overhead_us = us(before.saturating_sub(upstream_before));
        self.rec.response_bytes = response_bytes;
        if self.rec.outcome.is_none() {
            self.rec.outcome = Some(if self.rec.status < 400 {
                Outcome::Success
            } else {
                Outcome::ProviderError
            });
        }
        if self.observer.enabled() {
            self.observer.emit(self.rec);
        }
    }
}
