//! A complete chat completion re-emitted as an OpenAI stream: for upstreams that answer a
//! stream request with plain JSON (some OpenAI-compatible servers ignore `stream`).

use bytes::Bytes;
use portcullis_core::sse::{DONE_FRAME, push_data_frame};
use serde_json::{Map, Value, json};

/// `chat.completion` JSON → `chat.completion.chunk` frames ending in `data: [DONE]`.
/// Returns `None` when the body is not a chat completion.
pub fn chat_completion_to_sse(body: &[u8], include_usage: bool) -> Option<Bytes> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let obj = v.as_object()?;
    let choices = obj.get("choices")?.as_array()?;
    let mut base = Map::new();
    for key in ["id", "created", "model", "system_fingerprint", "provider"] {
        if let Some(x) = obj.get(key) {
            base.insert(key.into(), x.clone());
        }
    }
    base.insert("object".into(), json!("chat.completion.chunk"));
    let frame = |out: &mut Vec<u8>, choices: Value, usage: Option<&Value>| {
        let mut m = base.clone();
        m.insert("choices".into(), choices);
        if let Some(u) = usage {
            m.insert("usage".into(), u.clone());
        }
        push_data_frame(out, &serde_json::to_vec(&m).unwrap_or_default());
    };
    let mut out = Vec::new();
    for (i, c) in choices.iter().enumerate() {
        let index = c.get("index").cloned().unwrap_or(json!(i));
        let mut delta = c.get("message").cloned().unwrap_or_else(|| json!({}));
        if let Some(calls) = delta.get_mut("tool_calls").and_then(Value::as_array_mut) {
            for (n, call) in calls.iter_mut().enumerate() {
                if let Some(o) = call.as_object_mut() {
                    o.entry("index").or_insert(json!(n));
                }
            }
        }
        frame(
            &mut out,
            json!([{"index": index, "delta": delta, "logprobs": null, "finish_reason": null}]),
            None,
        );
        let finish = c.get("finish_reason").cloned().unwrap_or(json!("stop"));
        frame(
            &mut out,
            json!([{"index": index, "delta": {}, "logprobs": null, "finish_reason": finish}]),
            None,
        );
    }
    if let Some(u) = obj.get("usage").filter(|_| include_usage) {
        frame(&mut out, json!([]), Some(u));
    }
    out.extend_from_slice(DONE_FRAME);
    Some(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replays_content_tool_calls_and_usage() {
        let body = br#"{"id":"c1","object":"chat.completion","created":5,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"hi","tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"}],"usage":{"prompt_tokens":1,"completion_tokens":2,"total_tokens":3}}"#;
        let sse = chat_completion_to_sse(body, true).unwrap();
        let text = std::str::from_utf8(&sse).unwrap();
        let frames: Vec<&str> = text.split("\n\n").filter(|f| !f.is_empty()).collect();
        assert_eq!(frames.len(), 4);
        assert!(frames[0].contains(r#""delta":{"role":"assistant","content":"hi","tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":"{}"},"index":0}]}"#), "{}", frames[0]);
        assert!(frames[1].contains(r#""finish_reason":"tool_calls""#));
        assert!(frames[2].contains(r#""choices":[],"usage""#));
        assert_eq!(frames[3], "data: [DONE]");
        assert!(chat_completion_to_sse(b"{}", true).is_none());
        assert!(
            !std::str::from_utf8(&chat_completion_to_sse(body, false).unwrap())
                .unwrap()
                .contains("usage")
        );
    }
}
