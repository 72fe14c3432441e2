//! Anthropic messages and content blocks → OpenAI chat messages and content parts.
//!
//! One Anthropic turn can become several chat messages: a user turn's `tool_result` blocks
//! become `tool` messages (which must directly follow the assistant's `tool_calls`), then the
//! rest of the turn becomes one user message.

use portcullis_core::GatewayError;
use serde_json::{Map, Value, json};

use super::parts::{document_parts, image_part, kind, string_field, text_part, unsupported};
use super::request::RequestOptions;
use super::wire::bad;

/// Appends the chat messages for `messages[i]` to `out`.
pub(super) fn message(
    m: &Value,
    i: usize,
    opts: RequestOptions,
    out: &mut Vec<Value>,
) -> Result<(), GatewayError> {
    let at = format!("messages[{i}]");
    let m = m
        .as_object()
        .ok_or_else(|| bad(&at, format!("{at} must be an object")))?;
    let role = m.get("role").and_then(Value::as_str).unwrap_or("");
    let blocks = match m.get("content") {
        Some(Value::String(s)) => {
            out.push(json!({"role": role_of(role, &at)?, "content": s}));
            return Ok(());
        }
        Some(Value::Array(blocks)) => blocks,
        _ => {
            return Err(bad(
                &format!("{at}.content"),
                format!("{at}.content must be a string or an array of content blocks"),
            ));
        }
    };
    match role_of(role, &at)? {
        "user" => user(blocks, &at, out),
        _ => assistant(blocks, &at, opts, out),
    }
}

fn role_of<'r>(role: &'r str, at: &str) -> Result<&'r str, GatewayError> {
    match role {
        "user" | "assistant" => Ok(role),
        other => Err(bad(
            &format!("{at}.role"),
            format!("{at}.role must be 'user' or 'assistant', got '{other}'"),
        )),
    }
}

fn user(blocks: &[Value], at: &str, out: &mut Vec<Value>) -> Result<(), GatewayError> {
    let mut parts = Vec::with_capacity(blocks.len());
    // Tool messages carry text only: images a tool returned follow in the next user message.
    let mut tool_images = Vec::new();
    let mut tool_msgs = Vec::new();
    for (j, b) in blocks.iter().enumerate() {
        let at = format!("{at}.content[{j}]");
        match kind(b, &at)? {
            "text" => parts.push(text_part(string_field(b, "text", &at)?)),
            "image" => parts.push(image_part(b, &at)?),
            "document" => document_parts(b, &at, &mut parts)?,
            "tool_result" => tool_msgs.push(tool_result(b, &at, &mut tool_images)?),
            k => return Err(unsupported(k, &at, "user")),
        }
    }
    out.extend(tool_msgs);
    tool_images.extend(parts);
    if !tool_images.is_empty() {
        out.push(json!({"role": "user", "content": user_content(tool_images)}));
    }
    Ok(())
}

/// Text-only content as one string (some compatible servers accept nothing else); anything
/// with images or files as an array of parts.
fn user_content(parts: Vec<Value>) -> Value {
    if parts.iter().all(|p| p["type"] == "text") {
        let texts: Vec<&str> = parts.iter().filter_map(|p| p["text"].as_str()).collect();
        return json!(texts.join("\n"));
    }
    Value::Array(parts)
}

/// A `tool_result` as a `tool` message. Text blocks are joined; images move to the next user
/// message (tool messages carry text only) with a note in their place; `is_error` is spelled
/// out since chat has no flag for it.
fn tool_result(b: &Value, at: &str, images: &mut Vec<Value>) -> Result<Value, GatewayError> {
    let id = string_field(b, "tool_use_id", at)?;
    let mut texts: Vec<String> = Vec::new();
    match b.get("content") {
        None | Some(Value::Null) => {}
        Some(Value::String(s)) => texts.push(s.clone()),
        Some(Value::Array(items)) => {
            for (k, item) in items.iter().enumerate() {
                let iat = format!("{at}.content[{k}]");
                match kind(item, &iat)? {
                    "text" => texts.push(string_field(item, "text", &iat)?.to_owned()),
                    "image" => {
                        images.push(image_part(item, &iat)?);
                        texts.push(format!(
                            "[image: attached in the next user message, from tool result {id}]"
                        ));
                    }
                    "document" => {
                        let mut parts = Vec::new();
                        document_parts(item, &iat, &mut parts)?;
                        for p in parts {
                            match p["text"].as_str() {
                                Some(t) => texts.push(t.to_owned()),
                                None => images.push(p),
                            }
                        }
                    }
                    k => return Err(unsupported(k, &iat, "tool_result")),
                }
            }
        }
        Some(_) => {
            return Err(bad(
                &format!("{at}.content"),
                format!("{at}.content must be a string or an array of blocks"),
            ));
        }
    }
    let mut content = texts.join("\n");
    if b.get("is_error").and_then(Value::as_bool) == Some(true) {
        content.insert_str(0, "Error: ");
    }
    Ok(json!({"role": "tool", "tool_call_id": id, "content": content}))
}

fn assistant(
    blocks: &[Value],
    at: &str,
    opts: RequestOptions,
    out: &mut Vec<Value>,
) -> Result<(), GatewayError> {
    let mut text = String::new();
    let mut calls = Vec::new();
    let mut thinking = Vec::new();
    for (j, b) in blocks.iter().enumerate() {
        let at = format!("{at}.content[{j}]");
        match kind(b, &at)? {
            // Consecutive text blocks are one answer split at citations: joined as they are.
            "text" => text.push_str(string_field(b, "text", &at)?),
            "tool_use" => calls.push(tool_call(b, &at)?),
            "thinking" | "redacted_thinking" if opts.keep_thinking => thinking.push(b.clone()),
            // Another model cannot verify or use Claude's (or anyone's) earlier reasoning.
            "thinking" | "redacted_thinking" => {}
            k => return Err(unsupported(k, &at, "assistant")),
        }
    }
    if text.is_empty() && calls.is_empty() && thinking.is_empty() {
        // Nothing left (a thinking-only turn): an empty assistant message helps no provider.
        return Ok(());
    }
    let mut msg = Map::with_capacity(4);
    msg.insert("role".into(), json!("assistant"));
    let content = if text.is_empty() && !calls.is_empty() {
        Value::Null
    } else {
        json!(text)
    };
    msg.insert("content".into(), content);
    if !thinking.is_empty() {
        msg.insert("content_blocks".into(), Value::Array(thinking));
    }
    if !calls.is_empty() {
        msg.insert("tool_calls".into(), Value::Array(calls));
    }
    out.push(Value::Object(msg));
    Ok(())
}

fn tool_call(b: &Value, at: &str) -> Result<Value, GatewayError> {
    let id = string_field(b, "id", at)?;
    let name = string_field(b, "name", at)?;
    let args = match b.get("input") {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(v @ Value::Object(_)) => v.to_string(),
        Some(_) => {
            return Err(bad(
                &format!("{at}.input"),
                format!("{at}.input must be an object"),
            ));
        }
    };
    Ok(json!({"id": id, "type": "function", "function": {"name": name, "arguments": args}}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::ErrorCode;

    fn conv(m: Value) -> Result<Vec<Value>, GatewayError> {
        let mut out = Vec::new();
        message(&m, 2, RequestOptions::default(), &mut out).map(|()| out)
    }

    fn err(m: Value) -> String {
        let e = conv(m).unwrap_err();
        assert_eq!(e.code(), ErrorCode::InvalidRequestBody);
        e.message().to_owned()
    }

    #[test]
    fn malformed_messages_are_400s_naming_the_place() {
        assert!(err(json!("hi")).contains("messages[2] must be an object"));
        assert!(err(json!({"role": "system", "content": "x"})).contains("messages[2].role"));
        assert!(err(json!({"role": "user"})).contains("messages[2].content"));
        assert!(err(json!({"role": "user", "content": [{"text": "x"}]})).contains("content[0]"));
        let e = err(
            json!({"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "video"}]}),
        );
        assert!(
            e.contains("messages[2].content[1]") && e.contains("'video'"),
            "{e}"
        );
        let e = err(json!({"role": "user", "content": [{"type": "text", "text": 1}]}));
        assert!(e.contains("messages[2].content[0].text"), "{e}");
        let e =
            err(json!({"role": "user", "content": [{"type": "tool_use", "id": "a", "name": "f"}]}));
        assert!(e.contains("user messages"), "{e}");
        let e = err(json!({"role": "assistant", "content": [{"type": "image"}]}));
        assert!(e.contains("assistant messages"), "{e}");
        let e = err(
            json!({"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "f", "input": [1]}]}),
        );
        assert!(e.contains("content[0].input"), "{e}");
        let e = err(json!({"role": "user", "content": [{"type": "tool_result"}]}));
        assert!(e.contains("tool_use_id"), "{e}");
        let e = err(
            json!({"role": "user", "content": [{"type": "image", "source": {"type": "file", "file_id": "f"}}]}),
        );
        assert!(e.contains("file ids"), "{e}");
        let e = err(
            json!({"role": "user", "content": [{"type": "document", "source": {"type": "url", "url": "https://x/a.pdf"}}]}),
        );
        assert!(e.contains("source.type 'url'"), "{e}");
        let e = err(
            json!({"role": "user", "content": [{"type": "document", "source": {"type": "base64", "media_type": "text/csv", "data": "x"}}]}),
        );
        assert!(e.contains("text/csv"), "{e}");
        let e = err(json!({"role": "user", "content": [{"type": "server_tool_use", "id": "s"}]}));
        assert!(e.contains("server_tool_use"), "{e}");
    }

    #[test]
    fn thinking_only_turns_vanish_unless_kept() {
        let m = json!({"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "s"}]});
        assert!(conv(m.clone()).unwrap().is_empty());
        let mut out = Vec::new();
        let opts = RequestOptions {
            keep_thinking: true,
        };
        message(&m, 0, opts, &mut out).unwrap();
        assert_eq!(
            out[0],
            json!({"role": "assistant", "content": "", "content_blocks": [{"type": "thinking", "thinking": "t", "signature": "s"}]})
        );
    }

    #[test]
    fn tool_result_errors_and_images() {
        let out = conv(json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "t1", "is_error": true, "content": "boom"},
            {"type": "tool_result", "tool_use_id": "t2", "content": [
                {"type": "text", "text": "shot:"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA"}}
            ]}
        ]}))
        .unwrap();
        assert_eq!(out.len(), 3);
        assert_eq!(out[0]["content"], "Error: boom");
        assert!(
            out[1]["content"]
                .as_str()
                .unwrap()
                .starts_with("shot:\n[image")
        );
        assert_eq!(
            out[2]["content"][0]["image_url"]["url"],
            "data:image/png;base64,AAA"
        );
    }
}
