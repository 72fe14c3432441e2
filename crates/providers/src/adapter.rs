//! The adapter contract: pure translation and classification, no IO.
//!
//! The attempt loop (engine crate) owns sockets, timeouts, retries and fallbacks. An adapter only
//! turns the canonical request (OpenAI's wire format, as JSON) into the provider's HTTP request,
//! and the provider's response, error or stream events back into the client's format.

use std::collections::HashSet;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use portcullis_core::sse::SseEvent;
use portcullis_core::{Endpoint, GatewayError, JsonObject, Secret, Usage};

use crate::registry::ProviderSpec;

/// Everything needed to address one provider account: resolved from headers, a config target
/// or (later) the catalog. Cheap to clone behind an `Arc` in the plan.
#[derive(Debug, Clone)]
pub struct Upstream {
    /// The provider slug the request named (`openai`, `groq`, `azure-openai`, …).
    pub slug: String,
    pub spec: &'static ProviderSpec,
    /// The credential sent to the provider (`Authorization: Bearer` in open mode).
    pub api_key: Option<Secret>,
    /// A validated base URL replacing the provider's default (`custom_host`).
    pub custom_host: Option<String>,
    /// Provider options in snake_case: `resource_name`, `deployment_id`, `api_version`,
    /// `anthropic_version`, `anthropic_beta`, `openai_organization`, `openai_project`, …
    pub options: JsonObject,
    /// The governed account this call is billed to, when the catalog resolved one (`@slug`).
    pub account: Option<Arc<Account>>,
}

/// A catalog provider account: which budgets and rate limits a call counts against, and which
/// models it may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The AI provider (or virtual key) id.
    pub provider_id: String,
    pub provider_slug: String,
    pub integration_id: Option<String>,
    pub integration_slug: Option<String>,
    pub workspace_id: String,
    /// `Some`: only these models may be called through this account.
    pub allowed_models: Option<HashSet<String>>,
}

impl Upstream {
    pub fn new(spec: &'static ProviderSpec) -> Self {
        Upstream {
            slug: spec.slug.to_owned(),
            spec,
            api_key: None,
            custom_host: None,
            options: JsonObject::new(),
            account: None,
        }
    }

    /// A string option, if set and non-empty.
    pub fn option(&self, key: &str) -> Option<&str> {
        self.options
            .get(key)
            .and_then(serde_json::Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The base URL: `custom_host` when given, else the provider's default, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        self.custom_host
            .as_deref()
            .unwrap_or(self.spec.base_url)
            .trim_end_matches('/')
    }
}

/// The HTTP request an adapter wants sent. The engine adds forwarded headers and does the IO.
#[derive(Debug, Clone)]
pub struct UpstreamRequest {
    pub method: Method,
    pub url: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The response is expected to be a server-sent event stream.
    pub stream: bool,
}

/// What the response side of an adapter needs to know about the request it answers.
#[derive(Debug, Clone)]
pub struct ResponseCtx {
    pub endpoint: Endpoint,
    pub provider: String,
    /// The model the upstream was asked for, used when a provider omits `model`.
    pub model: String,
    /// Portkey's strict OpenAI compliance (default on): no provider extras in responses.
    pub strict: bool,
    /// The client asked for a final usage chunk (`stream_options.include_usage`).
    pub include_usage: bool,
    /// Gateway time (unix seconds) for `created` when the provider gives none.
    pub created: u64,
}

/// The client-facing body of a successful response.
#[derive(Debug, Clone)]
pub struct Translated {
    pub body: Bytes,
    pub usage: Option<Usage>,
    /// The model the provider says it served, when known.
    pub model: Option<String>,
}

/// One stream's translator: holds per-stream state (tool-call indices, usage so far).
pub trait StreamTranslator: Send {
    /// Translates one upstream event, appending client-facing SSE frames to `out`.
    /// An in-band upstream error is returned as `Err`: before the first byte reaches the client
    /// the engine treats it as a failed attempt, afterwards it becomes an error frame.
    fn event(&mut self, ev: &SseEvent, out: &mut Vec<u8>) -> Result<(), GatewayError>;

    /// The upstream ended. Appends any closing frames (final usage chunk, `data: [DONE]`), or
    /// returns `Err` when the stream was cut short (no terminal event seen).
    fn finish(&mut self, out: &mut Vec<u8>) -> Result<(), GatewayError>;

    /// Usage seen so far (complete once `finish` returned `Ok`).
    fn usage(&self) -> Option<Usage>;

    /// The model the provider says it served (stream chunks carry it), for pricing and logs.
    fn served_model(&self) -> Option<String> {
        None
    }

    /// The frame that reports `err` to this stream's client, in the client's format.
    fn error_frame(&self, err: &GatewayError) -> Bytes {
        err.sse_event()
    }

    /// Starts keeping the response this stream adds up to in the client's `format` (for the log
    /// record, at most `cap` bytes of text), folded in from this translator's own parse of each
    /// event. False when it cannot: the engine then reads the client-facing frames back instead.
    fn record_response(&mut self, _format: crate::assemble::StreamFormat, _cap: usize) -> bool {
        false
    }

    /// The response kept since [`StreamTranslator::record_response`], as JSON text.
    fn recorded_response(&mut self) -> Option<Vec<u8>> {
        None
    }
}

/// A provider adapter. Implementations are stateless and shared by all requests.
pub trait Adapter: Send + Sync + 'static {
    /// Builds the upstream request for `endpoint` from the canonical body (after
    /// `override_params` were merged). `pristine` is the client's original body bytes when the
    /// canonical body is unchanged, so pass-through adapters can send them untouched.
    fn request(
        &self,
        endpoint: Endpoint,
        body: &JsonObject,
        pristine: Option<&Bytes>,
        upstream: &Upstream,
    ) -> Result<UpstreamRequest, GatewayError>;

    /// Adds the provider's authentication (and fixed) headers. Used by `request` and by the
    /// passthrough route, which builds its own URL and body.
    fn auth_headers(&self, upstream: &Upstream, headers: &mut HeaderMap);

    /// Translates a 2xx response body.
    fn response(&self, body: &[u8], ctx: &ResponseCtx) -> Result<Translated, GatewayError>;

    /// Translates a non-2xx response into the OpenAI error envelope with the upstream status
    /// (`GatewayError::provider`), message prefixed `"<provider> error: "` as Portkey does.
    fn error(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        ctx: &ResponseCtx,
    ) -> GatewayError;

    /// A fresh translator for one streamed response.
    fn stream(&self, ctx: &ResponseCtx) -> Box<dyn StreamTranslator>;
}
