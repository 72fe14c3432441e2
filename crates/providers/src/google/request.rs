//! Addressing Gemini and building `generateContent` bodies from OpenAI chat requests.

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use portcullis_core::{Endpoint, ErrorCode, GatewayError, JsonObject};
use serde_json::{Map, Value};

use super::{config, embed, messages, tools};
use crate::adapter::{Upstream, UpstreamRequest};
use crate::common::{model_of, set_json, to_bytes, wants_stream};

/// OpenAI-only parameters Gemini has no use for (and would reject as unknown fields). Every other
/// key is either mapped below, a Gemini field passed through, or an unknown key forwarded as is
/// (so new Gemini fields work without a gateway release).
const DROPPED: &[&str] = &[
    "stream_options",
    "user",
    "logit_bias",
    "parallel_tool_calls",
    "store",
    "metadata",
    "service_tier",
    "prediction",
    "audio",
    "web_search_options",
    "prompt_cache_key",
    "safety_identifier",
    "verbosity",
];

/// Keys this module maps into Gemini fields.
const MAPPED: &[&str] = &[
    "model",
    "messages",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "n",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "logprobs",
    "top_logprobs",
    "response_format",
    "reasoning_effort",
    "thinking",
    "modalities",
    "image_config",
    "tools",
    "functions",
    "tool_choice",
    "function_call",
];

/// Gemini fields accepted under either spelling, sent camelCase.
const GEMINI_ALIASES: &[(&str, &str)] = &[
    ("safety_settings", "safetySettings"),
    ("cached_content", "cachedContent"),
    ("tool_config", "toolConfig"),
    ("generation_config", "generationConfig"),
    ("system_instruction", "systemInstruction"),
];

/// A 400 for a malformed canonical body.
pub(super) fn bad_request(message: impl Into<String>) -> GatewayError {
    GatewayError::new(ErrorCode::InvalidRequestBody, message.into())
}

pub(super) fn build(
    endpoint: Endpoint,
    body: &JsonObject,
    upstream: &Upstream,
) -> Result<UpstreamRequest, GatewayError> {
    let base = upstream.base_url();
    let version = encode_segment(upstream.option("api_version").unwrap_or("v1beta"));
    let mut headers = HeaderMap::with_capacity(3);
    auth(upstream, &mut headers);
    let (url, body, stream) = match endpoint {
        Endpoint::ChatComplete => {
            let model = model_path(body)?;
            let stream = wants_stream(body);
            let url = if stream {
                format!("{base}/{version}/{model}:streamGenerateContent?alt=sse")
            } else {
                format!("{base}/{version}/{model}:generateContent")
            };
            (url, Some(chat_body(body)?), stream)
        }
        Endpoint::Embed => {
            let model = model_path(body)?;
            let (method, payload) = embed::request_body(body, &model)?;
            (
                format!("{base}/{version}/{model}:{method}"),
                Some(payload),
                false,
            )
        }
        // One page of up to 1000 models: more than AI Studio lists, so no paging is needed.
        Endpoint::Models => (
            format!("{base}/{version}/models?pageSize=1000"),
            None,
            false,
        ),
        Endpoint::Complete
        | Endpoint::Messages
        | Endpoint::MessagesCountTokens
        | Endpoint::Proxy => {
            return Err(GatewayError::new(
                ErrorCode::UnsupportedEndpoint,
                format!("{endpoint} is not supported by {}", upstream.slug),
            ));
        }
    };
    let (method, body) = match body {
        Some(v) => {
            set_json(&mut headers);
            (Method::POST, to_bytes(&v))
        }
        None => (Method::GET, bytes::Bytes::new()),
    };
    Ok(UpstreamRequest {
        method,
        url,
        headers,
        body,
        stream,
    })
}

/// `x-goog-api-key`: keeps the key out of URLs (and so out of access logs), unlike `?key=`.
pub(super) fn auth(upstream: &Upstream, headers: &mut HeaderMap) {
    if let Some(key) = &upstream.api_key
        && let Ok(mut v) = HeaderValue::from_str(key.expose())
    {
        v.set_sensitive(true);
        headers.insert(HeaderName::from_static("x-goog-api-key"), v);
    }
}

/// The model's resource path: `models/<id>` (a leading `models/` in the body is accepted),
/// or `tunedModels/<id>` for tuned models. The id is percent-encoded as one path segment.
fn model_path(body: &JsonObject) -> Result<String, GatewayError> {
    let model = model_of(body).trim();
    let model = model.strip_prefix("models/").unwrap_or(model);
    if model.is_empty() {
        return Err(bad_request("google requires a `model`"));
    }
    Ok(match model.strip_prefix("tunedModels/") {
        Some(id) => format!("tunedModels/{}", encode_segment(id)),
        None => format!("models/{}", encode_segment(model)),
    })
}

/// Percent-encodes everything but RFC 3986 unreserved characters (so `/`, `?`, `#`, `:` and
/// spaces cannot change the URL's structure).
pub(super) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A present, non-null value.
pub(super) fn get<'a>(body: &'a JsonObject, key: &str) -> Option<&'a Value> {
    body.get(key).filter(|v| !v.is_null())
}

fn chat_body(body: &JsonObject) -> Result<Value, GatewayError> {
    let mut out = Map::new();
    let conv = messages::convert(body)?;
    out.insert("contents".into(), Value::Array(conv.contents));
    if let Some(system) = conv.system {
        out.insert("systemInstruction".into(), system);
    }
    let tools = tools::tools(body)?;
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(tc) = tools::tool_config(body)? {
        out.insert("toolConfig".into(), tc);
    }
    let mut gen_config = config::generation_config(body)?;
    for (key, value) in body {
        if value.is_null() || MAPPED.contains(&key.as_str()) || DROPPED.contains(&key.as_str()) {
            continue;
        }
        let name = GEMINI_ALIASES
            .iter()
            .find(|(snake, _)| snake == key)
            .map_or(key.as_str(), |(_, camel)| camel);
        if name == "generationConfig" {
            merge_generation_config(&mut gen_config, value);
        } else if name == "systemInstruction" && out.contains_key(name) {
            continue; // system messages win over a raw systemInstruction
        } else {
            out.insert(name.to_owned(), value.clone());
        }
    }
    if !gen_config.is_empty() {
        out.insert("generationConfig".into(), Value::Object(gen_config));
    }
    Ok(Value::Object(out))
}

/// A client's own `generationConfig` wins key by key over the mapped fields.
fn merge_generation_config(cfg: &mut Map<String, Value>, extra: &Value) {
    let Some(extra) = extra.as_object() else {
        return;
    };
    // responseSchema and responseJsonSchema are mutually exclusive: the client's choice wins.
    if extra.contains_key("responseSchema") || extra.contains_key("response_schema") {
        cfg.shift_remove("responseJsonSchema");
    }
    for (k, v) in extra {
        cfg.insert(k.clone(), v.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::find;
    use portcullis_core::Secret;
    use serde_json::json;

    fn up() -> Upstream {
        let mut u = Upstream::new(find("google").unwrap());
        u.api_key = Some(Secret::new("AIza-test"));
        u
    }

    fn obj(v: Value) -> JsonObject {
        v.as_object().unwrap().clone()
    }

    fn body_of(v: Value) -> Value {
        let r = build(Endpoint::ChatComplete, &obj(v), &up()).unwrap();
        serde_json::from_slice(&r.body).unwrap()
    }

    #[test]
    fn addresses_models_and_keeps_the_key_in_a_sensitive_header() {
        let b = obj(
            json!({"model": "models/gemini 2/x?y", "messages": [{"role": "user", "content": "hi"}]}),
        );
        let r = build(Endpoint::ChatComplete, &b, &up()).unwrap();
        assert_eq!(
            r.url,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini%202%2Fx%3Fy:generateContent"
        );
        assert_eq!(r.headers["x-goog-api-key"], "AIza-test");
        assert!(r.headers["x-goog-api-key"].is_sensitive());
        assert!(!r.url.contains("AIza"));
        let mut u = up();
        u.options.insert("api_version".into(), json!("v1"));
        let b = obj(
            json!({"model": "tunedModels/abc", "messages": [{"role": "user", "content": "hi"}], "stream": true}),
        );
        let r = build(Endpoint::ChatComplete, &b, &u).unwrap();
        assert!(
            r.url
                .ends_with("/v1/tunedModels/abc:streamGenerateContent?alt=sse")
        );
        assert!(r.stream);
    }

    #[test]
    fn missing_model_and_unsupported_endpoints_are_client_errors() {
        let e = build(Endpoint::ChatComplete, &obj(json!({"messages": []})), &up()).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidRequestBody);
        assert!(e.message().contains("model"));
        for ep in [
            Endpoint::Complete,
            Endpoint::Messages,
            Endpoint::MessagesCountTokens,
            Endpoint::Proxy,
        ] {
            let e = build(ep, &obj(json!({"model": "m"})), &up()).unwrap_err();
            assert_eq!(e.code(), ErrorCode::UnsupportedEndpoint);
            assert_eq!(e.message(), format!("{ep} is not supported by google"));
        }
    }

    #[test]
    fn bad_parameters_are_named() {
        let base = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        for (key, value, needle) in [
            ("stop", json!(5), "stop"),
            ("reasoning_effort", json!("extreme"), "reasoning_effort"),
            ("tool_choice", json!("sometimes"), "tool_choice"),
            (
                "tools",
                json!([{"type": "function", "function": {}}]),
                "tools[0].function",
            ),
            (
                "tools",
                json!([{"type": "web_search_preview"}]),
                "web_search_preview",
            ),
            ("response_format", json!({"type": "xml"}), "response_format"),
            ("modalities", json!("text"), "modalities"),
        ] {
            let mut b = obj(base.clone());
            b.insert(key.into(), value);
            let e = build(Endpoint::ChatComplete, &b, &up()).unwrap_err();
            assert_eq!(e.status().as_u16(), 400, "{key}");
            assert!(e.message().contains(needle), "{key}: {}", e.message());
        }
    }

    #[test]
    fn nulls_are_absent_and_unknown_keys_pass_through() {
        let v = body_of(json!({
            "model": "m", "messages": [{"role": "user", "content": "hi"}],
            "temperature": null, "tools": null, "user": "u1", "serviceTier": "flex",
            "generation_config": {"topK": 3}
        }));
        assert_eq!(v["serviceTier"], "flex");
        assert!(v.get("user").is_none());
        assert!(v.get("tools").is_none());
        assert_eq!(v["generationConfig"], json!({"topK": 3}));
    }

    #[test]
    fn thinking_wins_over_reasoning_effort() {
        let v = body_of(json!({
            "model": "m", "messages": [{"role": "user", "content": "hi"}],
            "reasoning_effort": "low", "thinking": {"type": "enabled", "budget_tokens": 2048}
        }));
        assert_eq!(
            v["generationConfig"]["thinkingConfig"],
            json!({"thinkingBudget": 2048, "includeThoughts": true})
        );
    }
}
