//! The one record every request through the gateway becomes, whatever its outcome.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How a request ended. One value per record; analytics group errors by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// 2xx from the provider (or a cache hit, see `cache_status`).
    Success,
    /// The provider answered with an error (after retries and fallbacks).
    ProviderError,
    /// The gateway could not complete it: unreachable upstream, timeout, internal error.
    GatewayError,
    /// Bad input: malformed JSON, invalid config, unknown provider, model not allowed.
    InvalidRequest,
    /// Missing, unknown, expired or revoked gateway key; missing scope.
    Unauthorized,
    /// A rate limit refused it (429).
    RateLimited,
    /// A budget refused it (412).
    BudgetExhausted,
    /// An input or output guardrail denied it (446).
    GuardrailDenied,
    /// Served from the cache.
    CacheHit,
    /// The client went away before the response (or stream) ended.
    ClientDisconnect,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::ProviderError => "provider_error",
            Outcome::GatewayError => "gateway_error",
            Outcome::InvalidRequest => "invalid_request",
            Outcome::Unauthorized => "unauthorized",
            Outcome::RateLimited => "rate_limited",
            Outcome::BudgetExhausted => "budget_exhausted",
            Outcome::GuardrailDenied => "guardrail_denied",
            Outcome::CacheHit => "cache_hit",
            Outcome::ClientDisconnect => "client_disconnect",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Some(match s {
            "success" => Outcome::Success,
            "provider_error" => Outcome::ProviderError,
            "gateway_error" => Outcome::GatewayError,
            "invalid_request" => Outcome::InvalidRequest,
            "unauthorized" => Outcome::Unauthorized,
            "rate_limited" => Outcome::RateLimited,
            "budget_exhausted" => Outcome::BudgetExhausted,
            "guardrail_denied" => Outcome::GuardrailDenied,
            "cache_hit" => Outcome::CacheHit,
            "client_disconnect" => Outcome::ClientDisconnect,
            _ => return None,
        })
    }

    /// Every outcome but success and cache hits counts as an error in analytics.
    pub fn is_error(self) -> bool {
        !matches!(self, Outcome::Success | Outcome::CacheHit)
    }
}

/// Token counts as the provider reported them (OpenAI's conventions: `prompt` includes cached and
/// cache-write tokens, `completion` includes reasoning tokens).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub prompt: u64,
    pub completion: u64,
    pub cached: u64,
    pub cache_write: u64,
    pub reasoning: u64,
}

impl Tokens {
    pub fn total(&self) -> u64 {
        self.prompt.saturating_add(self.completion)
    }
}

/// Latencies in microseconds. `None` where the request never got that far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timings {
    /// Request received → response (or stream) complete.
    pub total_us: u64,
    /// Time spent waiting on providers, every attempt included.
    pub upstream_us: Option<u64>,
    /// Request received → first byte of the response body sent (streams: first event).
    pub ttft_us: Option<u64>,
    /// The gateway's own share: total minus upstream (before the first byte, for streams).
    pub overhead_us: u64,
}

/// One request, as logged. Ids are strings (UUIDs, W3C hex); money is integer nano-dollars.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogRecord {
    /// UUID v7 (time-ordered): the record's id.
    pub id: String,
    /// Portkey's trace id (`x-portkey-trace-id`, or generated): what clients search by.
    pub trace_id: String,
    /// W3C trace context: 32 hex (from `traceparent`, or new), this request's 16-hex span, and
    /// the caller's span when it sent `traceparent`.
    pub w3c_trace_id: String,
    pub span_id: String,
    pub parent_span_id: Option<String>,
    /// The caller's `sampled` flag when it sent `traceparent` (`None`: it did not). Traces
    /// follow it (parent-based sampling); it is not stored.
    #[serde(skip)]
    pub sampled: Option<bool>,
    /// Unix milliseconds when the request arrived.
    pub created_at: i64,
    pub workspace_id: Option<String>,
    pub api_key_id: Option<String>,
    /// The catalog provider (`@slug`) that served it, and its integration.
    pub provider_id: Option<String>,
    pub integration_id: Option<String>,
    /// The provider kind that served it (`openai`, `anthropic`, …).
    pub provider: Option<String>,
    /// The model the client asked for, and the one the provider reports serving.
    pub requested_model: Option<String>,
    pub model: Option<String>,
    /// `chat.completions`, `completions`, `embeddings`, `messages`, `messages.count_tokens`,
    /// `proxy`, …
    pub endpoint: String,
    pub method: String,
    pub path: String,
    pub stream: bool,
    pub status: u16,
    pub outcome: Option<Outcome>,
    /// The gateway's error code and type when it failed (`AB01`, `rate_limit_error`, …).
    pub error_code: Option<String>,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
    pub timings: Timings,
    pub tokens: Tokens,
    /// Cost in nano-dollars (10⁻⁹ USD); `None` when the model has no price.
    pub cost_nanos: Option<i64>,
    /// `DISABLED`, `MISS`, `HIT`, `REFRESH`, `SEMANTIC HIT`, `SEMANTIC MISS`.
    pub cache_status: String,
    /// Portkey's retry count: 0 none, n succeeded on retry n, -1 exhausted.
    pub retry_count: i32,
    /// Every target tried, in order (Portkey JSON paths such as `config.targets[1]`); the last
    /// one answered. More than one means a fallback happened.
    pub fallback_path: Vec<String>,
    /// Guardrail verdicts (Portkey's `hook_results` shape), when any ran.
    pub guardrails: Option<Value>,
    /// `x-portkey-metadata` merged with the key's defaults; `_user` is the end user.
    pub metadata: Map<String, Value>,
    /// Request and response bodies, size-capped with secrets masked; `None` under
    /// `x-portkey-debug: false` (numbers only).
    pub request_body: Option<String>,
    pub response_body: Option<String>,
    pub request_bytes: u64,
    pub response_bytes: u64,
}

/// A new record id (a UUIDv7) and the creation time it carries (Unix ms), for the record's
/// `created_at`: the store finds a record by id through that time.
pub fn new_id() -> (String, i64) {
    let id = uuid::Uuid::now_v7();
    let at = id_millis(&id).unwrap_or_default();
    (id.to_string(), at)
}

/// The creation time (Unix ms) a UUIDv7 record id carries; `None` for other ids.
pub fn id_time(id: &str) -> Option<i64> {
    id_millis(&uuid::Uuid::try_parse(id).ok()?)
}

fn id_millis(id: &uuid::Uuid) -> Option<i64> {
    if id.get_version_num() != 7 {
        return None;
    }
    let (secs, nanos) = id.get_timestamp()?.to_unix();
    i64::try_from(secs)
        .ok()?
        .checked_mul(1000)?
        .checked_add(i64::from(nanos / 1_000_000))
}

impl LogRecord {
    /// The end user (`_user` metadata), if any.
    pub fn user(&self) -> Option<&str> {
        self.metadata.get("_user").and_then(Value::as_str)
    }

    /// About how much memory the record holds (the struct, its strings, metadata and payloads),
    /// cheap to compute: what the log queue's byte budget counts. A pure function of the
    /// record, so adding on entry and subtracting after the write always balance.
    pub fn approx_bytes(&self) -> usize {
        let opt = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        // A map entry's own overhead (node, key string, value header), roughly.
        const ENTRY: usize = 64;
        let metadata: usize = self
            .metadata
            .iter()
            .map(|(k, v)| ENTRY + k.len() + v.as_str().map_or(16, str::len))
            .sum();
        std::mem::size_of::<LogRecord>()
            + self.id.len()
            + self.trace_id.len()
            + self.w3c_trace_id.len()
            + self.span_id.len()
            + opt(&self.parent_span_id)
            + opt(&self.workspace_id)
            + opt(&self.api_key_id)
            + opt(&self.provider_id)
            + opt(&self.integration_id)
            + opt(&self.provider)
            + opt(&self.requested_model)
            + opt(&self.model)
            + self.endpoint.len()
            + self.method.len()
            + self.path.len()
            + opt(&self.error_code)
            + opt(&self.error_type)
            + opt(&self.error_message)
            + self.cache_status.len()
            + self
                .fallback_path
                .iter()
                .map(|p| 24 + p.len())
                .sum::<usize>()
            + self.guardrails.as_ref().map_or(0, |_| 256)
            + metadata
            + self.payload_bytes()
    }

    /// Bytes of the request and response payloads kept in the record.
    pub fn payload_bytes(&self) -> usize {
        self.request_body.as_ref().map_or(0, String::len)
            + self.response_body.as_ref().map_or(0, String::len)
    }
}
