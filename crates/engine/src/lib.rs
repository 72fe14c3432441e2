//! Executes routing plans: the attempt loop (retries, backoff, timeouts), strategies
//! (fallback, loadbalance, conditional), and stream translation with first-byte commit.
//!
//! This is the only crate that does upstream IO, through one [`Transport`].

mod attempt;
pub mod body;
mod call;
mod exchange;
pub mod gate;
pub mod journal;
mod leg;
mod outcome;
mod proxy;
pub mod replay;
pub mod retry;
mod strategy;
pub mod stream;
pub mod transport;

use std::sync::Arc;
use std::time::Duration;

use portcullis_config::plan::{Plan, Target};
use portcullis_core::JsonObject;

pub use call::{Call, ProxyBody, ProxyCall};
pub use journal::{AttemptNote, Journal, JournalEntries};
pub use outcome::{Outcome, OutcomeBody};
pub use proxy::proxy_url;
pub use transport::{ClientSettings, HttpTransport, Transport};

pub use strategy::BoxFuture;
use strategy::Leaf;

/// Limits on what the engine reads from providers.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    /// Largest non-streamed response (and largest single stream event) accepted.
    pub max_response_bytes: usize,
    /// Largest error body read (the rest is discarded).
    pub max_error_bytes: usize,
    /// A stream that sends nothing for this long is ended with an error event.
    pub stream_idle_timeout: Duration,
    /// The passthrough body limit, named in the 413 when a streamed body outgrows it.
    pub max_passthrough_body_bytes: u64,
    /// Time allowed per attempt when the request sets no `request_timeout`: until the response
    /// head and body for complete answers, until the first event for streams.
    pub default_timeout: Option<Duration>,
    /// Largest single event of a provider's stream.
    pub max_stream_event_bytes: usize,
}

impl Default for EngineSettings {
    fn default() -> Self {
        EngineSettings {
            max_response_bytes: 128 * 1024 * 1024,
            max_error_bytes: 1024 * 1024,
            stream_idle_timeout: Duration::from_secs(300),
            max_passthrough_body_bytes: 512 * 1024 * 1024,
            default_timeout: Some(Duration::from_secs(600)),
            max_stream_event_bytes: 16 * 1024 * 1024,
        }
    }
}

pub struct Engine {
    transport: Arc<dyn Transport>,
    settings: EngineSettings,
    gate: Option<Arc<dyn gate::Gate>>,
}

struct JsonLeaf<'a> {
    call: &'a Call,
}

impl Leaf for JsonLeaf<'_> {
    fn run<'a>(
        &'a self,
        engine: &'a Engine,
        target: &'a Target,
        path: &'a str,
    ) -> BoxFuture<'a, Outcome> {
        Box::pin(engine.run_target(target, path, self.call))
    }
    fn metadata(&self) -> &JsonObject {
        &self.call.metadata
    }
    fn params(&self) -> &JsonObject {
        &self.call.body
    }
    fn pathname(&self) -> &str {
        &self.call.path
    }
}

impl Engine {
    pub fn new(transport: Arc<dyn Transport>, settings: EngineSettings) -> Engine {
        Engine {
            transport,
            settings,
            gate: None,
        }
    }

    /// Admits every target attempt through `gate` (provider and integration limits).
    pub fn with_gate(mut self, gate: Arc<dyn gate::Gate>) -> Engine {
        self.gate = Some(gate);
        self
    }

    /// Executes `plan` for a JSON inference call.
    pub async fn execute(&self, plan: &Plan, call: &Call) -> Outcome {
        self.run_node(&plan.root, &JsonLeaf { call }).await
    }

    /// Executes `plan` for a passthrough call.
    pub async fn execute_proxy(&self, plan: &Plan, call: &ProxyCall) -> Outcome {
        let leaf = proxy::ProxyLeaf {
            call,
            params: JsonObject::new(),
        };
        self.run_node(&plan.root, &leaf).await
    }
}
