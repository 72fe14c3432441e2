//! Anthropic wire format: Messages (plain and event stream), count_tokens, errors.

use serde_json::{Map, Value, json};

use crate::answer::{self, Answer, SIGNATURE};
use crate::body::{Event, Framing, Kind, Out, Payload, Script};

/// `usage` in Anthropic terms: `input_tokens` excludes cache reads and writes.
fn usage(a: &Answer<'_>, output_tokens: u64) -> Map<String, Value> {
    let u = &a.usage;
    let mut m = Map::new();
    m.insert(
        "input_tokens".into(),
        u.prompt
            .saturating_sub(u.cached)
            .saturating_sub(u.cache_write)
            .into(),
    );
    m.insert("cache_creation_input_tokens".into(), u.cache_write.into());
    m.insert("cache_read_input_tokens".into(), u.cached.into());
    m.insert("output_tokens".into(), output_tokens.into());
    m
}

fn stop_reason<'a>(a: &Answer<'a>) -> &'a str {
    match a.finish_reason() {
        "stop" => "end_turn",
        "length" => "max_tokens",
        "tool_calls" => "tool_use",
        "content_filter" => "refusal",
        other => other,
    }
}

/// Tool input as an object; arguments that are not JSON are passed through as a string so a
/// test scripting bad arguments sees them unchanged.
fn tool_input(arguments: &str) -> Value {
    serde_json::from_str(arguments).unwrap_or_else(|_| Value::String(arguments.to_owned()))
}

fn message(
    id: &str,
    a: &Answer<'_>,
    content: Value,
    stop: Value,
    usage: Map<String, Value>,
) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), id.into());
    m.insert("type".into(), "message".into());
    m.insert("role".into(), "assistant".into());
    if let Some(model) = a.model {
        m.insert("model".into(), model.into());
    }
    m.insert("content".into(), content);
    m.insert("stop_reason".into(), stop);
    m.insert("stop_sequence".into(), Value::Null);
    m.insert("usage".into(), usage.into());
    Value::Object(m)
}

pub(crate) fn messages(a: &Answer<'_>, stream: bool) -> Out {
    let id = answer::id("msg_01", 22);
    if stream {
        return Out::Stream(messages_stream(a, &id));
    }
    let mut blocks = Vec::new();
    if let Some(thinking) = a.thinking {
        blocks.push(json!({"type": "thinking", "thinking": thinking, "signature": SIGNATURE}));
    }
    if let Some(text) = &a.text {
        blocks.push(json!({"type": "text", "text": text}));
    }
    for t in a.tools {
        blocks.push(json!({
            "type": "tool_use",
            "id": answer::id("toolu_01", 22),
            "name": t.name,
            "input": tool_input(&t.arguments)
        }));
    }
    let mut u = usage(a, a.usage.completion);
    u.insert("service_tier".into(), "standard".into());
    Out::Json(message(&id, a, blocks.into(), stop_reason(a).into(), u))
}

fn messages_stream(a: &Answer<'_>, id: &str) -> Script {
    let mut events = Vec::new();
    let mut start_usage = usage(a, 1);
    start_usage.insert("service_tier".into(), "standard".into());
    let start = message(id, a, json!([]), Value::Null, start_usage);
    events.push(Event::meta(
        "message_start",
        json!({"type": "message_start", "message": start}),
    ));

    let mut index = 0usize;
    let mut open = |events: &mut Vec<Event>, block: Value| {
        events.push(Event::meta(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": block}),
        ));
        // Anthropic sends one ping right after the first block opens.
        if index == 0 {
            events.push(Event::meta("ping", json!({"type": "ping"})));
        }
        index += 1;
        index - 1
    };
    let delta = |i: usize, d: Value| {
        Event::content(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": i, "delta": d}),
        )
    };
    let close = |i: usize| {
        Event::meta(
            "content_block_stop",
            json!({"type": "content_block_stop", "index": i}),
        )
    };

    if let Some(thinking) = a.thinking {
        let i = open(
            &mut events,
            json!({"type": "thinking", "thinking": "", "signature": ""}),
        );
        for piece in answer::pieces(thinking, a.chunks) {
            events.push(delta(
                i,
                json!({"type": "thinking_delta", "thinking": piece}),
            ));
        }
        events.push(delta(
            i,
            json!({"type": "signature_delta", "signature": SIGNATURE}),
        ));
        events.push(close(i));
    }
    if a.text.is_some() {
        let i = open(&mut events, json!({"type": "text", "text": ""}));
        for piece in a.text_pieces() {
            events.push(delta(i, json!({"type": "text_delta", "text": piece})));
        }
        events.push(close(i));
    }
    for t in a.tools {
        let block = json!({
            "type": "tool_use",
            "id": answer::id("toolu_01", 22),
            "name": t.name,
            "input": {}
        });
        let i = open(&mut events, block);
        for piece in answer::pieces(&t.arguments, a.chunks) {
            events.push(delta(
                i,
                json!({"type": "input_json_delta", "partial_json": piece}),
            ));
        }
        events.push(close(i));
    }
    events.push(Event::tail(
        "message_delta",
        json!({
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason(a), "stop_sequence": null},
            "usage": usage(a, a.usage.completion)
        }),
    ));
    events.push(Event::tail("message_stop", json!({"type": "message_stop"})));
    Script {
        framing: Framing::NamedSse,
        events,
        error: Event::tail(
            "error",
            json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
        ),
        malformed: Event {
            kind: Kind::Content,
            name: "content_block_delta",
            payload: Payload::Raw(
                r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"#,
            ),
        },
    }
}

pub(crate) fn count_tokens(a: &Answer<'_>) -> Value {
    json!({"input_tokens": a.usage.prompt})
}

pub(crate) fn error_body(status: u16, message: Option<&str>) -> Value {
    let (kind, default) = match status {
        400 => ("invalid_request_error", "Invalid request."),
        401 => ("authentication_error", "invalid x-api-key"),
        402 => (
            "billing_error",
            "Your credit balance is too low to access the Anthropic API.",
        ),
        403 => (
            "permission_error",
            "Your API key does not have permission to use the specified resource.",
        ),
        404 => (
            "not_found_error",
            "The requested resource could not be found.",
        ),
        413 => (
            "request_too_large",
            "Request exceeds the maximum allowed number of bytes.",
        ),
        429 => (
            "rate_limit_error",
            "Number of request tokens has exceeded your per-minute rate limit.",
        ),
        500 => ("api_error", "Internal server error"),
        504 => ("timeout_error", "Request timed out"),
        529 => ("overloaded_error", "Overloaded"),
        s if s >= 500 => ("api_error", "Internal server error"),
        _ => ("invalid_request_error", "Invalid request."),
    };
    json!({
        "type": "error",
        "error": {"type": kind, "message": message.unwrap_or(default)},
        "request_id": answer::id("req_011", 21)
    })
}
