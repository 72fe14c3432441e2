//! `GenerateContentResponse` → OpenAI `chat.completion` (with the rules streams share).

use portcullis_core::{GatewayError, Usage};
use serde_json::{Map, Value, json};

use crate::adapter::{ResponseCtx, Translated};
use crate::common::{invalid_response, openai_usage_json, to_bytes};

/// OpenAI's finish reason for a Gemini one (strict mode). `STOP` with function calls is
/// `tool_calls`. Blocks of any kind are `content_filter`. Everything else — `OTHER`, `LANGUAGE`,
/// `MALFORMED_FUNCTION_CALL`, `UNEXPECTED_TOOL_CALL`, `TOO_MANY_TOOL_CALLS`, reasons added later —
/// is `stop`: the generation ended without a cap or a filter, and OpenAI has no closer value.
pub(super) fn finish_reason(reason: &str, has_tool_calls: bool, strict: bool) -> String {
    if !strict {
        return reason.to_owned();
    }
    let mapped = match reason {
        "STOP" | "FINISH_REASON_UNSPECIFIED" if has_tool_calls => "tool_calls",
        "MAX_TOKENS" => "length",
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => "content_filter",
        _ => "stop",
    };
    mapped.to_owned()
}

/// Normalised usage. `promptTokenCount` already includes `cachedContentTokenCount`; tool-use
/// prompt tokens (search results and the like) are billed as input, so they join the prompt;
/// thoughts are output, reported again as reasoning tokens.
pub(super) fn usage(meta: &Value) -> Option<Usage> {
    let obj = meta.as_object()?;
    let n = |k: &str| obj.get(k).and_then(Value::as_u64).unwrap_or(0);
    let prompt = n("promptTokenCount").saturating_add(n("toolUsePromptTokenCount"));
    let completion = n("candidatesTokenCount").saturating_add(n("thoughtsTokenCount"));
    let total = obj
        .get("totalTokenCount")
        .and_then(Value::as_u64)
        .unwrap_or(prompt.saturating_add(completion));
    Some(Usage {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: total,
        cached_tokens: n("cachedContentTokenCount"),
        cache_write_tokens: 0,
        reasoning_tokens: n("thoughtsTokenCount"),
    })
}

/// The completion id: Gemini's `responseId`, else one derived from the gateway time.
pub(super) fn response_id(v: &Value, created: u64) -> String {
    v.get("responseId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map_or_else(|| format!("gemini-{created}"), str::to_owned)
}

/// `modelVersion`, else the model that was asked for.
pub(super) fn model_version(v: &Value, ctx: &ResponseCtx) -> String {
    v.get("modelVersion")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .unwrap_or(&ctx.model)
        .to_owned()
}

/// The parts of a candidate; absent `content` or `parts` (blocked or empty candidates) is none.
pub(super) fn parts(candidate: &Value) -> &[Value] {
    candidate
        .pointer("/content/parts")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// An OpenAI tool call for a `functionCall` part.
pub(super) fn tool_call(part: &Value, id: String, strict: bool) -> Value {
    let fc = &part["functionCall"];
    let name = fc.get("name").and_then(Value::as_str).unwrap_or("");
    let args = fc
        .get("args")
        .filter(|a| !a.is_null())
        .cloned()
        .unwrap_or_else(|| json!({}));
    let mut function = json!({"name": name, "arguments": args.to_string()});
    if let (false, Some(sig)) = (strict, part.get("thoughtSignature")) {
        // Portkey's field: clients send it back and the request side restores it.
        function["thought_signature"] = sig.clone();
    }
    json!({"id": id, "type": "function", "function": function})
}

/// The id for the `n`-th call of a candidate: Gemini's own when it gives one, else one made
/// from the response id, so ids stay unique across the turns of a conversation.
pub(super) fn tool_call_id(part: &Value, scope: &str, candidate: u64, n: usize) -> String {
    part.pointer("/functionCall/id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map_or_else(|| format!("call_{scope}_{candidate}_{n}"), str::to_owned)
}

pub(super) fn is_thought(part: &Value) -> bool {
    part.get("thought")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

pub(super) fn translate(body: &[u8], ctx: &ResponseCtx) -> Result<Translated, GatewayError> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| invalid_response(&ctx.provider, body))?;
    if !v.is_object() {
        return Err(invalid_response(&ctx.provider, body));
    }
    let created = ctx.created;
    let model = model_version(&v, ctx);
    let id = response_id(&v, created);
    let candidates = v
        .get("candidates")
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    let mut choices: Vec<Value> = candidates
        .iter()
        .enumerate()
        .map(|(pos, c)| choice(c, pos as u64, ctx.strict, &id))
        .collect();
    if choices.is_empty() {
        // No candidates: the prompt itself was blocked (`promptFeedback.blockReason`).
        let reason = v
            .pointer("/promptFeedback/blockReason")
            .and_then(Value::as_str);
        let finish = match reason {
            Some(r) if !ctx.strict => r,
            Some(_) => "content_filter",
            None => "stop",
        };
        choices.push(json!({
            "index": 0,
            "message": {"role": "assistant", "content": null},
            "logprobs": null,
            "finish_reason": finish,
        }));
    }
    let usage = v.get("usageMetadata").and_then(usage);
    let mut out = Map::new();
    out.insert("id".into(), json!(id));
    out.insert("object".into(), json!("chat.completion"));
    out.insert("created".into(), json!(created));
    out.insert("model".into(), json!(model));
    out.insert("provider".into(), json!(ctx.provider));
    out.insert("choices".into(), Value::Array(choices));
    out.insert(
        "usage".into(),
        openai_usage_json(&usage.unwrap_or_default()),
    );
    Ok(Translated {
        body: to_bytes(&out),
        usage,
        model: Some(model),
    })
}

fn choice(c: &Value, pos: u64, strict: bool, scope: &str) -> Value {
    let index = c.get("index").and_then(Value::as_u64).unwrap_or(pos);
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    let mut blocks: Vec<Value> = Vec::new();
    let mut had_text = false;
    for part in parts(c) {
        if part.get("functionCall").is_some_and(Value::is_object) {
            let id = tool_call_id(part, scope, index, tool_calls.len());
            tool_calls.push(tool_call(part, id, strict));
        } else if let Some(t) = part.get("text").and_then(Value::as_str) {
            let kind = if is_thought(part) { "thinking" } else { "text" };
            if kind == "text" {
                had_text = true;
                text.push_str(t);
            }
            if !strict {
                push_block(&mut blocks, kind, t, part.get("thoughtSignature"));
            }
        } else if let (false, Some(data)) = (strict, part.get("inlineData")) {
            let mime = data
                .get("mimeType")
                .and_then(Value::as_str)
                .unwrap_or("application/octet-stream");
            let payload = data.get("data").and_then(Value::as_str).unwrap_or("");
            let url = format!("data:{mime};base64,{payload}");
            blocks.push(json!({"type": "image_url", "image_url": {"url": url}}));
        }
    }
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    // `null` when there is no text at all (only calls, or a blocked candidate), as OpenAI does.
    let no_text = text.is_empty() && (!had_text || !tool_calls.is_empty());
    message.insert(
        "content".into(),
        if no_text { Value::Null } else { json!(text) },
    );
    let has_calls = !tool_calls.is_empty();
    if has_calls {
        message.insert("tool_calls".into(), Value::Array(tool_calls));
    }
    if !blocks.is_empty() {
        message.insert("content_blocks".into(), Value::Array(blocks));
    }
    let reason = c
        .get("finishReason")
        .and_then(Value::as_str)
        .unwrap_or("STOP");
    let mut out = json!({
        "index": index,
        "message": message,
        "logprobs": logprobs(c),
        "finish_reason": finish_reason(reason, has_calls, strict),
    });
    if let (false, Some(g)) = (strict, c.get("groundingMetadata")) {
        out["groundingMetadata"] = g.clone();
    }
    out
}

/// Appends text to the last block of the same kind, or opens a new block.
fn push_block(blocks: &mut Vec<Value>, kind: &str, text: &str, signature: Option<&Value>) {
    let same = blocks
        .last()
        .is_some_and(|b| b["type"] == kind && b.get("signature").is_none());
    if same {
        if let Some(Value::String(s)) = blocks.last_mut().and_then(|b| b.get_mut(kind)) {
            s.push_str(text);
        }
    } else if !text.is_empty() || signature.is_some() {
        blocks.push(json!({ "type": kind, kind: text }));
    }
    if let (Some(sig), Some(last)) = (signature, blocks.last_mut()) {
        last["signature"] = sig.clone();
    }
}

/// `logprobsResult` → OpenAI's `logprobs.content`, `null` when Gemini sent none.
fn logprobs(c: &Value) -> Value {
    let Some(chosen) = c
        .pointer("/logprobsResult/chosenCandidates")
        .and_then(Value::as_array)
    else {
        return Value::Null;
    };
    let top = c
        .pointer("/logprobsResult/topCandidates")
        .and_then(Value::as_array);
    let entry = |t: &Value| {
        let token = t.get("token").and_then(Value::as_str).unwrap_or("");
        json!({
            "token": token,
            "logprob": t.get("logProbability").cloned().unwrap_or(json!(0.0)),
            "bytes": token.as_bytes(),
        })
    };
    let content: Vec<Value> = chosen
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut e = entry(t);
            let alternatives = top
                .and_then(|top| top.get(i))
                .and_then(|t| t.get("candidates"))
                .and_then(Value::as_array)
                .map(|cs| cs.iter().map(entry).collect::<Vec<_>>())
                .unwrap_or_default();
            e["top_logprobs"] = Value::Array(alternatives);
            e
        })
        .collect();
    json!({ "content": content })
}

#[cfg(test)]
mod tests {
    use super::*;
    use portcullis_core::Endpoint;

    fn ctx(strict: bool) -> ResponseCtx {
        ResponseCtx {
            endpoint: Endpoint::ChatComplete,
            provider: "google".into(),
            model: "gemini-2.5-flash".into(),
            strict,
            include_usage: false,
            created: 1700000000,
        }
    }

    #[test]
    fn missing_content_or_parts_never_panics() {
        for body in [
            r#"{"candidates":[{"finishReason":"SAFETY"}]}"#,
            r#"{"candidates":[{"content":{"role":"model"},"finishReason":"STOP"}]}"#,
            r#"{"candidates":[{"content":{"parts":[{}]}}]}"#,
            r#"{"candidates":null}"#,
            r#"{}"#,
        ] {
            let t = translate(body.as_bytes(), &ctx(true)).unwrap();
            let v: Value = serde_json::from_slice(&t.body).unwrap();
            assert_eq!(v["choices"].as_array().unwrap().len(), 1, "{body}");
            assert!(t.usage.is_none());
        }
    }

    #[test]
    fn non_json_or_non_objects_are_invalid_responses() {
        for body in ["<html>", "[1]", "\"x\""] {
            let e = translate(body.as_bytes(), &ctx(true)).unwrap_err();
            assert_eq!(e.status().as_u16(), 502);
        }
    }

    #[test]
    fn finish_reasons_map_only_in_strict_mode() {
        assert_eq!(finish_reason("STOP", true, true), "tool_calls");
        assert_eq!(finish_reason("MAX_TOKENS", false, true), "length");
        assert_eq!(finish_reason("SPII", false, true), "content_filter");
        assert_eq!(
            finish_reason("MALFORMED_FUNCTION_CALL", false, true),
            "stop"
        );
        assert_eq!(finish_reason("MAX_TOKENS", false, false), "MAX_TOKENS");
    }

    #[test]
    fn usage_counts_cache_once_and_thoughts_as_output() {
        let u = usage(&json!({
            "promptTokenCount": 100, "cachedContentTokenCount": 60, "candidatesTokenCount": 20,
            "thoughtsTokenCount": 30, "totalTokenCount": 150
        }))
        .unwrap();
        assert_eq!(
            (u.prompt_tokens, u.completion_tokens, u.total_tokens),
            (100, 50, 150)
        );
        assert_eq!((u.cached_tokens, u.reasoning_tokens), (60, 30));
    }
}
