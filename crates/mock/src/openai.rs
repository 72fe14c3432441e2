//! OpenAI wire format: chat completions, legacy completions, embeddings, models, errors.

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::answer::{self, Answer, Usage};
use crate::body::{Event, Framing, Kind, Out, Payload, Script};

const FINGERPRINT: &str = "fp_mock0000";
const MODELS: &[&str] = &[
    "gpt-4o",
    "gpt-4o-mini",
    "gpt-4.1",
    "gpt-4.1-mini",
    "o3-mini",
    "text-embedding-3-small",
];

pub(crate) fn usage(u: &Usage) -> Value {
    json!({
        "prompt_tokens": u.prompt,
        "completion_tokens": u.completion,
        "total_tokens": u.total(),
        "prompt_tokens_details": {"cached_tokens": u.cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": u.reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0
        }
    })
}

/// `{id, object, created, model?, ...}`: the header every response object and chunk starts with.
fn head(id: &str, object: &str, a: &Answer<'_>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), id.into());
    m.insert("object".into(), object.into());
    m.insert("created".into(), a.created.into());
    if let Some(model) = a.model {
        m.insert("model".into(), model.into());
    }
    m
}

pub(crate) fn chat(a: &Answer<'_>, stream: bool, include_usage: bool) -> Out {
    let id = answer::id("chatcmpl-", 29);
    if stream {
        return Out::Stream(chat_stream(a, &id, include_usage));
    }
    let mut message = Map::new();
    message.insert("role".into(), "assistant".into());
    message.insert("content".into(), a.text.as_deref().into());
    message.insert("refusal".into(), Value::Null);
    message.insert("annotations".into(), json!([]));
    if !a.tools.is_empty() {
        let calls: Vec<Value> = a
            .tools
            .iter()
            .map(|t| {
                json!({
                    "id": answer::id("call_", 24),
                    "type": "function",
                    "function": {"name": t.name, "arguments": t.arguments}
                })
            })
            .collect();
        message.insert("tool_calls".into(), calls.into());
    }
    let mut m = head(&id, "chat.completion", a);
    m.insert(
        "choices".into(),
        json!([{
            "index": 0,
            "message": message,
            "logprobs": null,
            "finish_reason": a.finish_reason()
        }]),
    );
    m.insert("usage".into(), usage(&a.usage));
    m.insert("service_tier".into(), "default".into());
    m.insert("system_fingerprint".into(), FINGERPRINT.into());
    Out::Json(Value::Object(m))
}

/// Builds chunk objects sharing one id; with `include_usage` every chunk carries `usage: null`
/// and a final usage-only chunk has `choices: []`, as OpenAI documents.
struct Chunker<'a> {
    id: &'a str,
    object: &'static str,
    answer: &'a Answer<'a>,
    include_usage: bool,
    chat: bool,
}

impl Chunker<'_> {
    fn chunk(&self, choices: Value, usage: Value) -> Value {
        let mut m = head(self.id, self.object, self.answer);
        if self.chat {
            m.insert("service_tier".into(), "default".into());
        }
        m.insert("system_fingerprint".into(), FINGERPRINT.into());
        m.insert("choices".into(), choices);
        if self.include_usage {
            m.insert("usage".into(), usage);
        }
        Value::Object(m)
    }

    fn delta(&self, delta: Value, finish: Option<&str>) -> Value {
        self.chunk(
            json!([{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]),
            Value::Null,
        )
    }

    fn text(&self, text: &str, finish: Option<&str>) -> Value {
        self.chunk(
            json!([{"text": text, "index": 0, "logprobs": null, "finish_reason": finish}]),
            Value::Null,
        )
    }

    /// The usage chunk (if asked for) and `[DONE]`.
    fn tail(&self, events: &mut Vec<Event>) {
        if self.include_usage {
            events.push(Event::tail(
                "",
                self.chunk(json!([]), usage(&self.answer.usage)),
            ));
        }
        events.push(Event {
            kind: Kind::Tail,
            name: "",
            payload: Payload::Raw("[DONE]"),
        });
    }
}

fn chat_stream(a: &Answer<'_>, id: &str, include_usage: bool) -> Script {
    let c = Chunker {
        id,
        object: "chat.completion.chunk",
        answer: a,
        include_usage,
        chat: true,
    };
    let mut events = Vec::new();
    let first =
        json!({"role": "assistant", "content": a.text.as_ref().map(|_| ""), "refusal": null});
    events.push(Event::meta("", c.delta(first, None)));
    if a.text.is_some() {
        for piece in a.text_pieces() {
            events.push(Event::content("", c.delta(json!({"content": piece}), None)));
        }
    }
    for (index, t) in a.tools.iter().enumerate() {
        let open = json!({"tool_calls": [{
            "index": index,
            "id": answer::id("call_", 24),
            "type": "function",
            "function": {"name": t.name, "arguments": ""}
        }]});
        events.push(Event::content("", c.delta(open, None)));
        for piece in answer::pieces(&t.arguments, a.chunks) {
            let args = json!({"tool_calls": [{"index": index, "function": {"arguments": piece}}]});
            events.push(Event::content("", c.delta(args, None)));
        }
    }
    events.push(Event::tail("", c.delta(json!({}), Some(a.finish_reason()))));
    c.tail(&mut events);
    script(events)
}

pub(crate) fn completions(a: &Answer<'_>, stream: bool, include_usage: bool) -> Out {
    let id = answer::id("cmpl-", 29);
    let text = a.text.as_deref().unwrap_or("");
    if stream {
        let c = Chunker {
            id: &id,
            object: "text_completion",
            answer: a,
            include_usage,
            chat: false,
        };
        let mut events: Vec<Event> = a
            .text_pieces()
            .into_iter()
            .map(|p| Event::content("", c.text(p, None)))
            .collect();
        events.push(Event::tail("", c.text("", Some(a.finish_reason()))));
        c.tail(&mut events);
        return Out::Stream(script(events));
    }
    let mut m = head(&id, "text_completion", a);
    m.insert("system_fingerprint".into(), FINGERPRINT.into());
    m.insert(
        "choices".into(),
        json!([{"text": text, "index": 0, "logprobs": null, "finish_reason": a.finish_reason()}]),
    );
    m.insert("usage".into(), usage(&a.usage));
    Out::Json(Value::Object(m))
}

fn script(events: Vec<Event>) -> Script {
    Script {
        framing: Framing::Sse,
        events,
        error: Event::tail("", json!({"error": error_object(500, None)})),
        malformed: Event {
            kind: Kind::Content,
            name: "",
            payload: Payload::Raw(
                r#"{"id":"chatcmpl-malformed","object":"chat.completion.chunk","choices":[{"delta":{"content":"#,
            ),
        },
    }
}

/// `input` as a list of items: a string, an array of strings, a token array, or an array
/// of token arrays. `None` when the shape is not one OpenAI accepts.
fn embedding_inputs(input: &Value) -> Option<Vec<&Value>> {
    match input {
        Value::String(_) => Some(vec![input]),
        Value::Array(items) if items.is_empty() => None,
        Value::Array(items) if items.iter().all(Value::is_number) => Some(vec![input]),
        Value::Array(items) if items.iter().all(|v| v.is_string() || v.is_array()) => {
            Some(items.iter().collect())
        }
        _ => None,
    }
}

/// Deterministic embeddings; `Err` carries the 400 message.
pub(crate) fn embeddings(
    a: &Answer<'_>,
    input: Option<&Value>,
    dims: Option<u32>,
    base64: bool,
) -> Result<Out, String> {
    let input = input.ok_or("'input' is a required property")?;
    let items =
        embedding_inputs(input).ok_or("'$.input' is invalid. Please check the API reference.")?;
    let dims = dims.map_or(8, |d| d.clamp(1, 4096) as usize);
    let data: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let seed = serde_json::to_vec(item).unwrap_or_default();
            let vector = answer::embedding(&seed, dims);
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                base64::engine::general_purpose::STANDARD
                    .encode(bytes)
                    .into()
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let mut m = Map::new();
    m.insert("object".into(), "list".into());
    m.insert("data".into(), data.into());
    if let Some(model) = a.model {
        m.insert("model".into(), model.into());
    }
    m.insert(
        "usage".into(),
        json!({"prompt_tokens": a.usage.prompt, "total_tokens": a.usage.prompt}),
    );
    Ok(Out::Json(Value::Object(m)))
}

fn model_object(id: &str) -> Value {
    json!({"id": id, "object": "model", "created": 1_700_000_000u64, "owned_by": "portcullis-mock"})
}

pub(crate) fn models() -> Value {
    let data: Vec<Value> = MODELS.iter().map(|m| model_object(m)).collect();
    json!({"object": "list", "data": data})
}

pub(crate) fn model(id: &str) -> Value {
    model_object(id)
}

/// The inner `error` object for `status`, with OpenAI's types and codes.
pub(crate) fn error_object(status: u16, message: Option<&str>) -> Value {
    let (default, kind, code): (&str, &str, Value) = match status {
        400 => ("Invalid request.", "invalid_request_error", Value::Null),
        401 => (
            "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key".into(),
        ),
        403 => (
            "You are not allowed to access this resource.",
            "invalid_request_error",
            "permission_denied".into(),
        ),
        404 => (
            "The model does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found".into(),
        ),
        429 => (
            "Rate limit reached for requests. Please try again later.",
            "requests",
            "rate_limit_exceeded".into(),
        ),
        500 => (
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            Value::Null,
        ),
        502 | 503 => (
            "The server is overloaded or not ready yet.",
            "server_error",
            Value::Null,
        ),
        504 => ("Request timed out.", "timeout", Value::Null),
        s if s >= 500 => (
            "The server had an error processing your request.",
            "server_error",
            Value::Null,
        ),
        _ => ("Invalid request.", "invalid_request_error", Value::Null),
    };
    json!({"message": message.unwrap_or(default), "type": kind, "param": null, "code": code})
}

pub(crate) fn error_body(status: u16, message: Option<&str>) -> Value {
    json!({"error": error_object(status, message)})
}

/// 404 for a path the mock does not serve.
pub(crate) fn no_route(path: &str) -> Value {
    json!({"error": {
        "message": format!("mock: no route for {path}"),
        "type": "invalid_request_error",
        "param": null,
        "code": "not_found"
    }})
}
