//! The `/__mock/*` HTTP control API: script replies and read recordings from another process.

use std::time::Duration;

use http::{HeaderName, HeaderValue, Method, Response, StatusCode};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use serde_json::{Value, json};

use crate::body::ResBody;
use crate::script::{Reply, ReplyBody, ToolCall};
use crate::server::json_response;
use crate::state::State;

pub(crate) const PREFIX: &str = "/__mock/";

pub(crate) async fn handle(
    state: &State,
    method: &Method,
    path: &str,
    body: Incoming,
) -> Response<ResBody> {
    let body = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "could not read the request body",
                None,
            );
        }
    };
    match (method.as_str(), path.trim_start_matches(PREFIX)) {
        ("GET", "health") => json_response(StatusCode::OK, &json!({"status": "ok"})),
        ("POST", "replies") => {
            let spec: Value = match serde_json::from_slice(&body) {
                Ok(v) => v,
                Err(e) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        &format!("body is not JSON: {e}"),
                        None,
                    );
                }
            };
            // One spec or an array of them; all are validated before any is queued.
            let specs = match spec {
                Value::Array(items) => items,
                one => vec![one],
            };
            let mut replies = Vec::with_capacity(specs.len());
            for spec in &specs {
                match parse_spec(spec) {
                    Ok(r) => replies.push(r),
                    Err(e) => return error(StatusCode::BAD_REQUEST, &e.message, Some(&e.field)),
                }
            }
            replies.into_iter().for_each(|r| state.enqueue(r));
            no_content()
        }
        ("DELETE", "replies") => {
            state.clear_replies();
            no_content()
        }
        ("GET", "requests") => {
            let all: Vec<Value> = state.requests().iter().map(|r| r.to_json()).collect();
            json_response(StatusCode::OK, &Value::Array(all))
        }
        ("DELETE", "requests") => {
            state.clear_requests();
            no_content()
        }
        ("GET", "stats") => json_response(
            StatusCode::OK,
            &json!({
                "requests": state.request_count(),
                "queued_replies": state.queued_replies(),
                "open_streams": state.open_streams(),
                "cancelled_streams": state.cancelled_streams(),
                "cancelled_requests": state.cancelled_requests(),
            }),
        ),
        _ => error(
            StatusCode::NOT_FOUND,
            &format!("mock: no control route for {method} {path}"),
            None,
        ),
    }
}

fn no_content() -> Response<ResBody> {
    let mut r = Response::new(ResBody::empty());
    *r.status_mut() = StatusCode::NO_CONTENT;
    r
}

fn error(status: StatusCode, message: &str, field: Option<&str>) -> Response<ResBody> {
    json_response(
        status,
        &json!({"error": {"message": message, "field": field}}),
    )
}

#[derive(Debug)]
pub(crate) struct SpecError {
    pub field: String,
    pub message: String,
}

fn bad(field: &str, why: &str) -> SpecError {
    SpecError {
        field: field.to_owned(),
        message: format!("bad field `{field}`: {why}"),
    }
}

fn uint(field: &str, v: &Value) -> Result<u64, SpecError> {
    v.as_u64()
        .ok_or_else(|| bad(field, "expected a non-negative integer"))
}

fn count(field: &str, v: &Value) -> Result<usize, SpecError> {
    usize::try_from(uint(field, v)?).map_err(|_| bad(field, "too large"))
}

fn string(field: &str, v: &Value) -> Result<String, SpecError> {
    v.as_str()
        .map(str::to_owned)
        .ok_or_else(|| bad(field, "expected a string"))
}

fn boolean(field: &str, v: &Value) -> Result<bool, SpecError> {
    v.as_bool()
        .ok_or_else(|| bad(field, "expected true or false"))
}

fn header(field: &str, name: &str, value: &Value) -> Result<(String, String), SpecError> {
    let value = value
        .as_str()
        .ok_or_else(|| bad(field, &format!("value of `{name}` must be a string")))?;
    HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| bad(field, &format!("`{name}` is not a valid header name")))?;
    HeaderValue::from_str(value).map_err(|_| {
        bad(
            field,
            &format!("value of `{name}` is not a valid header value"),
        )
    })?;
    Ok((name.to_owned(), value.to_owned()))
}

fn tool_call(field: &str, v: &Value) -> Result<ToolCall, SpecError> {
    let name = v.get("name").and_then(Value::as_str).ok_or_else(|| {
        bad(
            field,
            "expected {\"name\": string, \"arguments\": object|string}",
        )
    })?;
    let arguments = match v.get("arguments") {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    };
    Ok(ToolCall {
        name: name.to_owned(),
        arguments,
    })
}

/// Parses a JSON reply spec; the error names the offending field.
pub(crate) fn parse_spec(spec: &Value) -> Result<Reply, SpecError> {
    let obj = spec
        .as_object()
        .ok_or_else(|| bad("", "a reply spec must be a JSON object"))?;
    let mut r = Reply::default();
    for (k, v) in obj {
        let f = k.as_str();
        match f {
            "status" => {
                let code = uint(f, v)?;
                if !(200..=999).contains(&code) {
                    return Err(bad(f, "expected an HTTP status in 200..=999"));
                }
                r.status = Some(code as u16);
            }
            "retry_after" => r.retry_after = Some(uint(f, v)?),
            "headers" => match v {
                Value::Object(map) => {
                    for (name, value) in map {
                        r.headers.push(header(f, name, value)?);
                    }
                }
                Value::Array(pairs) => {
                    for pair in pairs {
                        match pair.as_array().map(Vec::as_slice) {
                            Some([Value::String(name), value]) => {
                                r.headers.push(header(f, name, value)?)
                            }
                            _ => return Err(bad(f, "expected [name, value] pairs")),
                        }
                    }
                }
                _ => return Err(bad(f, "expected an object of name: value")),
            },
            "body" => r.body = Some(ReplyBody::Json(v.clone())),
            "body_raw" => r.body = Some(ReplyBody::Raw(string(f, v)?.into())),
            "delay_ms" => r.delay = Some(Duration::from_millis(uint(f, v)?)),
            "path" => r.path = Some(string(f, v)?),
            "content" => r.content = Some(string(f, v)?),
            "bytes" => r.content_bytes = Some(count(f, v)?),
            "tool_call" => r.tool_calls.push(tool_call(f, v)?),
            "tool_calls" => {
                let items = v.as_array().ok_or_else(|| bad(f, "expected an array"))?;
                for item in items {
                    r.tool_calls.push(tool_call(f, item)?);
                }
            }
            "usage" => {
                let pick = |a: &str, b: &str| v.get(a).or_else(|| v.get(b)).and_then(Value::as_u64);
                let pair = match v {
                    Value::Array(p) if p.len() == 2 => p[0].as_u64().zip(p[1].as_u64()),
                    Value::Object(_) => {
                        pick("prompt_tokens", "prompt").zip(pick("completion_tokens", "completion"))
                    }
                    _ => None,
                };
                r.usage = Some(pair.ok_or_else(|| {
                    bad(f, "expected {\"prompt_tokens\": n, \"completion_tokens\": n} or [prompt, completion]")
                })?);
            }
            "finish_reason" => r.finish_reason = Some(string(f, v)?),
            "cached_tokens" => r.cached_tokens = Some(uint(f, v)?),
            "cache_write_tokens" => r.cache_write_tokens = Some(uint(f, v)?),
            "reasoning_tokens" => r.reasoning_tokens = Some(uint(f, v)?),
            "chunks" => {
                let n = count(f, v)?;
                if n == 0 {
                    return Err(bad(f, "must be at least 1"));
                }
                r.chunks = Some(n);
            }
            "chunk_delay_ms" => r.chunk_delay = Some(Duration::from_millis(uint(f, v)?)),
            "drop_after" => r.drop_after = Some(count(f, v)?),
            "error_after" => r.error_after = Some(count(f, v)?),
            "stall_after" => r.stall_after = Some(count(f, v)?),
            "malformed" => r.malformed = boolean(f, v)?,
            "hang" => r.hang = boolean(f, v)?,
            "no_model" => r.no_model = boolean(f, v)?,
            _ => return Err(bad(f, "unknown field")),
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_spec_parses() {
        let spec = json!({
            "status": 429, "retry_after": 2, "headers": {"x-a": "1"}, "delay_ms": 5,
            "path": "/messages", "content": "hi", "tool_call": {"name": "f", "arguments": {"a": 1}},
            "usage": {"prompt_tokens": 3, "completion_tokens": 4}, "chunks": 2, "chunk_delay_ms": 1,
            "drop_after": 1, "malformed": true, "hang": false, "no_model": true
        });
        let r = parse_spec(&spec).unwrap();
        assert_eq!(r.status, Some(429));
        assert_eq!(r.tool_calls[0].arguments, r#"{"a":1}"#);
        assert_eq!(r.usage, Some((3, 4)));
        assert_eq!(r.delay, Some(Duration::from_millis(5)));
        assert!(r.no_model && r.malformed && !r.hang);
    }

    #[test]
    fn errors_name_the_field() {
        for (spec, field) in [
            (json!({"status": "x"}), "status"),
            (json!({"nope": 1}), "nope"),
            (json!({"headers": {"bad name": "v"}}), "headers"),
            (json!({"usage": [1]}), "usage"),
            (json!({"chunks": 0}), "chunks"),
        ] {
            assert_eq!(parse_spec(&spec).unwrap_err().field, field);
        }
    }
}
