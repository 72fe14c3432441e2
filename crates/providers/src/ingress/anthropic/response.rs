//! OpenAI `chat.completion` body → Anthropic Messages `message` body.

use portcullis_core::{ErrorCode, GatewayError};
use serde_json::{Map, Value, json};

use super::wire::{
    final_stop, matched_stop, message_id, read_usage, stop_reason, text_of, usage_json,
};
use crate::adapter::Translated;
use crate::common::to_bytes;

/// Translates a chat completion (choice 0) into a Messages `message`. `model` is used when the
/// body names none. The returned usage is the normalised one the engine records.
///
/// Content order follows Claude's: thinking (from `reasoning_content` / `reasoning`, or
/// Portkey's `content_blocks`), then text, then one `tool_use` per tool call. Tool-call
/// arguments that are not a JSON object become `{}`: Anthropic's `input` must be an object,
/// and the client's tool validation then reports the missing fields to the model.
pub fn chat_to_message(body: &[u8], model: &str) -> Result<Translated, GatewayError> {
    let v: Value = serde_json::from_slice(body).map_err(|_| invalid(body))?;
    let obj = v.as_object().ok_or_else(|| invalid(body))?;
    if let Some(e) = obj.get("error").filter(|e| !e.is_null()) {
        return Err(GatewayError::new(
            ErrorCode::UpstreamInvalidResponse,
            format!("Error received in a successful response: {e}"),
        ));
    }
    let choice = obj
        .get("choices")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .ok_or_else(|| invalid(body))?;
    let msg = choice
        .get("message")
        .filter(|m| m.is_object())
        .ok_or_else(|| invalid(body))?;

    let mut content = Vec::new();
    thinking_blocks(msg, &mut content);
    let mut refused = false;
    match text(msg.get("content")) {
        Some(t) => content.push(json!({"type": "text", "text": t})),
        None => {
            if let Some(r) = text_of(msg, "refusal") {
                refused = true;
                content.push(json!({"type": "text", "text": r}));
            }
        }
    }
    let calls = msg.get("tool_calls").and_then(Value::as_array);
    for (i, call) in calls.into_iter().flatten().enumerate() {
        let f = call.get("function").unwrap_or(&Value::Null);
        let id = text_of(call, "id").map_or_else(|| format!("toolu_{i}"), str::to_owned);
        content.push(tool_use(id, f));
    }
    if let Some(f) = msg.get("function_call").filter(|f| f.is_object()) {
        content.push(tool_use("toolu_function_call".into(), f));
    }
    let has_tools = content.iter().any(|b| b["type"] == "tool_use");

    let finish = choice.get("finish_reason").and_then(Value::as_str);
    let mut stop = final_stop(stop_reason(finish.unwrap_or("stop")), has_tools, refused);
    let stop_sequence = matched_stop(choice).filter(|_| stop == "end_turn");
    if stop_sequence.is_some() {
        stop = "stop_sequence";
    }
    let usage = read_usage(obj.get("usage"));
    let served = text_of(&v, "model").unwrap_or(model).to_owned();
    let out = json!({
        "id": message_id(obj.get("id").and_then(Value::as_str), "gateway"),
        "type": "message",
        "role": "assistant",
        "model": served,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": stop_sequence,
        "usage": usage_json(&usage.unwrap_or_default()),
    });
    Ok(Translated {
        body: to_bytes(&out),
        usage,
        model: Some(served),
    })
}

fn invalid(body: &[u8]) -> GatewayError {
    let shown = String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned();
    GatewayError::new(
        ErrorCode::UpstreamInvalidResponse,
        format!("Invalid chat completion received: {shown}"),
    )
}

/// Message text: a string, or (some compatible servers) an array of text parts.
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Array(parts) => {
            let t: String = parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .collect();
            (!t.is_empty()).then_some(t)
        }
        _ => None,
    }
}

/// Reasoning as thinking blocks. Chat has no signatures, so `signature` is empty unless
/// Portkey's `content_blocks` (a non-strict inner translator) carried one.
fn thinking_blocks(msg: &Value, out: &mut Vec<Value>) {
    if let Some(r) = text_of(msg, "reasoning_content").or_else(|| text_of(msg, "reasoning")) {
        out.push(json!({"type": "thinking", "thinking": r, "signature": ""}));
        return;
    }
    let blocks = msg.get("content_blocks").and_then(Value::as_array);
    for b in blocks.into_iter().flatten() {
        if b.get("type").and_then(Value::as_str) == Some("thinking") {
            let mut t = Map::new();
            t.insert("type".into(), json!("thinking"));
            t.insert(
                "thinking".into(),
                json!(text_of(b, "thinking").unwrap_or("")),
            );
            t.insert(
                "signature".into(),
                json!(text_of(b, "signature").unwrap_or("")),
            );
            out.push(Value::Object(t));
        }
    }
}

fn tool_use(id: String, f: &Value) -> Value {
    let input = match f.get("arguments") {
        Some(Value::String(s)) => serde_json::from_str::<Value>(s)
            .ok()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({})),
        Some(v @ Value::Object(_)) => v.clone(),
        _ => json!({}),
    };
    json!({"type": "tool_use", "id": id, "name": text_of(f, "name").unwrap_or(""), "input": input})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(body: Value) -> Value {
        let t = chat_to_message(body.to_string().as_bytes(), "fallback").unwrap();
        serde_json::from_slice(&t.body).unwrap()
    }

    #[test]
    fn malformed_bodies_are_invalid_responses_not_panics() {
        for body in [
            &b"nope"[..],
            b"[]",
            b"{}",
            br#"{"choices":[]}"#,
            br#"{"choices":[{"index":0}]}"#,
            br#"{"error":{"message":"x"}}"#,
        ] {
            let e = chat_to_message(body, "m").unwrap_err();
            assert_eq!(e.code(), ErrorCode::UpstreamInvalidResponse, "{body:?}");
        }
    }

    #[test]
    fn odd_but_valid_shapes() {
        let m = msg(
            json!({"choices": [{"message": {"content": null, "refusal": "no"}, "finish_reason": "stop"}]}),
        );
        assert_eq!(m["stop_reason"], "refusal");
        assert_eq!(m["content"][0]["text"], "no");
        assert_eq!(m["model"], "fallback");
        assert_eq!(m["id"], "msg_gateway");
        let m = msg(
            json!({"choices": [{"message": {"content": [{"type": "text", "text": "a"}],
            "function_call": {"name": "f", "arguments": "[1]"}}, "finish_reason": "function_call"}]}),
        );
        assert_eq!(m["stop_reason"], "tool_use");
        assert_eq!(m["content"][1]["input"], json!({}));
        let m = msg(
            json!({"choices": [{"message": {"content": "x"}, "finish_reason": "stop", "stop_reason": "END"}]}),
        );
        assert_eq!(
            (&m["stop_reason"], &m["stop_sequence"]),
            (&json!("stop_sequence"), &json!("END"))
        );
        let m = msg(
            json!({"choices": [{"message": {"content": "", "tool_calls": [
            {"id": "c", "function": {"name": "f", "arguments": "{\"a\":1}"}}]}, "finish_reason": "stop"}]}),
        );
        assert_eq!(m["stop_reason"], "tool_use");
        assert_eq!(
            m["content"],
            json!([{"type": "tool_use", "id": "c", "name": "f", "input": {"a": 1}}])
        );
    }
}
