//! Helpers every adapter shares: OpenAI chunk and usage writers, header and error helpers.

use bytes::Bytes;
use http::StatusCode;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use portcullis_core::sse::push_data_frame;
use portcullis_core::{GatewayError, JsonObject, Usage};
use serde_json::{Value, json};

/// `model` from a canonical body, or "".
pub fn model_of(body: &JsonObject) -> &str {
    body.get("model").and_then(Value::as_str).unwrap_or("")
}

/// Whether the canonical body asks for a stream.
pub fn wants_stream(body: &JsonObject) -> bool {
    body.get("stream").and_then(Value::as_bool).unwrap_or(false)
}

/// Whether the client asked for a final usage chunk.
pub fn wants_usage(body: &JsonObject) -> bool {
    body.get("stream_options")
        .and_then(|o| o.get("include_usage"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

/// Inserts a header from a string that came from config or a client; invalid values are skipped.
pub fn set_header(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), v);
    }
}

/// `Authorization: Bearer <key>` (marked sensitive so it never reaches logs).
pub fn set_bearer(headers: &mut HeaderMap, key: &str) {
    if let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {key}")) {
        v.set_sensitive(true);
        headers.insert(AUTHORIZATION, v);
    }
}

/// `content-type: application/json`.
pub fn set_json(headers: &mut HeaderMap) {
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
}

/// Serialises a JSON value; serde_json cannot fail on a `Value`.
pub fn to_bytes(v: &impl serde::Serialize) -> Bytes {
    Bytes::from(serde_json::to_vec(v).unwrap_or_default())
}

/// A body that is not the JSON a provider promised: Portkey's "Invalid response received" error.
pub fn invalid_response(provider: &str, body: &[u8]) -> GatewayError {
    let shown = String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned();
    GatewayError::new(
        portcullis_core::ErrorCode::UpstreamInvalidResponse,
        format!("Invalid response received from {provider}: {shown}"),
    )
    .with_provider(provider)
}

/// Builds the OpenAI error envelope for a provider error, message prefixed `"<provider> error: "`.
pub fn provider_error(
    provider: &str,
    status: StatusCode,
    message: &str,
    wire_type: Option<String>,
    code: Option<Value>,
    param: Option<String>,
) -> GatewayError {
    GatewayError::provider(
        provider,
        status,
        format!("{provider} error: {message}"),
        wire_type,
        code,
        param,
    )
}

/// OpenAI's `usage` object for a normalised [`Usage`], with the detail blocks OpenAI sends.
pub fn openai_usage_json(u: &Usage) -> Value {
    let mut v = json!({
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.total_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
    });
    if u.cache_write_tokens > 0 {
        v["prompt_tokens_details"]["cache_write_tokens"] = json!(u.cache_write_tokens);
    }
    v
}

/// Writes OpenAI `chat.completion.chunk` frames for translated streams.
#[derive(Debug, Clone)]
pub struct ChunkWriter {
    pub id: String,
    pub created: u64,
    pub model: String,
    pub provider: String,
}

impl ChunkWriter {
    fn base(&self) -> serde_json::Map<String, Value> {
        let mut m = serde_json::Map::with_capacity(6);
        m.insert("id".into(), Value::String(self.id.clone()));
        m.insert(
            "object".into(),
            Value::String("chat.completion.chunk".into()),
        );
        m.insert("created".into(), json!(self.created));
        m.insert("model".into(), Value::String(self.model.clone()));
        m.insert("provider".into(), Value::String(self.provider.clone()));
        m
    }

    /// One choice delta (index 0) with an optional finish reason.
    pub fn delta(&self, out: &mut Vec<u8>, delta: Value, finish_reason: Option<&str>) {
        let mut m = self.base();
        m.insert(
            "choices".into(),
            json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish_reason}]),
        );
        push_data_frame(out, &serde_json::to_vec(&m).unwrap_or_default());
    }

    /// The usage-only chunk OpenAI sends last when `stream_options.include_usage` is set.
    pub fn usage(&self, out: &mut Vec<u8>, usage: &Usage) {
        let mut m = self.base();
        m.insert("choices".into(), json!([]));
        m.insert("usage".into(), openai_usage_json(usage));
        push_data_frame(out, &serde_json::to_vec(&m).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunk_writer_emits_openai_chunks() {
        let w = ChunkWriter {
            id: "x".into(),
            created: 1,
            model: "m".into(),
            provider: "anthropic".into(),
        };
        let mut out = Vec::new();
        w.delta(&mut out, json!({"content": "hi"}), None);
        let s = String::from_utf8(out).unwrap();
        assert!(s.starts_with("data: {\"id\":\"x\",\"object\":\"chat.completion.chunk\""));
        assert!(s.ends_with("\n\n"));
        let v: Value = serde_json::from_str(s.trim_start_matches("data: ").trim()).unwrap();
        assert_eq!(v["choices"][0]["delta"]["content"], "hi");
    }
}
