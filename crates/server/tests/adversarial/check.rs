//! The contract every answer must keep: a status the client can act on, a JSON (or terminated
//! SSE) body, within a bounded time, and no secrets.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::HeaderMap;
use serde_json::Value;

use crate::common::{Harness, chat, sse_events};

/// No single request may take longer than this.
pub const LIMIT: Duration = Duration::from_secs(5);

/// The secret every secrets test sends, and that must never come back.
pub const SECRET: &str = "sk-secret-XYZ";

/// Which API the client spoke (decides the error and stream shapes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    OpenAi,
    Anthropic,
}

pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub elapsed: Duration,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    pub fn is_sse(&self) -> bool {
        self.content_type().starts_with("text/event-stream")
    }
}

/// Sends `rb` and reads the whole answer, failing the test (with `what`) on a hang, a dropped
/// connection or a truncated body.
pub async fn fetch(what: &str, rb: reqwest::RequestBuilder) -> Answer {
    let started = Instant::now();
    let resp = match tokio::time::timeout(LIMIT, rb.send()).await {
        Err(_) => panic!("{what}: no response within {LIMIT:?} (a hang)"),
        Ok(Err(e)) => panic!("{what}: no response, the connection failed: {e:?}"),
        Ok(Ok(r)) => r,
    };
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = match tokio::time::timeout(LIMIT, resp.bytes()).await {
        Err(_) => panic!("{what}: status {status}, but the body did not end within {LIMIT:?}"),
        Ok(Err(e)) => panic!("{what}: status {status}, but the body was cut off: {e:?}"),
        Ok(Ok(b)) => b,
    };
    Answer {
        status,
        headers,
        body,
        elapsed: started.elapsed(),
    }
}

/// Whether an error body says it came from the provider (so a 5xx is the upstream's, not ours).
fn upstream_marked(v: &Value, api: Api) -> bool {
    match api {
        Api::OpenAi => v.get("provider").is_some_and(Value::is_string) && v["error"].is_object(),
        // Anthropic-shaped errors carry no provider field; anything but the gateway's own
        // `{"status":"failure"}` body (its 500) is the upstream's or a translated one.
        Api::Anthropic => v["type"] == "error" && v["error"]["type"].is_string(),
    }
}

/// An error body in one of the shapes the gateway emits.
fn error_shaped(v: &Value) -> bool {
    (v["status"] == "failure" && v["message"].is_string())
        || (v["error"].is_object() && v["error"]["message"].is_string())
        || (v["type"] == "error" && v["error"]["message"].is_string())
        || (v["ok"] == false && v["message"] == "Not Found")
}

/// The general contract: 2xx/4xx (a 5xx only when the body says the provider sent it), a JSON
/// or properly terminated SSE body, never the gateway's own 500.
pub fn assert_contract(what: &str, a: &Answer, api: Api) {
    let text = a.text();
    let shown = &text[..text.len().min(600)];
    assert!(
        (200..600).contains(&a.status),
        "{what}: status {} is not a final HTTP status: {shown}",
        a.status
    );
    if a.is_sse() {
        assert_eq!(
            a.status, 200,
            "{what}: a stream with a non-200 status: {shown}"
        );
        assert_stream_terminated(what, &text, api);
        return;
    }
    let v = a
        .json()
        .unwrap_or_else(|| panic!("{what}: status {}: body is not JSON: {shown:?}", a.status));
    if a.status >= 400 {
        assert!(
            error_shaped(&v),
            "{what}: status {}: not an error body: {shown}",
            a.status
        );
    }
    if a.status >= 500 {
        assert!(
            upstream_marked(&v, api),
            "{what}: the gateway itself answered {}: {shown}",
            a.status
        );
    }
}

/// A stream must end with its API's terminal event: `[DONE]` or an error chunk for OpenAI,
/// `message_stop` or `error` for Anthropic; an error event is the last one.
pub fn assert_stream_terminated(what: &str, text: &str, api: Api) {
    let events = sse_events(text);
    let Some((name, data)) = events.last() else {
        panic!("{what}: an empty event stream: {text:?}");
    };
    match api {
        Api::OpenAi => {
            if data == "[DONE]" {
                let errors = events
                    .iter()
                    .filter(|(_, d)| d.contains("\"error\""))
                    .filter(|(_, d)| {
                        serde_json::from_str::<Value>(d).is_ok_and(|v| v["error"].is_object())
                    })
                    .count();
                assert_eq!(errors, 0, "{what}: an error event before [DONE]: {text}");
                return;
            }
            let v: Value = serde_json::from_str(data).unwrap_or_else(|e| {
                panic!("{what}: the last event is neither [DONE] nor JSON ({e}): {text}")
            });
            assert!(
                v["error"].is_object() && v["error"]["message"].is_string(),
                "{what}: the stream ended without [DONE] or an error event: {text}"
            );
        }
        Api::Anthropic => {
            let name = name.as_deref().unwrap_or("");
            assert!(
                name == "message_stop" || name == "error",
                "{what}: the stream ended with `{name}`, not message_stop or error: {text}"
            );
            let v: Value = serde_json::from_str(data)
                .unwrap_or_else(|e| panic!("{what}: last event data is not JSON ({e}): {text}"));
            if name == "error" {
                assert_eq!(v["type"], "error", "{what}: {text}");
                assert!(v["error"]["message"].is_string(), "{what}: {text}");
            }
        }
    }
    // Every data payload is JSON (or the OpenAI terminator): no half-written frames.
    for (_, d) in &events {
        assert!(
            d == "[DONE]" || serde_json::from_str::<Value>(d).is_ok(),
            "{what}: a data payload that is not JSON: {d:?} in {text}"
        );
    }
}

/// A good chat request still succeeds and `/v1/health` answers.
pub async fn still_serves(h: &Harness) {
    let a = fetch("health after abuse", h.client.get(h.url("/v1/health"))).await;
    assert_eq!(a.status, 200, "health: {}", a.text());
    let a = fetch(
        "a good request after abuse",
        h.post("/v1/chat/completions", "openai", &chat("gpt-4o-mini")),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json().unwrap()["object"], "chat.completion");
}

/// `SECRET` appears nowhere in the answer: not in the body, not in any header.
pub fn assert_no_secret(what: &str, a: &Answer) {
    let text = a.text();
    assert!(
        !text.contains(SECRET) && !text.contains("secret-XYZ"),
        "{what}: the secret leaked into the body: {text}"
    );
    for (name, value) in &a.headers {
        let v = String::from_utf8_lossy(value.as_bytes());
        assert!(
            !v.contains("secret-XYZ"),
            "{what}: the secret leaked into response header {name}: {v}"
        );
    }
}
