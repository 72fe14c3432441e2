//! A scriptable mock LLM provider speaking the OpenAI, Anthropic and Gemini wire formats.
//!
//! Used in-process by the gateway's tests ([`MockProvider`]), from the CLI as
//! `portcullis mock-provider` ([`serve`]), and as the upstream in throughput benchmarks.
//!
//! Routes match by path suffix, so any base-URL prefix works:
//! - OpenAI: `POST …/chat/completions`, `…/completions`, `…/embeddings`; `GET …/models[/{id}]`
//! - Anthropic: `POST …/messages`, `…/messages/count_tokens`
//! - Gemini: `POST …/models/{model}:generateContent | :streamGenerateContent[?alt=sse] |
//!   :embedContent | :batchEmbedContents | :countTokens`
//! - `…/echo` (any method) sends the request body back with `x-mock-method/path/query` headers.
//!
//! Responses are scripted with [`Reply`] (queued via [`MockProvider::enqueue`] or
//! `POST /__mock/replies`) or with directives in the model name (the body's `model`, or the
//! URL path for Gemini; the part before the first `+` is echoed back as the model):
//!
//! ```text
//! MODEL ("+" DIRECTIVE)*      e.g. gpt-4o-mini+status=429+retry_after=1
//! status=N retry_after=SECS delay_ms=N chunks=N chunk_delay_ms=N bytes=N
//! drop_after=N error_after=N stall_after=N malformed hang no_model
//! tool=NAME [args=JSON] content=TEXT finish=REASON usage=PROMPT,COMPLETION
//! cached=N cache_write=N reasoning=N          (values are percent-decoded)
//! ```
//!
//! An unknown or malformed directive gets a 400 in the provider's error format.
//!
//! Control API (same port): `POST /__mock/replies` (one spec or an array; fields as in
//! [`Reply`], with `delay_ms` / `chunk_delay_ms` for durations and `tool_call: {name,
//! arguments}`), `DELETE /__mock/replies`, `GET|DELETE /__mock/requests`, `GET /__mock/stats`,
//! `GET /__mock/health`.
//!
//! ```no_run
//! # async fn demo() {
//! use portcullis_mock::{MockProvider, Reply};
//! let mock = MockProvider::start().await;
//! mock.enqueue(Reply::status(429).retry_after(1).path("/chat/completions"));
//! let base = format!("{}/v1", mock.url());
//! // ... point the gateway at `base`, send a request, then:
//! assert_eq!(mock.request_count(), 1);
//! # }
//! ```

mod answer;
mod anthropic;
mod body;
mod control;
mod directives;
mod gemini;
mod openai;
mod record;
mod routes;
mod script;
mod server;
mod state;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use record::Recorded;
pub use script::{Reply, ReplyBody, ToolCall};
pub use server::serve;

use state::State;

/// Server settings.
#[derive(Clone, Debug)]
pub struct MockOptions {
    /// Where to listen; the default `127.0.0.1:0` picks a free port.
    pub addr: SocketAddr,
    /// Content pieces per stream unless a reply says otherwise.
    pub stream_chunks: usize,
    /// Pause between stream events unless a reply says otherwise.
    pub chunk_delay: Duration,
    /// Delay before the response headers of every (non-control) request.
    pub latency: Duration,
    /// Keep received requests for [`MockProvider::requests`]; benchmarks turn this off.
    pub record: bool,
}

impl Default for MockOptions {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            stream_chunks: 8,
            chunk_delay: Duration::ZERO,
            latency: Duration::ZERO,
            record: true,
        }
    }
}

/// A running mock server. Shuts down on drop or via [`shutdown`](Self::shutdown).
pub struct MockProvider {
    addr: SocketAddr,
    state: Arc<State>,
    task: Option<JoinHandle<()>>,
}

impl MockProvider {
    /// Starts on `127.0.0.1:0` with default options.
    ///
    /// # Panics
    /// Only if binding a loopback port fails.
    pub async fn start() -> MockProvider {
        match Self::start_with(MockOptions::default()).await {
            Ok(mock) => mock,
            Err(e) => panic!("portcullis-mock: cannot bind 127.0.0.1:0: {e}"),
        }
    }

    pub async fn start_with(opts: MockOptions) -> std::io::Result<MockProvider> {
        let listener = server::bind(opts.addr)?;
        let addr = listener.local_addr()?;
        let state = Arc::new(State::new(opts, CancellationToken::new()));
        let task = tokio::spawn(server::accept_loop(listener, state.clone()));
        Ok(MockProvider {
            addr,
            state,
            task: Some(task),
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues a scripted reply (FIFO; the first one whose path filter matches is used).
    pub fn enqueue(&self, reply: Reply) {
        self.state.enqueue(reply);
    }

    /// Every request received (control API excluded), in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.requests()
    }

    /// Requests received (counted even when recording is off).
    pub fn request_count(&self) -> usize {
        self.state.request_count()
    }

    /// Forgets recorded requests and queued replies.
    pub fn clear(&self) {
        self.state.clear_requests();
        self.state.clear_replies();
    }

    /// Scripted replies not consumed yet.
    pub fn queued_replies(&self) -> usize {
        self.state.queued_replies()
    }

    /// Streaming responses currently being sent.
    pub fn open_streams(&self) -> usize {
        self.state.open_streams()
    }

    /// Streaming responses dropped before their end, i.e. the client disconnected mid-stream
    /// (or the server shut down). Scripted `drop_after` cuts do not count.
    pub fn cancelled_streams(&self) -> usize {
        self.state.cancelled_streams()
    }

    /// Requests abandoned while waiting before their headers (`delay`, `latency`, `hang`),
    /// i.e. the client gave up (or the server shut down).
    pub fn cancelled_requests(&self) -> usize {
        self.state.cancelled_requests()
    }

    /// Stops accepting, closes connections and ends hanging requests and streams.
    pub async fn shutdown(mut self) {
        self.state.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockProvider {
    fn drop(&mut self) {
        self.state.shutdown.cancel();
    }
}
