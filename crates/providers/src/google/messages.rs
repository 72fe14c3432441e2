//! OpenAI `messages` → Gemini `contents` and `systemInstruction`.

use std::collections::HashMap;

use portcullis_core::{GatewayError, JsonObject};
use serde_json::{Map, Value, json};

use super::parts::content_part;
use super::request::{bad_request, get};
use crate::common::model_of;

/// The signature Google documents for function calls the model did not produce itself (or
/// whose signature the client could not keep): Gemini 3 answers 400 without one.
const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

pub(super) struct Converted {
    pub contents: Vec<Value>,
    pub system: Option<Value>,
}

pub(super) fn convert(body: &JsonObject) -> Result<Converted, GatewayError> {
    let list = get(body, "messages")
        .and_then(Value::as_array)
        .ok_or_else(|| bad_request("`messages` must be an array"))?;
    let needs_signature = requires_signatures(model_of(body));
    let mut system = Vec::new();
    let mut contents: Vec<(String, Vec<Value>)> = Vec::new();
    let mut call_names: HashMap<String, String> = HashMap::new();
    for (i, msg) in list.iter().enumerate() {
        let m = msg
            .as_object()
            .ok_or_else(|| bad_request(format!("messages[{i}] must be an object")))?;
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let (role, parts) = match role {
            "system" | "developer" => {
                system.push(text_of(m.get("content"), i)?);
                continue;
            }
            "user" => ("user", user_parts(m.get("content"), i)?),
            "assistant" => (
                "model",
                assistant_parts(m, i, &mut call_names, needs_signature)?,
            ),
            "tool" | "function" => ("user", vec![tool_result(m, i, &call_names)?]),
            other => {
                return Err(bad_request(format!(
                    "messages[{i}] has an unknown role {other:?}"
                )));
            }
        };
        // Gemini rejects empty `parts`; an assistant turn with nothing in it says nothing.
        if parts.is_empty() {
            continue;
        }
        // Gemini wants alternating turns: consecutive same-role messages (and parallel tool
        // results) become one content.
        match contents.last_mut() {
            Some((last, p)) if last == role => p.extend(parts),
            _ => contents.push((role.to_owned(), parts)),
        }
    }
    let system_text = system.join("\n\n");
    if contents.is_empty() && !system_text.is_empty() {
        // A system-only prompt: Gemini needs at least one content, OpenAI accepts it.
        return Ok(Converted {
            contents: vec![json!({"role": "user", "parts": [{"text": system_text}]})],
            system: None,
        });
    }
    if contents.is_empty() {
        return Err(bad_request("`messages` must contain at least one message"));
    }
    Ok(Converted {
        contents: contents
            .into_iter()
            .map(|(role, parts)| json!({"role": role, "parts": parts}))
            .collect(),
        system: (!system_text.is_empty()).then(|| json!({"parts": [{"text": system_text}]})),
    })
}

/// Gemini 3 and later validate thought signatures on function calls; 1.x/2.x and other model
/// families do not, so they are sent only what the client gave.
fn requires_signatures(model: &str) -> bool {
    let model = model
        .strip_prefix("models/")
        .unwrap_or(model)
        .to_ascii_lowercase();
    let Some(rest) = model.strip_prefix("gemini-") else {
        return false;
    };
    let major: String = rest.chars().take_while(char::is_ascii_digit).collect();
    match major.parse::<u32>() {
        Ok(v) => v >= 3,
        // Aliases such as `gemini-flash-latest` follow the newest generation.
        Err(_) => rest.ends_with("latest"),
    }
}

/// Plain text of a system or tool message: a string or an array of text parts.
fn text_of(content: Option<&Value>, i: usize) -> Result<String, GatewayError> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut out = String::new();
            for (j, p) in parts.iter().enumerate() {
                match p.get("text").and_then(Value::as_str) {
                    Some(t) => out.push_str(t),
                    None => {
                        return Err(bad_request(format!(
                            "messages[{i}].content[{j}] must be a text part"
                        )));
                    }
                }
            }
            Ok(out)
        }
        Some(_) => Err(bad_request(format!(
            "messages[{i}].content must be a string or an array"
        ))),
    }
}

fn user_parts(content: Option<&Value>, i: usize) -> Result<Vec<Value>, GatewayError> {
    match content {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::String(s)) => Ok(vec![json!({ "text": s })]),
        Some(Value::Array(parts)) => {
            let mut out = Vec::with_capacity(parts.len());
            for (j, p) in parts.iter().enumerate() {
                out.push(content_part(p, &format!("messages[{i}].content[{j}]"))?);
            }
            Ok(out)
        }
        Some(_) => Err(bad_request(format!(
            "messages[{i}].content must be a string or an array"
        ))),
    }
}

fn assistant_parts(
    m: &Map<String, Value>,
    i: usize,
    call_names: &mut HashMap<String, String>,
    needs_signature: bool,
) -> Result<Vec<Value>, GatewayError> {
    let mut parts = Vec::new();
    let text = match m.get("content") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|p| {
                p.get("text")
                    .or_else(|| p.get("refusal"))
                    .and_then(Value::as_str)
            })
            .collect::<String>(),
        other => text_of(other, i)?,
    };
    // Portkey's non-strict `content_blocks` carry the signatures Gemini returned.
    let blocks = m.get("content_blocks").and_then(Value::as_array);
    let signature_of = |kind: &str| {
        blocks.into_iter().flatten().rev().find_map(|b| {
            (b.get("type").and_then(Value::as_str) == Some(kind))
                .then(|| b.get("signature").and_then(Value::as_str))
                .flatten()
        })
    };
    if !text.is_empty() {
        let mut part = json!({ "text": text });
        if let Some(sig) = signature_of("text") {
            part["thoughtSignature"] = json!(sig);
        }
        parts.push(part);
    }
    let text_parts = parts.len();
    let mut calls: Vec<&Value> = m
        .get("tool_calls")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    if let Some(legacy) = m.get("function_call").filter(|f| f.is_object()) {
        calls.push(legacy);
    }
    for (j, call) in calls.into_iter().enumerate() {
        let f = call.get("function").unwrap_or(call);
        let name = f.get("name").and_then(Value::as_str).ok_or_else(|| {
            bad_request(format!(
                "messages[{i}].tool_calls[{j}] needs `function.name`"
            ))
        })?;
        let args = match f.get("arguments") {
            None | Some(Value::Null) => json!({}),
            Some(Value::String(s)) if s.trim().is_empty() => json!({}),
            Some(Value::String(s)) => serde_json::from_str::<Value>(s).map_err(|e| {
                bad_request(format!(
                    "messages[{i}].tool_calls[{j}].function.arguments is not valid JSON: {e}"
                ))
            })?,
            Some(v) => v.clone(),
        };
        if !args.is_object() {
            return Err(bad_request(format!(
                "messages[{i}].tool_calls[{j}].function.arguments must be a JSON object"
            )));
        }
        if let Some(id) = call.get("id").and_then(Value::as_str) {
            call_names.insert(id.to_owned(), name.to_owned());
        }
        let mut part = json!({"functionCall": {"name": name, "args": args}});
        let sig = f
            .get("thought_signature")
            .or_else(|| call.pointer("/extra_content/google/thought_signature"))
            .and_then(Value::as_str);
        if let Some(sig) = sig {
            part["thoughtSignature"] = json!(sig);
        }
        parts.push(part);
    }
    let first_call = parts.get_mut(text_parts);
    if let Some(first) = first_call.filter(|p| p.get("thoughtSignature").is_none()) {
        // Gemini puts a turn's signature on its first function call.
        match signature_of("thinking") {
            Some(sig) => first["thoughtSignature"] = json!(sig),
            None if needs_signature => first["thoughtSignature"] = json!(SKIP_SIGNATURE),
            None => {}
        }
    }
    Ok(parts)
}

fn tool_result(
    m: &Map<String, Value>,
    i: usize,
    call_names: &HashMap<String, String>,
) -> Result<Value, GatewayError> {
    let by_id = m
        .get("tool_call_id")
        .and_then(Value::as_str)
        .and_then(|id| call_names.get(id))
        .map(String::as_str);
    let name = by_id
        .or_else(|| m.get("name").and_then(Value::as_str))
        .ok_or_else(|| {
            bad_request(format!(
                "messages[{i}]: its tool_call_id matches no earlier tool call and it has no `name`"
            ))
        })?;
    let text = text_of(m.get("content"), i)?;
    let response = match serde_json::from_str::<Value>(&text) {
        Ok(v @ Value::Object(_)) => v,
        _ => json!({ "content": text }),
    };
    Ok(json!({"functionResponse": {"name": name, "response": response}}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conv(messages: Value) -> Result<Converted, GatewayError> {
        let body = json!({"model": "gemini-2.5-flash", "messages": messages});
        convert(body.as_object().unwrap())
    }

    #[test]
    fn invalid_arguments_are_a_400_naming_the_message() {
        let e = conv(json!([
            {"role": "user", "content": "hi"},
            {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]}
        ]))
        .err()
        .unwrap();
        assert_eq!(e.status().as_u16(), 400);
        assert!(
            e.message()
                .starts_with("messages[1].tool_calls[0].function.arguments is not valid JSON")
        );
    }

    #[test]
    fn malformed_messages_are_400s_not_panics() {
        for (messages, needle) in [
            (json!("hi"), "`messages` must be an array"),
            (json!([]), "at least one"),
            (json!([1]), "messages[0] must be an object"),
            (json!([{"role": "robot", "content": "x"}]), "unknown role"),
            (
                json!([{"role": "user", "content": 5}]),
                "messages[0].content",
            ),
            (
                json!([{"role": "user", "content": [{"type": "video"}]}]),
                "unsupported type",
            ),
            (
                json!([{"role": "user", "content": [{"type": "image_url"}]}]),
                "image_url.url",
            ),
            (
                json!([{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:xyz"}}]}]),
                "data URL",
            ),
            (
                json!([{"role": "tool", "tool_call_id": "nope", "content": "x"}]),
                "no `name`",
            ),
            (
                json!([{"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "[1]"}}]}]),
                "JSON object",
            ),
        ] {
            let e = conv(messages).err().unwrap();
            assert_eq!(e.status().as_u16(), 400);
            assert!(e.message().contains(needle), "{}", e.message());
        }
    }

    #[test]
    fn signatures_follow_the_model_generation() {
        assert!(requires_signatures("gemini-3-pro-preview"));
        assert!(requires_signatures("models/gemini-3.5-flash"));
        assert!(requires_signatures("gemini-flash-latest"));
        assert!(!requires_signatures("gemini-2.5-flash"));
        assert!(!requires_signatures("gemma-3-27b-it"));
        let body = json!({"model": "gemini-3-flash", "messages": [
            {"role": "assistant", "tool_calls": [
                {"id": "a", "function": {"name": "f", "arguments": "{}"}},
                {"id": "b", "function": {"name": "g", "arguments": "{}"}}
            ]}
        ]});
        let c = convert(body.as_object().unwrap()).unwrap();
        let parts = &c.contents[0]["parts"];
        assert_eq!(parts[0]["thoughtSignature"], SKIP_SIGNATURE);
        assert!(parts[1].get("thoughtSignature").is_none());
    }

    #[test]
    fn content_block_signatures_return_to_their_parts() {
        let c = conv(json!([{"role": "assistant", "content": "Checking.",
            "content_blocks": [
                {"type": "thinking", "thinking": "hmm", "signature": "dGhpbms="},
                {"type": "text", "text": "Checking."}
            ],
            "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{}"}}]
        }]))
        .ok()
        .unwrap();
        let parts = &c.contents[0]["parts"];
        assert!(parts[0].get("thoughtSignature").is_none());
        assert_eq!(parts[1]["thoughtSignature"], "dGhpbms=");
    }

    #[test]
    fn plain_data_urls_are_base64_encoded() {
        let c = conv(json!([{"role": "user", "content": [
            {"type": "image_url", "image_url": {"url": "data:text/plain,hello%20world"}}
        ]}]))
        .ok()
        .unwrap();
        assert_eq!(
            c.contents[0]["parts"][0],
            json!({"inlineData": {"mimeType": "text/plain", "data": "aGVsbG8gd29ybGQ="}})
        );
    }
}
