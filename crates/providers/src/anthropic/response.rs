//! Anthropic responses → OpenAI `chat.completion`; `/v1/messages` bodies passed through.

use bytes::Bytes;
use portcullis_core::{Endpoint, GatewayError, Usage};
use serde::Deserialize;
use serde_json::{Value, json};

use super::wire::{WireMessage, WireUsage, str_field, type_of};
use crate::adapter::{ResponseCtx, Translated};
use crate::common::{invalid_response, openai_usage_json, to_bytes};
use crate::text::Text;

pub(super) fn translate(body: &[u8], ctx: &ResponseCtx) -> Result<Translated, GatewayError> {
    match ctx.endpoint {
        Endpoint::Messages => passthrough(body, ctx),
        Endpoint::Models => super::models::translate(body, ctx),
        Endpoint::MessagesCountTokens => {
            // `{"input_tokens": n}`: returned as is, but it must at least be JSON.
            serde_json::from_slice::<serde::de::IgnoredAny>(body)
                .map_err(|_| invalid_response(&ctx.provider, body))?;
            Ok(Translated {
                body: Bytes::copy_from_slice(body),
                usage: None,
                model: None,
            })
        }
        _ => chat(body, ctx),
    }
}

/// OpenAI's finish reason for Anthropic's `stop_reason`. Portkey maps only in strict mode;
/// otherwise the raw reason (`end_turn`, …) is passed on.
pub(super) fn finish_reason(raw: Option<&str>, strict: bool) -> String {
    let Some(raw) = raw else { return "stop".into() };
    if !strict {
        return raw.to_owned();
    }
    match raw {
        "max_tokens" | "model_context_window_exceeded" => "length",
        "tool_use" => "tool_calls",
        "refusal" => "content_filter",
        // end_turn, stop_sequence, pause_turn and anything new.
        _ => "stop",
    }
    .into()
}

/// OpenAI's `usage`, plus Anthropic's cache counters as Portkey adds them.
pub(super) fn usage_json(wire: &WireUsage) -> (Usage, Value) {
    let usage = wire.to_usage();
    let mut v = openai_usage_json(&usage);
    if wire.cache_read() > 0 || wire.cache_write() > 0 {
        v["cache_read_input_tokens"] = json!(wire.cache_read());
        v["cache_creation_input_tokens"] = json!(wire.cache_write());
    }
    (usage, v)
}

/// A `tool_use` block as an OpenAI tool call.
fn tool_call(block: &Value) -> Value {
    let args = block
        .get("input")
        .map_or_else(|| "{}".to_owned(), Value::to_string);
    json!({
        "id": str_field(block, "id"),
        "type": "function",
        "function": {"name": str_field(block, "name"), "arguments": args},
    })
}

fn chat(body: &[u8], ctx: &ResponseCtx) -> Result<Translated, GatewayError> {
    let msg: WireMessage =
        serde_json::from_slice(body).map_err(|_| invalid_response(&ctx.provider, body))?;
    let Some(content) = msg.content else {
        return Err(invalid_response(&ctx.provider, body));
    };
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    for block in &content {
        match type_of(block) {
            "text" => text.push_str(str_field(block, "text")),
            "tool_use" => tool_calls.push(tool_call(block)),
            _ => {}
        }
    }
    let mut message = serde_json::Map::with_capacity(4);
    message.insert("role".into(), json!("assistant"));
    let content_value = if text.is_empty() && !tool_calls.is_empty() {
        Value::Null
    } else {
        json!(text)
    };
    message.insert("content".into(), content_value);
    if !ctx.strict {
        // Every block but tool_use (already in tool_calls): thinking keeps its signature so the
        // client can send it back on the next turn.
        let blocks: Vec<Value> = content
            .into_iter()
            .filter(|b| type_of(b) != "tool_use")
            .collect();
        message.insert("content_blocks".into(), Value::Array(blocks));
    }
    if !tool_calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    let model = if msg.model.is_empty() {
        ctx.model.clone()
    } else {
        msg.model
    };
    let (usage, usage_v) = usage_json(&msg.usage.unwrap_or_default());
    let out = json!({
        "id": msg.id,
        "object": "chat.completion",
        "created": ctx.created,
        "model": model,
        "provider": ctx.provider,
        "choices": [{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": finish_reason(msg.stop_reason.as_deref(), ctx.strict),
        }],
        "usage": usage_v,
    });
    Ok(Translated {
        body: to_bytes(&out),
        usage: Some(usage),
        model: Some(model),
    })
}

#[derive(Deserialize)]
struct Peek<'a> {
    #[serde(borrow, default)]
    model: Option<Text<'a>>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

/// `/v1/messages`: Anthropic's body goes back as is; only a missing `model` is filled in.
fn passthrough(body: &[u8], ctx: &ResponseCtx) -> Result<Translated, GatewayError> {
    let peek: Peek<'_> =
        serde_json::from_slice(body).map_err(|_| invalid_response(&ctx.provider, body))?;
    let usage = peek.usage.map(WireUsage::to_usage);
    match peek.model.as_deref() {
        Some(m) if !m.is_empty() => Ok(Translated {
            body: Bytes::copy_from_slice(body),
            usage,
            model: Some(m.to_owned()),
        }),
        _ => {
            let mut v: Value =
                serde_json::from_slice(body).map_err(|_| invalid_response(&ctx.provider, body))?;
            let obj = v
                .as_object_mut()
                .ok_or_else(|| invalid_response(&ctx.provider, body))?;
            obj.insert("model".into(), json!(ctx.model));
            Ok(Translated {
                body: to_bytes(&v),
                usage,
                model: Some(ctx.model.clone()),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(endpoint: Endpoint) -> ResponseCtx {
        ResponseCtx {
            endpoint,
            provider: "anthropic".into(),
            model: "claude-x".into(),
            strict: true,
            include_usage: false,
            created: 7,
        }
    }

    #[test]
    fn malformed_bodies_are_invalid_responses() {
        for body in [&b"<html>"[..], b"[]", b"{\"id\":\"m\"}"] {
            let e = translate(body, &ctx(Endpoint::ChatComplete)).unwrap_err();
            assert_eq!(e.status().as_u16(), 502, "{body:?}");
        }
        assert!(translate(b"nope", &ctx(Endpoint::Messages)).is_err());
        assert!(translate(b"nope", &ctx(Endpoint::MessagesCountTokens)).is_err());
    }

    #[test]
    fn messages_bodies_pass_through_with_usage() {
        let body = br#"{"id":"m","type":"message","model":"claude-3","content":[],"usage":{"input_tokens":3,"output_tokens":2,"cache_read_input_tokens":4}}"#;
        let t = translate(body, &ctx(Endpoint::Messages)).unwrap();
        assert_eq!(t.body.as_ref(), body);
        assert_eq!(t.usage.unwrap().total_tokens, 9);
        assert_eq!(t.model.as_deref(), Some("claude-3"));
        let t = translate(br#"{"id":"m","content":[]}"#, &ctx(Endpoint::Messages)).unwrap();
        let v: Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(v["model"], "claude-x");
    }

    #[test]
    fn count_tokens_passes_through() {
        let t = translate(
            br#"{"input_tokens":14}"#,
            &ctx(Endpoint::MessagesCountTokens),
        )
        .unwrap();
        assert_eq!(t.body.as_ref(), br#"{"input_tokens":14}"#);
        assert!(t.usage.is_none());
    }

    #[test]
    fn finish_reasons_map_only_when_strict() {
        let cases = [
            ("end_turn", "stop"),
            ("stop_sequence", "stop"),
            ("pause_turn", "stop"),
            ("max_tokens", "length"),
            ("tool_use", "tool_calls"),
            ("refusal", "content_filter"),
        ];
        for (raw, mapped) in cases {
            assert_eq!(finish_reason(Some(raw), true), mapped);
            assert_eq!(finish_reason(Some(raw), false), raw);
        }
        assert_eq!(finish_reason(None, true), "stop");
    }

    #[test]
    fn empty_model_is_filled_and_text_only_content_is_a_string() {
        let body = br#"{"id":"m","model":"","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}],"stop_reason":"end_turn"}"#;
        let t = translate(body, &ctx(Endpoint::ChatComplete)).unwrap();
        let v: Value = serde_json::from_slice(&t.body).unwrap();
        assert_eq!(v["model"], "claude-x");
        assert_eq!(v["choices"][0]["message"]["content"], "ab");
        assert!(v["choices"][0]["message"].get("tool_calls").is_none());
        assert_eq!(t.usage.unwrap().total_tokens, 0);
    }
}
