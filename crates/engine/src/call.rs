//! The request as the engine sees it, after the edge parsed it.

use bytes::Bytes;
use http::{HeaderMap, Method};
use portcullis_core::{Endpoint, JsonObject};
use tokio::sync::Mutex;

use crate::body::Body;
use crate::stream::OnStreamEnd;

/// A JSON inference call (chat, completions, embeddings, messages, …).
pub struct Call {
    pub endpoint: Endpoint,
    /// The canonical body.
    pub body: JsonObject,
    /// The client's original bytes: sent untouched when nothing changed the body.
    pub raw: Bytes,
    pub client_headers: HeaderMap,
    pub metadata: JsonObject,
    /// The request path (`url.pathname` in conditional routing).
    pub path: String,
    /// Gateway time, unix seconds.
    pub created: u64,
    /// Told how a streamed answer ended (usage, errors, client gone): for settling and logging.
    pub on_stream_end: std::sync::Mutex<Option<OnStreamEnd>>,
    /// Keep a stream's response for the log record, with at most this many bytes of text
    /// (reported in [`crate::stream::StreamEnd::response`]); `None` keeps none.
    pub record_response: Option<usize>,
    /// Every attempt, for the request's log record.
    pub journal: std::sync::Arc<crate::Journal>,
    /// W3C `traceparent` sent upstream so provider-side traces join the gateway's.
    pub traceparent: Option<http::HeaderValue>,
}

impl Call {
    pub(crate) fn take_on_stream_end(&self) -> Option<OnStreamEnd> {
        self.on_stream_end.lock().ok().and_then(|mut g| g.take())
    }
}

/// A passthrough call: the body is streamed (or buffered when retries may replay it).
pub struct ProxyCall {
    pub method: Method,
    /// The path after `/v1` (`/files/abc`), and the query string.
    pub path: String,
    pub query: Option<String>,
    pub client_headers: HeaderMap,
    pub body: ProxyBody,
    pub metadata: JsonObject,
    /// Every attempt, for the request's log record.
    pub journal: std::sync::Arc<crate::Journal>,
    /// W3C `traceparent` sent upstream.
    pub traceparent: Option<http::HeaderValue>,
}

pub enum ProxyBody {
    /// Replayable: every attempt sends these bytes.
    Buffered(Bytes),
    /// Sent once; a second attempt finds it gone and fails.
    Streamed(Mutex<Option<Body>>),
}
