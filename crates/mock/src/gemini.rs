//! Gemini wire format: generateContent, streamGenerateContent (SSE or JSON array),
//! embedContent, batchEmbedContents, countTokens, errors.

use serde_json::{Map, Value, json};

use crate::answer::{self, Answer};
use crate::body::{Event, Framing, Kind, Out, Payload, Script};
use crate::routes::Head;

/// Gemini leaves zero counts out (proto3 JSON), so optional counts appear only when non-zero.
fn usage_metadata(a: &Answer<'_>, complete: bool) -> Value {
    let u = &a.usage;
    let mut m = Map::new();
    m.insert("promptTokenCount".into(), u.prompt.into());
    if complete {
        // Gemini reports thoughts separately from candidates; the total counts both.
        m.insert(
            "candidatesTokenCount".into(),
            u.completion.saturating_sub(u.reasoning).into(),
        );
        m.insert("totalTokenCount".into(), u.total().into());
    } else {
        m.insert("totalTokenCount".into(), u.prompt.into());
    }
    if u.cached > 0 {
        m.insert("cachedContentTokenCount".into(), u.cached.into());
    }
    m.insert(
        "promptTokensDetails".into(),
        json!([{"modality": "TEXT", "tokenCount": u.prompt}]),
    );
    if complete && u.reasoning > 0 {
        m.insert("thoughtsTokenCount".into(), u.reasoning.into());
    }
    Value::Object(m)
}

/// Gemini reports function calls with `STOP` too.
fn finish_reason<'a>(a: &Answer<'a>) -> &'a str {
    match a.finish_reason() {
        "stop" | "tool_calls" => "STOP",
        "length" => "MAX_TOKENS",
        "content_filter" => "SAFETY",
        other => other,
    }
}

fn response(a: &Answer<'_>, id: &str, parts: Vec<Value>, finish: bool) -> Value {
    let mut candidate = Map::new();
    candidate.insert("content".into(), json!({"parts": parts, "role": "model"}));
    if finish {
        candidate.insert("finishReason".into(), finish_reason(a).into());
    }
    candidate.insert("index".into(), 0.into());
    let mut m = Map::new();
    m.insert("candidates".into(), json!([candidate]));
    m.insert("usageMetadata".into(), usage_metadata(a, finish));
    if let Some(model) = a.model {
        m.insert("modelVersion".into(), model.into());
    }
    m.insert("responseId".into(), id.into());
    Value::Object(m)
}

fn function_call(name: &str, arguments: &str) -> Value {
    let args: Value =
        serde_json::from_str(arguments).unwrap_or_else(|_| Value::String(arguments.to_owned()));
    json!({"functionCall": {"name": name, "args": args}})
}

pub(crate) fn generate(a: &Answer<'_>) -> Out {
    let id = answer::id("", 23);
    let mut parts = Vec::new();
    if let Some(thinking) = a.thinking {
        parts.push(json!({"text": thinking, "thought": true}));
    }
    if let Some(text) = &a.text {
        parts.push(json!({"text": text}));
    }
    for t in a.tools {
        parts.push(function_call(&t.name, &t.arguments));
    }
    Out::Json(response(a, &id, parts, true))
}

pub(crate) fn stream(a: &Answer<'_>, sse: bool) -> Out {
    let id = answer::id("", 23);
    let mut events = Vec::new();
    let content = |part: Value| Event::content("", response(a, &id, vec![part], false));
    if let Some(thinking) = a.thinking {
        for piece in answer::pieces(thinking, a.chunks) {
            events.push(content(json!({"text": piece, "thought": true})));
        }
    }
    if a.text.is_some() {
        for piece in a.text_pieces() {
            events.push(content(json!({"text": piece})));
        }
    }
    // Gemini streams each function call whole, in one chunk.
    for t in a.tools {
        events.push(content(function_call(&t.name, &t.arguments)));
    }
    events.push(Event::tail(
        "",
        response(a, &id, vec![json!({"text": ""})], true),
    ));
    Out::Stream(Script {
        framing: if sse {
            Framing::CrlfSse
        } else {
            Framing::JsonArray
        },
        events,
        error: Event::tail("", error_body(503, None)),
        malformed: Event {
            kind: Kind::Content,
            name: "",
            payload: Payload::Raw(r#"{"candidates":[{"content":{"parts":[{"text":"#),
        },
    })
}

fn values(content: &Value, dims: Option<u32>) -> Value {
    let seed = serde_json::to_vec(content).unwrap_or_default();
    let dims = dims.map_or(8, |d| d.clamp(1, 4096) as usize);
    json!({"values": answer::embedding(&seed, dims)})
}

/// `embedContent`; `Err` carries the 400 message.
pub(crate) fn embed(head: &Head<'_>) -> Result<Out, String> {
    let content = head
        .content
        .as_ref()
        .ok_or("* EmbedContentRequest.content: content is required")?;
    Ok(Out::Json(
        json!({"embedding": values(content, head.output_dimensionality)}),
    ))
}

/// `batchEmbedContents`; `Err` carries the 400 message.
pub(crate) fn batch_embed(head: &Head<'_>) -> Result<Out, String> {
    let requests = head
        .requests
        .as_ref()
        .filter(|r| !r.is_empty())
        .ok_or("* BatchEmbedContentsRequest.requests: requests is required")?;
    let embeddings: Result<Vec<Value>, String> = requests
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.content
                .as_ref()
                .map(|c| values(c, r.output_dimensionality))
                .ok_or_else(|| {
                    format!(
                        "* BatchEmbedContentsRequest.requests[{i}].content: content is required"
                    )
                })
        })
        .collect();
    Ok(Out::Json(json!({"embeddings": embeddings?})))
}

pub(crate) fn count_tokens(a: &Answer<'_>) -> Value {
    json!({
        "totalTokens": a.usage.prompt,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": a.usage.prompt}]
    })
}

pub(crate) fn error_body(status: u16, message: Option<&str>) -> Value {
    let (code, default) = match status {
        400 => ("INVALID_ARGUMENT", "Request contains an invalid argument."),
        401 => (
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials.",
        ),
        403 => ("PERMISSION_DENIED", "The caller does not have permission."),
        404 => ("NOT_FOUND", "Requested entity was not found."),
        409 => ("ABORTED", "The request was aborted."),
        429 => (
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota).",
        ),
        499 => ("CANCELLED", "The operation was cancelled."),
        500 => (
            "INTERNAL",
            "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
        ),
        501 => (
            "UNIMPLEMENTED",
            "Operation is not implemented, or supported, or enabled.",
        ),
        503 => (
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
        ),
        504 => (
            "DEADLINE_EXCEEDED",
            "Deadline expired before operation could complete.",
        ),
        s if s >= 500 => ("INTERNAL", "An internal error has occurred."),
        _ => ("FAILED_PRECONDITION", "Precondition check failed."),
    };
    json!({"error": {"code": status, "message": message.unwrap_or(default), "status": code}})
}
