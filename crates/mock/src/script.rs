//! `Reply`: the builder that scripts one response (status, content, usage, faults, delays).

use std::time::Duration;

use bytes::Bytes;

/// One scripted response.
///
/// A request consumes the first queued `Reply` whose [`path`](Reply::path) filter matches; the
/// endpoint hit decides the wire format. Unset fields fall back to the endpoint's normal
/// behaviour, so `Reply::ok()` is exactly the default response.
///
/// Token counts given here are in OpenAI terms: `prompt` includes cached and cache-write
/// tokens and `completion` includes reasoning tokens. Anthropic and Gemini bodies derive their
/// own fields from them (e.g. Anthropic `input_tokens = prompt - cached - cache_write`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Reply {
    /// HTTP status. `>= 400` renders the provider's error body; other 2xx codes keep the
    /// normal success body; 3xx and other non-error codes send an empty body.
    pub status: Option<u16>,
    /// Adds a `Retry-After: <secs>` header.
    pub retry_after: Option<u64>,
    /// Extra response headers.
    pub headers: Vec<(String, String)>,
    /// Replaces the whole response body (status defaults to 200).
    pub body: Option<ReplyBody>,
    /// Wait this long before sending response headers.
    pub delay: Option<Duration>,
    /// Only requests whose path contains this string consume the reply.
    pub path: Option<String>,
    /// Assistant text (default: a fixed sentence, or none when tool calls are scripted).
    pub content: Option<String>,
    /// Generate about this many bytes of assistant text (ignored when `content` is set).
    pub content_bytes: Option<usize>,
    /// Tool / function calls, in order.
    pub tool_calls: Vec<ToolCall>,
    /// Why generation stopped, in OpenAI terms (`stop`, `length`, `tool_calls`,
    /// `content_filter`), mapped to each provider's value; other strings are sent verbatim.
    pub finish_reason: Option<String>,
    /// `(prompt, completion)` token counts.
    pub usage: Option<(u64, u64)>,
    /// Prompt tokens served from cache.
    pub cached_tokens: Option<u64>,
    /// Prompt tokens written to cache (Anthropic `cache_creation_input_tokens`).
    pub cache_write_tokens: Option<u64>,
    /// Reasoning tokens; Anthropic and Gemini also emit a thinking block / thought part.
    pub reasoning_tokens: Option<u64>,
    /// Omit `model` (`modelVersion` for Gemini) from the response and every chunk.
    pub no_model: bool,
    /// Number of content pieces a stream is split into.
    pub chunks: Option<usize>,
    /// Pause between stream events.
    pub chunk_delay: Option<Duration>,
    /// Stream: send this many content events, then cut the connection (no terminal event).
    pub drop_after: Option<usize>,
    /// Stream: send this many content events, then an in-band error event, then end.
    pub error_after: Option<usize>,
    /// Stream: send this many content events, then send nothing more until the client
    /// disconnects or the server shuts down (idle-timeout tests).
    pub stall_after: Option<usize>,
    /// Non-stream: a 200 body that is not JSON. Stream: the first content event is not JSON.
    pub malformed: bool,
    /// Never respond; the request ends when the client disconnects or the server shuts down.
    pub hang: bool,
}

/// A body that replaces the generated response entirely.
#[derive(Clone, Debug, PartialEq)]
pub enum ReplyBody {
    /// Serialized as JSON with `content-type: application/json`.
    Json(serde_json::Value),
    /// Sent verbatim (`content-type: application/json` unless a header overrides it).
    Raw(Bytes),
}

/// A scripted tool call; `arguments` is the JSON text of the arguments object.
#[derive(Clone, Debug, PartialEq)]
pub struct ToolCall {
    pub name: String,
    pub arguments: String,
}

impl Reply {
    /// The endpoint's normal success response.
    pub fn ok() -> Self {
        Self::default()
    }

    /// A response with this status; `>= 400` yields the provider's error body.
    pub fn status(code: u16) -> Self {
        Self {
            status: Some(code),
            ..Self::default()
        }
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    pub fn body_json(mut self, value: serde_json::Value) -> Self {
        self.body = Some(ReplyBody::Json(value));
        self
    }

    pub fn body_raw(mut self, bytes: impl Into<Bytes>) -> Self {
        self.body = Some(ReplyBody::Raw(bytes.into()));
        self
    }

    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    pub fn path(mut self, contains: impl Into<String>) -> Self {
        self.path = Some(contains.into());
        self
    }

    pub fn content(mut self, text: impl Into<String>) -> Self {
        self.content = Some(text.into());
        self
    }

    /// About `n` bytes of filler text, for benchmarks with larger bodies.
    pub fn bytes(mut self, n: usize) -> Self {
        self.content_bytes = Some(n);
        self
    }

    pub fn tool_call(mut self, name: impl Into<String>, arguments_json: impl Into<String>) -> Self {
        self.tool_calls.push(ToolCall {
            name: name.into(),
            arguments: arguments_json.into(),
        });
        self
    }

    pub fn finish_reason(mut self, reason: impl Into<String>) -> Self {
        self.finish_reason = Some(reason.into());
        self
    }

    pub fn usage(mut self, prompt: u64, completion: u64) -> Self {
        self.usage = Some((prompt, completion));
        self
    }

    pub fn cached_tokens(mut self, n: u64) -> Self {
        self.cached_tokens = Some(n);
        self
    }

    pub fn cache_write_tokens(mut self, n: u64) -> Self {
        self.cache_write_tokens = Some(n);
        self
    }

    pub fn reasoning_tokens(mut self, n: u64) -> Self {
        self.reasoning_tokens = Some(n);
        self
    }

    pub fn no_model(mut self) -> Self {
        self.no_model = true;
        self
    }

    pub fn chunks(mut self, n: usize) -> Self {
        self.chunks = Some(n);
        self
    }

    pub fn chunk_delay(mut self, delay: Duration) -> Self {
        self.chunk_delay = Some(delay);
        self
    }

    pub fn drop_after(mut self, n: usize) -> Self {
        self.drop_after = Some(n);
        self
    }

    pub fn error_after(mut self, n: usize) -> Self {
        self.error_after = Some(n);
        self
    }

    pub fn stall_after(mut self, n: usize) -> Self {
        self.stall_after = Some(n);
        self
    }

    pub fn malformed(mut self) -> Self {
        self.malformed = true;
        self
    }

    pub fn hang(mut self) -> Self {
        self.hang = true;
        self
    }

    /// Whether a request to `path` may consume this reply.
    pub(crate) fn matches(&self, path: &str) -> bool {
        self.path.as_deref().is_none_or(|p| path.contains(p))
    }

    /// Lays `top` over `self`: every field `top` sets wins; headers accumulate.
    pub(crate) fn overlay(&mut self, top: Reply) {
        fn set<T>(dst: &mut Option<T>, src: Option<T>) {
            if src.is_some() {
                *dst = src;
            }
        }
        set(&mut self.status, top.status);
        set(&mut self.retry_after, top.retry_after);
        self.headers.extend(top.headers);
        set(&mut self.body, top.body);
        set(&mut self.delay, top.delay);
        set(&mut self.path, top.path);
        set(&mut self.content, top.content);
        set(&mut self.content_bytes, top.content_bytes);
        if !top.tool_calls.is_empty() {
            self.tool_calls = top.tool_calls;
        }
        set(&mut self.finish_reason, top.finish_reason);
        set(&mut self.usage, top.usage);
        set(&mut self.cached_tokens, top.cached_tokens);
        set(&mut self.cache_write_tokens, top.cache_write_tokens);
        set(&mut self.reasoning_tokens, top.reasoning_tokens);
        self.no_model |= top.no_model;
        set(&mut self.chunks, top.chunks);
        set(&mut self.chunk_delay, top.chunk_delay);
        set(&mut self.drop_after, top.drop_after);
        set(&mut self.error_after, top.error_after);
        set(&mut self.stall_after, top.stall_after);
        self.malformed |= top.malformed;
        self.hang |= top.hang;
    }

    /// The stream fault to inject, if any; at most one applies (drop wins over error over stall).
    pub(crate) fn stream_fault(&self) -> Option<(usize, Fault)> {
        if let Some(n) = self.drop_after {
            Some((n, Fault::Drop))
        } else if let Some(n) = self.error_after {
            Some((n, Fault::Error))
        } else {
            self.stall_after.map(|n| (n, Fault::Stall))
        }
    }
}

/// How a stream is cut short after N content events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fault {
    Drop,
    Error,
    Stall,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_prefers_top_and_keeps_unset_fields() {
        let mut base = Reply::status(429).content("a").header("x", "1");
        base.overlay(Reply::ok().content("b").header("y", "2").hang());
        assert_eq!(base.status, Some(429));
        assert_eq!(base.content.as_deref(), Some("b"));
        assert_eq!(base.headers.len(), 2);
        assert!(base.hang);
    }

    #[test]
    fn path_filter() {
        assert!(Reply::ok().matches("/v1/messages"));
        assert!(Reply::ok().path("/messages").matches("/v1/messages"));
        assert!(
            !Reply::ok()
                .path("/messages")
                .matches("/v1/chat/completions")
        );
    }
}
