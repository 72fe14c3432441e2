//! OpenAI `messages` → Anthropic's top-level `system` plus strictly alternating `messages`.

use portcullis_core::{ErrorCode, GatewayError};
use serde_json::{Map, Value, json};

use super::parts::{NATIVE_BLOCKS, text_block, text_part, user_part};

/// A client error naming the offending place in the request.
pub(super) fn bad(msg: impl Into<String>) -> GatewayError {
    GatewayError::new(ErrorCode::InvalidRequestBody, msg.into())
}

/// One Anthropic turn being assembled. `plain` marks a turn made of one string message, which
/// is sent back as a string (the shape the client used).
struct Turn {
    role: &'static str,
    blocks: Vec<Value>,
    plain: bool,
}

/// The converted conversation.
pub(super) struct Converted {
    /// System text blocks in order (cache_control kept on each).
    pub system: Vec<Value>,
    pub messages: Vec<Value>,
}

pub(super) fn convert(messages: &[Value]) -> Result<Converted, GatewayError> {
    let mut system = Vec::new();
    let mut turns: Vec<Turn> = Vec::with_capacity(messages.len());
    for (i, msg) in messages.iter().enumerate() {
        let obj = msg
            .as_object()
            .ok_or_else(|| bad(format!("messages[{i}] must be an object")))?;
        let role = obj.get("role").and_then(Value::as_str).unwrap_or("");
        let (role, mut blocks, plain) = match role {
            "system" | "developer" => {
                let mut parts = system_parts(obj, i)?;
                apply_cache_control(obj, &mut parts);
                system.extend(parts);
                continue;
            }
            "user" => {
                let (blocks, plain) = user_content(obj, i)?;
                ("user", blocks, plain)
            }
            "assistant" => {
                let blocks = assistant_blocks(obj, i)?;
                let plain = obj.get("content").is_some_and(Value::is_string)
                    && !obj.contains_key("content_blocks")
                    && !obj.contains_key("cache_control")
                    && blocks.len() == 1;
                ("assistant", blocks, plain)
            }
            "tool" => ("user", vec![tool_result(obj, i)?], false),
            "function" => {
                return Err(bad(format!(
                    "messages[{i}]: role 'function' is not supported by anthropic; use 'tool' messages"
                )));
            }
            other => return Err(bad(format!("messages[{i}]: unknown role '{other}'"))),
        };
        apply_cache_control(obj, &mut blocks);
        if blocks.is_empty() {
            // An assistant turn with neither text nor tool calls: Anthropic rejects empty content.
            continue;
        }
        match turns.last_mut() {
            // Anthropic requires alternation: same-role neighbours (e.g. several tool results,
            // or tool results followed by a user message) merge into one turn.
            Some(last) if last.role == role => {
                last.blocks.append(&mut blocks);
                last.plain = false;
            }
            _ => turns.push(Turn {
                role,
                blocks,
                plain,
            }),
        }
    }
    let messages = turns.into_iter().map(turn_json).collect();
    Ok(Converted { system, messages })
}

fn turn_json(t: Turn) -> Value {
    if t.plain
        && t.blocks.len() == 1
        && let Some(text) = t.blocks[0].get("text")
    {
        return json!({"role": t.role, "content": text});
    }
    json!({"role": t.role, "content": t.blocks})
}

/// A message-level `cache_control` marks the end of that message: it goes on its last block.
fn apply_cache_control(msg: &Map<String, Value>, blocks: &mut [Value]) {
    if let (Some(cc), Some(last)) = (msg.get("cache_control"), blocks.last_mut())
        && let Some(b) = last.as_object_mut()
    {
        b.entry("cache_control").or_insert_with(|| cc.clone());
    }
}

fn system_parts(msg: &Map<String, Value>, i: usize) -> Result<Vec<Value>, GatewayError> {
    match msg.get("content") {
        Some(Value::String(s)) => Ok(vec![text_block(s)]),
        Some(Value::Array(parts)) => parts
            .iter()
            .enumerate()
            .map(|(j, p)| match p.get("type").and_then(Value::as_str) {
                Some("text") => text_part(p, &format!("messages[{i}].content[{j}]")),
                other => Err(bad(format!(
                    "messages[{i}].content[{j}]: system messages may only contain text parts, got '{}'",
                    other.unwrap_or("")
                ))),
            })
            .collect(),
        _ => Err(bad(format!("messages[{i}].content must be a string or an array of text parts"))),
    }
}

fn user_content(msg: &Map<String, Value>, i: usize) -> Result<(Vec<Value>, bool), GatewayError> {
    match msg.get("content") {
        Some(Value::String(s)) => Ok((vec![text_block(s)], !msg.contains_key("cache_control"))),
        Some(Value::Array(parts)) => {
            let blocks = parts
                .iter()
                .enumerate()
                .map(|(j, p)| user_part(p, &format!("messages[{i}].content[{j}]")))
                .collect::<Result<_, _>>()?;
            Ok((blocks, false))
        }
        _ => Err(bad(format!(
            "messages[{i}].content must be a string or an array of parts"
        ))),
    }
}

fn assistant_blocks(msg: &Map<String, Value>, i: usize) -> Result<Vec<Value>, GatewayError> {
    let tool_calls = msg
        .get("tool_calls")
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty());
    let mut blocks = Vec::new();
    if let Some(cb) = msg.get("content_blocks").and_then(Value::as_array) {
        // Portkey's non-strict responses carry every block (thinking with its signature): sending
        // them back verbatim keeps extended thinking valid across tool-use turns.
        for (j, b) in cb.iter().enumerate() {
            let kind = b
                .get("type")
                .and_then(Value::as_str)
                .ok_or_else(|| bad(format!("messages[{i}].content_blocks[{j}] needs a 'type'")))?;
            // `tool_calls` is authoritative for tool use (a client may have edited it).
            if kind != "tool_use" || tool_calls.is_none() {
                blocks.push(b.clone());
            }
        }
    } else {
        match msg.get("content") {
            Some(Value::String(s)) if !s.is_empty() => blocks.push(text_block(s)),
            Some(Value::Array(parts)) => {
                for (j, p) in parts.iter().enumerate() {
                    let at = format!("messages[{i}].content[{j}]");
                    match p.get("type").and_then(Value::as_str).unwrap_or("") {
                        "text" => {
                            let b = text_part(p, &at)?;
                            if b["text"].as_str().is_some_and(|t| !t.is_empty()) {
                                blocks.push(b);
                            }
                        }
                        "refusal" => {
                            let t = p.get("refusal").and_then(Value::as_str).unwrap_or("");
                            if !t.is_empty() {
                                blocks.push(text_block(t));
                            }
                        }
                        k if NATIVE_BLOCKS.contains(&k) => blocks.push(p.clone()),
                        other => {
                            return Err(bad(format!(
                                "{at}: assistant content part type '{other}' is not supported by anthropic"
                            )));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    for (j, call) in tool_calls.into_iter().flatten().enumerate() {
        blocks.push(tool_use(call, &format!("messages[{i}].tool_calls[{j}]"))?);
    }
    Ok(blocks)
}

fn tool_use(call: &Value, at: &str) -> Result<Value, GatewayError> {
    let id = call
        .get("id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("{at} needs an id")))?;
    let f = call.get("function").ok_or_else(|| {
        bad(format!(
            "{at}: only function tool calls are supported by anthropic"
        ))
    })?;
    let name = f
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("{at}.function needs a name")))?;
    let input = match f.get("arguments") {
        None | Some(Value::Null) => json!({}),
        Some(Value::String(s)) if s.trim().is_empty() => json!({}),
        Some(Value::String(s)) => serde_json::from_str::<Value>(s)
            .map_err(|e| bad(format!("{at}.function.arguments is not valid JSON: {e}")))?,
        Some(other) => other.clone(),
    };
    if !input.is_object() {
        return Err(bad(format!(
            "{at}.function.arguments must be a JSON object"
        )));
    }
    Ok(json!({"type": "tool_use", "id": id, "name": name, "input": input}))
}

fn tool_result(msg: &Map<String, Value>, i: usize) -> Result<Value, GatewayError> {
    let id = msg
        .get("tool_call_id")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(format!("messages[{i}]: tool messages need a tool_call_id")))?;
    let mut block = json!({"type": "tool_result", "tool_use_id": id});
    match msg.get("content") {
        Some(Value::String(s)) => block["content"] = json!(s),
        Some(Value::Array(parts)) => {
            let parts = parts
                .iter()
                .enumerate()
                .map(|(j, p)| user_part(p, &format!("messages[{i}].content[{j}]")))
                .collect::<Result<Vec<_>, _>>()?;
            block["content"] = Value::Array(parts);
        }
        None | Some(Value::Null) => {}
        Some(_) => {
            return Err(bad(format!(
                "messages[{i}].content must be a string or an array of parts"
            )));
        }
    }
    Ok(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(v: Value) -> Result<Converted, GatewayError> {
        convert(v.as_array().unwrap())
    }

    fn err(v: Value) -> String {
        let e = conv(v).err().expect("should fail");
        assert_eq!(e.status().as_u16(), 400);
        e.message().to_owned()
    }

    #[test]
    fn unknown_parts_and_roles_are_named() {
        let m = err(
            json!([{"role":"user","content":"a"},{"role":"user","content":[{"type":"input_audio","input_audio":{}}]}]),
        );
        assert!(
            m.contains("messages[1].content[0]") && m.contains("input_audio"),
            "{m}"
        );
        assert!(err(json!([{"role":"wizard","content":"x"}])).contains("wizard"));
        assert!(err(json!(["nope"])).contains("messages[0]"));
        assert!(err(json!([{"role":"user"}])).contains("messages[0].content"));
        assert!(err(json!([{"role":"user","content":[{"text":"no type"}]}])).contains("type"));
        assert!(err(json!([{"role":"function","name":"f","content":"x"}])).contains("tool"));
    }

    #[test]
    fn bad_tool_calls_are_client_errors() {
        let call = |args: Value| json!([{"role":"assistant","tool_calls":[{"id":"t","type":"function","function":{"name":"f","arguments":args}}]}]);
        let m = err(call(json!("{oops")));
        assert!(
            m.contains("messages[0].tool_calls[0].function.arguments"),
            "{m}"
        );
        assert!(err(call(json!("[1,2]"))).contains("JSON object"));
        let ok = conv(call(json!(""))).unwrap();
        assert_eq!(ok.messages[0]["content"][0]["input"], json!({}));
        assert!(
            err(json!([{"role":"assistant","tool_calls":[{"function":{"name":"f"}}]}]))
                .contains("id")
        );
        assert!(err(json!([{"role":"tool","content":"x"}])).contains("tool_call_id"));
    }

    #[test]
    fn bad_media_is_rejected_clearly() {
        let img = |u: &str| json!([{"role":"user","content":[{"type":"image_url","image_url":{"url":u}}]}]);
        assert!(err(img("ftp://x/y.png")).contains("http(s)"));
        assert!(err(img("data:image/png,rawbytes")).contains("base64"));
        assert!(err(img("data:image/png;base64")).contains("malformed"));
        let file = |f: Value| json!([{"role":"user","content":[{"type":"file","file":f}]}]);
        assert!(
            err(file(
                json!({"file_data":"data:application/zip;base64,AAAA"})
            ))
            .contains("application/zip")
        );
        assert!(err(file(json!({}))).contains("file_data or file_id"));
        assert!(err(file(json!({"file_data":"data:text/plain;base64,@@@"}))).contains("base64"));
    }

    #[test]
    fn files_become_documents() {
        let c = conv(json!([{"role":"user","content":[
            {"type":"file","file":{"file_data":"data:text/plain;base64,aGVsbG8=","filename":"a.txt"}},
            {"type":"file","file":{"file_id":"file_011"}},
            {"type":"file","file":{"file_data":"JVBERi0="}}
        ]}]))
        .unwrap();
        let content = &c.messages[0]["content"];
        assert_eq!(
            content[0]["source"],
            json!({"type":"text","media_type":"text/plain","data":"hello"})
        );
        assert_eq!(
            content[1]["source"],
            json!({"type":"file","file_id":"file_011"})
        );
        assert_eq!(content[2]["source"]["media_type"], "application/pdf");
    }

    #[test]
    fn system_parts_must_be_text_and_empty_assistants_vanish() {
        assert!(
            err(json!([{"role":"system","content":[{"type":"image_url"}]}])).contains("text parts")
        );
        let c = conv(json!([
            {"role":"user","content":"a"},
            {"role":"assistant","content":null},
            {"role":"user","content":"b"}
        ]))
        .unwrap();
        assert_eq!(
            c.messages,
            vec![
                json!({"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]})
            ]
        );
    }
}
