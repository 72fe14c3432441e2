//! Vocabulary both directions share: client errors, stop reasons, usage, ids, in-band errors.

use http::StatusCode;
use portcullis_core::{ErrorCode, GatewayError, Usage};
use serde_json::{Value, json};

use crate::common::provider_error;

/// A 400 naming the offending field (`param`) of the client's Messages body.
pub(super) fn bad(param: &str, msg: impl Into<String>) -> GatewayError {
    GatewayError::new(ErrorCode::InvalidRequestBody, msg.into()).with_param(param)
}

/// Anthropic's `stop_reason` for an OpenAI `finish_reason`. Raw Gemini reasons (a non-strict
/// inner translator passes them on) are understood too; anything else ended the turn.
pub(super) fn stop_reason(finish: &str) -> &'static str {
    match finish.to_ascii_lowercase().as_str() {
        "length" | "max_tokens" => "max_tokens",
        "tool_calls" | "function_call" => "tool_use",
        "content_filter" | "safety" | "recitation" | "blocklist" | "prohibited_content"
        | "spii" | "image_safety" => "refusal",
        _ => "end_turn",
    }
}

/// The final stop reason: OpenAI-compatible servers often say `stop` after a tool call, but an
/// Anthropic client needs `tool_use` to run the tools; a refusal delta means `refusal`.
pub(super) fn final_stop(mapped: &'static str, has_tools: bool, refused: bool) -> &'static str {
    match mapped {
        "end_turn" if has_tools => "tool_use",
        "end_turn" if refused => "refusal",
        other => other,
    }
}

/// `usage` from a chat body or chunk, normalised. DeepSeek reports its cache hits as
/// `prompt_cache_hit_tokens` instead of `prompt_tokens_details.cached_tokens`.
pub(super) fn read_usage(v: Option<&Value>) -> Option<Usage> {
    let v = v.filter(|u| u.is_object())?;
    let mut u = Usage::from_openai(v)?;
    if u.cached_tokens == 0 {
        u.cached_tokens = v
            .get("prompt_cache_hit_tokens")
            .and_then(Value::as_u64)
            .unwrap_or(0);
    }
    Some(u)
}

/// Anthropic's `usage` object. OpenAI's `prompt_tokens` include cache reads and writes;
/// Anthropic's `input_tokens` exclude both.
pub(super) fn usage_json(u: &Usage) -> Value {
    let input = u
        .prompt_tokens
        .saturating_sub(u.cached_tokens)
        .saturating_sub(u.cache_write_tokens);
    json!({
        "input_tokens": input,
        "cache_creation_input_tokens": u.cache_write_tokens,
        "cache_read_input_tokens": u.cached_tokens,
        "output_tokens": u.completion_tokens,
    })
}

/// A Messages id (`msg_…`) for a chat id; `fallback` when the provider sent none.
pub(super) fn message_id(chat_id: Option<&str>, fallback: &str) -> String {
    match chat_id.filter(|s| !s.is_empty()) {
        Some(id) if id.starts_with("msg_") => id.to_owned(),
        Some(id) => format!("msg_{id}"),
        None => format!("msg_{fallback}"),
    }
}

/// The vLLM-style matched stop string (`choices[].stop_reason`), when a stop sequence ended
/// the turn: Anthropic reports it as `stop_sequence`.
pub(super) fn matched_stop(choice: &Value) -> Option<String> {
    choice
        .get("stop_reason")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// A string field, if present and non-empty.
pub(super) fn text_of<'v>(v: &'v Value, key: &str) -> Option<&'v str> {
    v.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// An error delivered inside a 200 stream (`data: {"error": …}`): the status is read from the
/// numeric code or guessed from the type, so a fallback before the first byte can act on it.
pub(super) fn in_band(provider: &str, error: &Value) -> GatewayError {
    let message = match error.get("message").unwrap_or(error) {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let kind = error.get("type").and_then(Value::as_str).unwrap_or("");
    let status = error
        .get("code")
        .and_then(|c| c.as_u64().or_else(|| c.as_str()?.parse().ok()))
        .and_then(|c| StatusCode::from_u16(u16::try_from(c).ok()?).ok())
        .filter(|s| s.is_client_error() || s.is_server_error())
        .unwrap_or(if kind.contains("rate_limit") {
            StatusCode::TOO_MANY_REQUESTS
        } else if kind.contains("invalid_request") {
            StatusCode::BAD_REQUEST
        } else if kind.contains("overloaded") {
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::INTERNAL_SERVER_ERROR
        });
    let code = error.get("code").filter(|c| !c.is_null()).cloned();
    let kind = (!kind.is_empty()).then(|| kind.to_owned());
    provider_error(provider, status, &message, kind, code, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_splits_cache_reads_and_writes_out_of_input() {
        let u = read_usage(Some(&json!({
            "prompt_tokens": 100, "completion_tokens": 7,
            "prompt_tokens_details": {"cached_tokens": 60, "cache_write_tokens": 10}
        })))
        .unwrap();
        assert_eq!(
            usage_json(&u),
            json!({"input_tokens":30,"cache_creation_input_tokens":10,"cache_read_input_tokens":60,"output_tokens":7})
        );
        let ds = read_usage(Some(
            &json!({"prompt_tokens": 9, "prompt_cache_hit_tokens": 4}),
        ));
        assert_eq!(ds.unwrap().cached_tokens, 4);
        assert!(read_usage(Some(&Value::Null)).is_none());
    }

    #[test]
    fn stop_reasons_and_ids() {
        assert_eq!(stop_reason("length"), "max_tokens");
        assert_eq!(stop_reason("MAX_TOKENS"), "max_tokens");
        assert_eq!(stop_reason("function_call"), "tool_use");
        assert_eq!(stop_reason("SAFETY"), "refusal");
        assert_eq!(final_stop(stop_reason("stop"), true, false), "tool_use");
        assert_eq!(final_stop("max_tokens", true, true), "max_tokens");
        assert_eq!(message_id(Some("chatcmpl-1"), "x"), "msg_chatcmpl-1");
        assert_eq!(message_id(Some("msg_1"), "x"), "msg_1");
        assert_eq!(message_id(None, "7"), "msg_7");
    }

    #[test]
    fn in_band_errors_get_a_status() {
        let e = in_band(
            "groq",
            &json!({"message": "slow down", "type": "rate_limit_error"}),
        );
        assert_eq!(e.status().as_u16(), 429);
        assert_eq!(e.message(), "groq error: slow down");
        assert_eq!(in_band("x", &json!({"code": 503})).status().as_u16(), 503);
        assert_eq!(in_band("x", &json!("boom")).status().as_u16(), 500);
    }
}
