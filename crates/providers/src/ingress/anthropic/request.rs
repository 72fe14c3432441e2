//! Anthropic Messages request body → OpenAI chat completions request body.
//!
//! Parameters Anthropic has and chat lacks are dropped when they only tune Anthropic's own
//! service (`container`, `mcp_servers`, `context_management`, `cache_control` markers: OpenAI
//! caches prompts automatically); features that would silently change the answer are refused
//! with a 400 instead (server tools, file ids, PDF URLs).

use portcullis_core::{GatewayError, JsonObject};
use serde_json::{Value, json};

use super::content::message;
use super::tools::{tool_choice, tools};
use super::wire::bad;

/// Choices the caller makes per target.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestOptions {
    /// Keep earlier turns' `thinking` blocks as Portkey `content_blocks` on assistant messages
    /// (the Google adapter returns their signatures to Gemini). Off by default: OpenAI and most
    /// compatible servers reject unknown message fields, and cannot use the thinking anyway.
    pub keep_thinking: bool,
}

/// Translates a Messages body into a chat body with the default [`RequestOptions`].
pub fn messages_to_chat(body: &JsonObject) -> Result<JsonObject, GatewayError> {
    messages_to_chat_with(body, RequestOptions::default())
}

/// Translates a Messages body into a chat body. Invalid input is a 400
/// (`InvalidRequestBody`) whose message and `param` name the field.
pub fn messages_to_chat_with(
    body: &JsonObject,
    opts: RequestOptions,
) -> Result<JsonObject, GatewayError> {
    let mut out = JsonObject::with_capacity(16);
    match body.get("model") {
        None | Some(Value::Null) => {}
        Some(Value::String(m)) => {
            out.insert("model".into(), json!(m));
        }
        Some(_) => return Err(bad("model", "model must be a string")),
    }
    let list = body
        .get("messages")
        .and_then(Value::as_array)
        .filter(|l| !l.is_empty())
        .ok_or_else(|| bad("messages", "messages must be a non-empty array"))?;
    let mut messages = Vec::with_capacity(list.len() + 1);
    if let Some(system) = system(body.get("system"))? {
        messages.push(json!({"role": "system", "content": system}));
    }
    for (i, m) in list.iter().enumerate() {
        message(m, i, opts, &mut messages)?;
    }
    out.insert("messages".into(), Value::Array(messages));

    // Kept as `max_tokens` (not `max_completion_tokens`): every OpenAI-compatible server knows
    // it, and OpenAI itself still accepts it for non-reasoning models.
    if let Some(v) = present(body, "max_tokens") {
        let n = v
            .as_u64()
            .filter(|n| *n > 0)
            .ok_or_else(|| bad("max_tokens", "max_tokens must be a positive integer"))?;
        out.insert("max_tokens".into(), json!(n));
    }
    if let Some(v) = present(body, "stop_sequences") {
        let list = v
            .as_array()
            .filter(|l| l.iter().all(Value::is_string))
            .ok_or_else(|| {
                bad(
                    "stop_sequences",
                    "stop_sequences must be an array of strings",
                )
            })?;
        if !list.is_empty() {
            out.insert("stop".into(), v.clone());
        }
    }
    // `top_k` is not OpenAI's, but vLLM, Together, Fireworks, OpenRouter and others accept it;
    // the client asked for it explicitly, so it is sent rather than silently dropped.
    for key in ["temperature", "top_p", "top_k"] {
        if let Some(v) = present(body, key) {
            if !v.is_number() {
                return Err(bad(key, format!("{key} must be a number")));
            }
            out.insert(key.into(), v.clone());
        }
    }
    if let Some(m) = present(body, "metadata") {
        let m = m
            .as_object()
            .ok_or_else(|| bad("metadata", "metadata must be an object"))?;
        match m.get("user_id") {
            None | Some(Value::Null) => {}
            Some(Value::String(u)) => {
                out.insert("user".into(), json!(u));
            }
            Some(_) => return Err(bad("metadata.user_id", "metadata.user_id must be a string")),
        }
    }
    if let Some(s) = present(body, "stream") {
        let s = s
            .as_bool()
            .ok_or_else(|| bad("stream", "stream must be a boolean"))?;
        out.insert("stream".into(), json!(s));
        if s {
            // Always: the Anthropic stream reports usage in `message_delta`, and OpenAI only
            // sends it in a final chunk when asked.
            out.insert("stream_options".into(), json!({"include_usage": true}));
        }
    }
    if let Some(t) = present(body, "tools") {
        let list = tools(t)?;
        // OpenAI rejects an empty `tools` and a `tool_choice` without tools: both or neither.
        if !list.is_empty() {
            let (choice, parallel) = tool_choice(present(body, "tool_choice"))?;
            out.insert("tools".into(), Value::Array(list));
            if let Some(c) = choice {
                out.insert("tool_choice".into(), c);
            }
            if let Some(p) = parallel {
                out.insert("parallel_tool_calls".into(), json!(p));
            }
        }
    }
    if let Some(effort) = reasoning_effort(body)? {
        out.insert("reasoning_effort".into(), json!(effort));
    }
    if let Some(format) = response_format(body)? {
        out.insert("response_format".into(), format);
    }
    // Anthropic's `standard_only` is OpenAI's `default`; `auto` means the same on both.
    match present(body, "service_tier").and_then(Value::as_str) {
        Some("auto") => {
            out.insert("service_tier".into(), json!("auto"));
        }
        Some("standard_only") => {
            out.insert("service_tier".into(), json!("default"));
        }
        _ => {}
    }
    Ok(out)
}

/// A field that is present and not `null` (SDKs send explicit nulls for unset options).
fn present<'b>(body: &'b JsonObject, key: &str) -> Option<&'b Value> {
    body.get(key).filter(|v| !v.is_null())
}

/// `system` as one string: blocks are joined with newlines, since several OpenAI-compatible
/// servers accept only a string for system content (their `cache_control` has no equivalent).
fn system(v: Option<&Value>) -> Result<Option<String>, GatewayError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Array(blocks)) => {
            let mut texts = Vec::with_capacity(blocks.len());
            for (j, b) in blocks.iter().enumerate() {
                let text = (b.get("type").and_then(Value::as_str) == Some("text"))
                    .then(|| b.get("text").and_then(Value::as_str))
                    .flatten()
                    .ok_or_else(|| {
                        bad(
                            &format!("system[{j}]"),
                            format!("system[{j}] must be a text block with a string 'text'"),
                        )
                    })?;
                texts.push(text);
            }
            Ok((!texts.is_empty()).then(|| texts.join("\n")))
        }
        Some(_) => Err(bad(
            "system",
            "system must be a string or an array of text blocks",
        )),
    }
}

/// OpenAI's `reasoning_effort` for Anthropic's thinking settings. An `enabled` budget maps by
/// size (≤2048 low, ≤8192 medium, else high); `adaptive` uses `output_config.effort` when
/// given (`max` is `high`), else leaves the provider's default. Without thinking nothing is
/// sent, even with an effort: non-reasoning models reject `reasoning_effort`.
fn reasoning_effort(body: &JsonObject) -> Result<Option<&'static str>, GatewayError> {
    let Some(t) = present(body, "thinking") else {
        return Ok(None);
    };
    let effort = || -> Result<Option<&'static str>, GatewayError> {
        let Some(e) = body.get("output_config").and_then(|c| c.get("effort")) else {
            return Ok(None);
        };
        match e.as_str() {
            Some("low") => Ok(Some("low")),
            Some("medium") => Ok(Some("medium")),
            Some("high" | "max") => Ok(Some("high")),
            _ => Err(bad(
                "output_config.effort",
                "output_config.effort must be one of low, medium, high, max",
            )),
        }
    };
    match t.get("type").and_then(Value::as_str) {
        Some("enabled") => {
            let budget = t
                .get("budget_tokens")
                .and_then(Value::as_u64)
                .ok_or_else(|| {
                    bad(
                        "thinking.budget_tokens",
                        "thinking.budget_tokens must be a positive integer",
                    )
                })?;
            Ok(Some(match budget {
                0..=2048 => "low",
                2049..=8192 => "medium",
                _ => "high",
            }))
        }
        Some("adaptive") => effort(),
        Some("disabled") => Ok(None),
        _ => Err(bad(
            "thinking.type",
            "thinking.type must be one of enabled, adaptive, disabled",
        )),
    }
}

/// Structured outputs (`output_config.format`, or the older top-level `output_format`) as
/// OpenAI's `json_schema` response format. `strict` is left off: OpenAI's strict mode rejects
/// schemas Anthropic accepts, and a 400 helps no one.
fn response_format(body: &JsonObject) -> Result<Option<Value>, GatewayError> {
    let (param, format) = match body.get("output_config").and_then(|c| c.get("format")) {
        Some(f) if !f.is_null() => ("output_config.format", f),
        _ => match present(body, "output_format") {
            Some(f) => ("output_format", f),
            None => return Ok(None),
        },
    };
    match format.get("type").and_then(Value::as_str) {
        Some("json_schema") => {
            let schema = format
                .get("schema")
                .filter(|s| s.is_object())
                .ok_or_else(|| bad(param, format!("{param}.schema must be an object")))?;
            Ok(Some(json!({
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": schema},
            })))
        }
        _ => Err(bad(param, format!("{param}.type must be json_schema"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::ErrorCode;

    fn run(v: Value) -> Result<JsonObject, GatewayError> {
        messages_to_chat(v.as_object().unwrap())
    }

    fn err(v: Value) -> String {
        let e = run(v).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidRequestBody);
        assert_eq!(e.status().as_u16(), 400);
        e.message().to_owned()
    }

    fn with(extra: Value) -> Value {
        let mut v = json!({"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        v
    }

    #[test]
    fn top_level_errors_name_the_field() {
        assert!(err(json!({"model": "m"})).contains("messages"));
        assert!(err(json!({"messages": []})).contains("messages"));
        assert!(err(json!({"messages": "hi"})).contains("messages"));
        assert!(err(with(json!({"model": 3}))).contains("model"));
        assert!(err(with(json!({"max_tokens": 0}))).contains("max_tokens"));
        assert!(err(with(json!({"max_tokens": "many"}))).contains("max_tokens"));
        assert!(err(with(json!({"stop_sequences": "END"}))).contains("stop_sequences"));
        assert!(err(with(json!({"temperature": "hot"}))).contains("temperature"));
        assert!(err(with(json!({"top_k": []}))).contains("top_k"));
        assert!(err(with(json!({"metadata": "u"}))).contains("metadata"));
        assert!(err(with(json!({"metadata": {"user_id": 1}}))).contains("metadata.user_id"));
        assert!(err(with(json!({"stream": "yes"}))).contains("stream"));
        assert!(err(with(json!({"system": 5}))).contains("system"));
        assert!(err(with(json!({"system": [{"type": "image"}]}))).contains("system[0]"));
        assert!(err(with(json!({"thinking": {"type": "on"}}))).contains("thinking.type"));
        assert!(err(with(json!({"thinking": {"type": "enabled"}}))).contains("budget_tokens"));
        let e = err(with(
            json!({"thinking": {"type": "adaptive"}, "output_config": {"effort": "huge"}}),
        ));
        assert!(e.contains("output_config.effort"));
        assert!(err(with(json!({"output_config": {"format": {"type": "xml"}}}))).contains("type"));
        let e = run(with(json!({"max_tokens": -1}))).unwrap_err();
        assert_eq!(e.body_json()["error"]["param"], "max_tokens");
    }

    #[test]
    fn thinking_maps_to_effort_by_budget() {
        let effort = |t: Value| {
            run(with(json!({"thinking": t})))
                .unwrap()
                .get("reasoning_effort")
                .cloned()
        };
        let e = |budget: u64| effort(json!({"type": "enabled", "budget_tokens": budget}));
        assert_eq!(e(1024), Some(json!("low")));
        assert_eq!(e(2048), Some(json!("low")));
        assert_eq!(e(2049), Some(json!("medium")));
        assert_eq!(e(8192), Some(json!("medium")));
        assert_eq!(e(8193), Some(json!("high")));
        assert_eq!(effort(json!({"type": "disabled"})), None);
        assert_eq!(effort(json!({"type": "adaptive"})), None);
        let o = run(with(
            json!({"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}),
        ))
        .unwrap();
        assert_eq!(o["reasoning_effort"], "high");
        let o = run(with(json!({"output_config": {"effort": "low"}}))).unwrap();
        assert!(o.get("reasoning_effort").is_none());
    }

    #[test]
    fn nulls_are_unset_and_extras_are_dropped() {
        let o = run(with(json!({
            "temperature": null, "system": null, "stream": false, "tools": [],
            "tool_choice": {"type": "any"}, "container": "c", "service_tier": "standard_only",
            "output_format": {"type": "json_schema", "schema": {"type": "object"}}
        })))
        .unwrap();
        let keys: Vec<&str> = o.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "model",
                "messages",
                "max_tokens",
                "stream",
                "response_format",
                "service_tier"
            ]
        );
        assert_eq!(o["service_tier"], "default");
        assert_eq!(o["response_format"]["json_schema"]["name"], "output");
    }
}
