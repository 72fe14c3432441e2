//! Addressing and authenticating Anthropic requests, and the OpenAI → Messages body.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use portcullis_core::{Endpoint, ErrorCode, GatewayError, JsonObject};
use serde_json::{Map, Value, json};

use super::messages::{self, bad};
use super::params::{max_tokens, response_format, thinking};
use super::tools;
use crate::adapter::{Upstream, UpstreamRequest};
use crate::common::{set_header, set_json, to_bytes, wants_stream};

/// `anthropic-version` when the client names none (the only version Anthropic has published).
const DEFAULT_VERSION: &str = "2023-06-01";

/// OpenAI parameters this adapter translates (each is read by [`chat_body`]).
#[cfg_attr(not(test), allow(dead_code))]
const TRANSLATED: &[&str] = &[
    "model",
    "messages",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "temperature",
    "top_p",
    "stream",
    "user",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "reasoning_effort",
    "response_format",
    "service_tier",
];

/// Anthropic-native parameters a client may put in the OpenAI body: copied unchanged.
const NATIVE: &[&str] = &[
    "metadata",
    "top_k",
    "thinking",
    "container",
    "mcp_servers",
    "context_management",
    "output_config",
    "cache_control",
];

/// OpenAI-only parameters Anthropic would reject. Listed to document the choice: like Portkey's
/// parameter maps, anything in neither list above is dropped, these included.
#[cfg_attr(not(test), allow(dead_code))]
pub(super) const DROPPED: &[&str] = &[
    "n",
    "logprobs",
    "top_logprobs",
    "frequency_penalty",
    "presence_penalty",
    "seed",
    "logit_bias",
    "stream_options",
    "modalities",
    "store",
    "prediction",
    "audio",
    "functions",
    "function_call",
    "web_search_options",
    "prompt_cache_key",
    "safety_identifier",
    "verbosity",
];

pub(super) fn build(
    endpoint: Endpoint,
    body: &JsonObject,
    pristine: Option<&Bytes>,
    upstream: &Upstream,
) -> Result<UpstreamRequest, GatewayError> {
    let base = upstream.base_url();
    let mut headers = HeaderMap::with_capacity(5);
    auth(upstream, &mut headers);
    let as_is = || pristine.cloned().unwrap_or_else(|| to_bytes(body));
    let (method, url, bytes, stream) = match endpoint {
        Endpoint::ChatComplete => {
            let b = chat_body(body)?;
            (
                Method::POST,
                format!("{base}/messages"),
                to_bytes(&b),
                wants_stream(body),
            )
        }
        Endpoint::Messages => (
            Method::POST,
            format!("{base}/messages"),
            as_is(),
            wants_stream(body),
        ),
        Endpoint::MessagesCountTokens => (
            Method::POST,
            format!("{base}/messages/count_tokens"),
            as_is(),
            false,
        ),
        // Anthropic pages models 20 at a time by default; 1000 is its maximum page.
        Endpoint::Models => (
            Method::GET,
            format!("{base}/models?limit=1000"),
            Bytes::new(),
            false,
        ),
        Endpoint::Complete | Endpoint::Embed | Endpoint::Proxy => {
            return Err(GatewayError::new(
                ErrorCode::UnsupportedEndpoint,
                format!("{endpoint} is not supported by anthropic"),
            ));
        }
    };
    if method == Method::POST {
        set_json(&mut headers);
    }
    Ok(UpstreamRequest {
        method,
        url,
        headers,
        body: bytes,
        stream,
    })
}

/// `x-api-key` (sensitive), `anthropic-version` and, when configured, `anthropic-beta`
/// (a string, or an array joined with commas as Anthropic accepts).
pub(super) fn auth(upstream: &Upstream, headers: &mut HeaderMap) {
    if let Some(key) = &upstream.api_key
        && let Ok(mut v) = HeaderValue::from_str(key.expose())
    {
        v.set_sensitive(true);
        headers.insert("x-api-key", v);
    }
    let version = upstream
        .option("anthropic_version")
        .unwrap_or(DEFAULT_VERSION);
    set_header(headers, "anthropic-version", version);
    let beta = match upstream.options.get("anthropic_beta") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(list)) => list
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    };
    if !beta.is_empty() {
        set_header(headers, "anthropic-beta", &beta);
    }
}

/// The Messages API body for an OpenAI chat request.
pub(super) fn chat_body(body: &JsonObject) -> Result<Map<String, Value>, GatewayError> {
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty())
        .ok_or_else(|| bad("model is required for anthropic"))?;
    let msgs = body
        .get("messages")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("messages must be an array"))?;
    let mut conv = messages::convert(msgs)?;
    let mut out = Map::with_capacity(16);
    out.insert("model".into(), json!(model));

    let explicit_max = max_tokens(body)?;
    let (max, thinking) = thinking(body, explicit_max)?;
    out.insert("max_tokens".into(), json!(max));

    let output_format = response_format(body, &mut conv.system)?;
    if !conv.system.is_empty() {
        out.insert("system".into(), system_json(conv.system));
    }
    out.insert("messages".into(), Value::Array(conv.messages));

    match body.get("stop") {
        Some(Value::String(s)) => {
            out.insert("stop_sequences".into(), json!([s]));
        }
        Some(Value::Array(a)) if !a.is_empty() => {
            out.insert("stop_sequences".into(), Value::Array(a.clone()));
        }
        _ => {}
    }
    if let Some(t) = body.get("temperature").and_then(Value::as_f64) {
        // OpenAI's range is 0..=2, Anthropic's 0..=1: clamp (as Portkey does) rather than fail.
        out.insert("temperature".into(), json!(t.clamp(0.0, 1.0)));
    }
    if let Some(p) = body.get("top_p").filter(|v| v.is_number()) {
        out.insert("top_p".into(), p.clone());
    }
    if let Some(s) = body.get("stream").filter(|v| v.is_boolean()) {
        out.insert("stream".into(), s.clone());
    }
    for key in NATIVE {
        if let Some(v) = body.get(*key).filter(|v| !v.is_null()) {
            out.insert((*key).into(), v.clone());
        }
    }
    if let Some(user) = body.get("user").and_then(Value::as_str) {
        let meta = out.entry("metadata").or_insert_with(|| json!({}));
        if let Some(m) = meta.as_object_mut() {
            m.entry("user_id").or_insert_with(|| json!(user));
        }
    }
    // Anthropic's tiers are `auto` and `standard_only`; OpenAI's (`default`, `flex`, `priority`)
    // have no equivalent and would be rejected.
    if let Some(tier @ ("auto" | "standard_only")) =
        body.get("service_tier").and_then(Value::as_str)
    {
        out.insert("service_tier".into(), json!(tier));
    }
    if let Some(t) = thinking {
        out.insert("thinking".into(), t);
    }
    if let Some(format) = output_format {
        let cfg = out.entry("output_config").or_insert_with(|| json!({}));
        match cfg.as_object_mut() {
            Some(c) => {
                c.insert("format".into(), format);
            }
            None => return Err(bad("output_config must be an object")),
        }
    }
    if let Some(t) = body.get("tools").filter(|t| !t.is_null()) {
        let list = tools::tools(t)?;
        let choice = tools::tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))?;
        // Anthropic rejects `tool_choice` without tools, so both go together or not at all.
        if !list.is_empty() {
            out.insert("tools".into(), Value::Array(list));
            if let Some(c) = choice {
                out.insert("tool_choice".into(), c);
            }
        }
    }
    Ok(out)
}

/// `system` as a string when every block is plain text, else the block array (so
/// `cache_control` and friends survive).
fn system_json(blocks: Vec<Value>) -> Value {
    let plain = blocks.iter().all(|b| {
        b.as_object()
            .is_some_and(|o| o.len() == 2 && o.contains_key("text"))
    });
    if plain {
        let texts: Vec<&str> = blocks.iter().filter_map(|b| b["text"].as_str()).collect();
        json!(texts.join("\n"))
    } else {
        Value::Array(blocks)
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::find;
    use portcullis_core::Secret;

    fn obj(v: Value) -> JsonObject {
        v.as_object().unwrap().clone()
    }

    fn up() -> Upstream {
        let mut u = Upstream::new(find("anthropic").unwrap());
        u.api_key = Some(Secret::new("sk-ant"));
        u
    }

    #[test]
    fn addresses_every_endpoint_with_anthropic_auth() {
        let mut u = up();
        u.options =
            obj(json!({"anthropic_beta": ["a-1", "b-2"], "anthropic_version": "2023-01-01"}));
        let body = obj(
            json!({"model":"claude","messages":[{"role":"user","content":"hi"}],"stream":true}),
        );
        let r = build(Endpoint::ChatComplete, &body, None, &u).unwrap();
        assert_eq!(r.url, "https://api.anthropic.com/v1/messages");
        assert_eq!(r.headers["x-api-key"], "sk-ant");
        assert!(r.headers["x-api-key"].is_sensitive());
        assert_eq!(r.headers["anthropic-version"], "2023-01-01");
        assert_eq!(r.headers["anthropic-beta"], "a-1,b-2");
        assert_eq!(r.headers["content-type"], "application/json");
        assert!(r.stream);
        let r = build(Endpoint::Models, &JsonObject::new(), None, &up()).unwrap();
        assert_eq!(
            (r.method, r.url.as_str()),
            (
                Method::GET,
                "https://api.anthropic.com/v1/models?limit=1000"
            )
        );
        assert_eq!(r.headers["anthropic-version"], DEFAULT_VERSION);
        assert!(r.headers.get("anthropic-beta").is_none() && r.body.is_empty());
        u.custom_host = Some("http://127.0.0.1:9/v1/".into());
        let r = build(Endpoint::MessagesCountTokens, &body, None, &u).unwrap();
        assert_eq!(r.url, "http://127.0.0.1:9/v1/messages/count_tokens");
        assert!(!r.stream);
    }

    #[test]
    fn messages_bodies_go_out_untouched() {
        let raw = Bytes::from_static(
            b"{\"model\":\"claude\",  \"max_tokens\":5,\"messages\":[],\"stream\":true}",
        );
        let body = obj(serde_json::from_slice(&raw).unwrap());
        let r = build(Endpoint::Messages, &body, Some(&raw), &up()).unwrap();
        assert_eq!(r.body, raw);
        assert!(r.stream);
        let r = build(Endpoint::Messages, &body, None, &up()).unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&r.body).unwrap(),
            Value::Object(body)
        );
    }

    #[test]
    fn unsupported_endpoints_say_so() {
        for e in [Endpoint::Complete, Endpoint::Embed, Endpoint::Proxy] {
            let err = build(e, &JsonObject::new(), None, &up()).unwrap_err();
            assert_eq!(err.code(), ErrorCode::UnsupportedEndpoint);
            assert_eq!(err.message(), format!("{e} is not supported by anthropic"));
        }
    }

    #[test]
    fn rejects_bad_top_level_params() {
        let base = json!({"model":"c","messages":[{"role":"user","content":"x"}]});
        let with = |k: &str, v: Value| {
            let mut b = obj(base.clone());
            b.insert(k.into(), v);
            chat_body(&b).unwrap_err().message().to_owned()
        };
        assert!(with("max_tokens", json!(0)).contains("max_tokens"));
        assert!(with("max_completion_tokens", json!("lots")).contains("max_completion_tokens"));
        assert!(with("reasoning_effort", json!("extreme")).contains("reasoning_effort"));
        assert!(
            with(
                "response_format",
                json!({"type":"json_schema","json_schema":{}})
            )
            .contains("schema")
        );
        assert!(with("response_format", json!({"type":"yaml"})).contains("yaml"));
        assert!(with("messages", json!("hi")).contains("messages"));
        assert!(
            chat_body(&obj(json!({"messages":[]})))
                .unwrap_err()
                .message()
                .contains("model")
        );
    }

    #[test]
    fn thinking_budget_fits_inside_max_tokens() {
        let b = |extra: Value| {
            let mut o = obj(json!({"model":"c","messages":[{"role":"user","content":"x"}]}));
            o.extend(obj(extra));
            chat_body(&o).unwrap()
        };
        let o = b(json!({"reasoning_effort":"high"}));
        assert_eq!(
            (o["max_tokens"].as_u64(), &o["thinking"]["budget_tokens"]),
            (Some(16384 + 4096), &json!(16384))
        );
        let o = b(json!({"reasoning_effort":"high","max_tokens":8000}));
        assert_eq!(o["thinking"]["budget_tokens"], 7999);
        let o = b(json!({"reasoning_effort":"low","max_tokens":500}));
        assert!(o.get("thinking").is_none());
        assert!(
            b(json!({"reasoning_effort":"none"}))
                .get("thinking")
                .is_none()
        );
        let o = b(json!({"thinking":{"type":"enabled","budget_tokens":10000}}));
        assert_eq!(o["max_tokens"], 14096);
        let o = b(
            json!({"temperature":1.7,"service_tier":"flex","user":"u1","metadata":{"user_id":"keep"}}),
        );
        assert_eq!(o["temperature"], 1.0);
        assert!(o.get("service_tier").is_none());
        assert_eq!(o["metadata"], json!({"user_id":"keep"}));
    }

    #[test]
    fn dropped_params_never_reach_anthropic() {
        let mut o = obj(json!({"model":"c","messages":[{"role":"user","content":"x"}]}));
        for k in DROPPED {
            o.insert((*k).into(), json!(1));
        }
        let out = chat_body(&o).unwrap();
        for k in DROPPED {
            assert!(!out.contains_key(*k), "{k} leaked");
            assert!(
                !TRANSLATED.contains(k) && !NATIVE.contains(k),
                "{k} listed twice"
            );
        }
    }
}
