//! Anthropic wire format: Messages bodies, the streaming event sequence, count_tokens, errors.

mod common;

use common::{Resp, post, send};
use http::Method;
use portcullis_mock::{MockProvider, Reply};
use serde_json::{Value, json};

fn body(stream: bool) -> Value {
    json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 256,
        "stream": stream,
        "messages": [{"role": "user", "content": "Hello"}]
    })
}

/// Checks every event's name matches its `type` and returns the `(name, data)` list.
fn events(r: &Resp) -> Vec<(String, Value)> {
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    r.sse()
        .into_iter()
        .map(|(name, data)| {
            let name = name.expect("every Anthropic event is named");
            let v: Value = serde_json::from_str(&data).unwrap();
            assert_eq!(v["type"], name.as_str());
            (name, v)
        })
        .collect()
}

#[tokio::test]
async fn message_object() {
    let mock = MockProvider::start().await;
    mock.enqueue(
        Reply::ok()
            .usage(100, 10)
            .cached_tokens(60)
            .cache_write_tokens(30),
    );
    let v = post(&format!("{}/v1/messages", mock.url()), &body(false))
        .await
        .json();
    assert!(v["id"].as_str().unwrap().starts_with("msg_"));
    assert_eq!(v["type"], "message");
    assert_eq!(v["role"], "assistant");
    assert_eq!(v["model"], "claude-sonnet-4-5");
    assert_eq!(v["content"][0]["type"], "text");
    assert!(
        v["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Hello!")
    );
    assert_eq!(v["stop_reason"], "end_turn");
    assert_eq!(v["stop_sequence"], Value::Null);
    let u = &v["usage"];
    assert_eq!(u["input_tokens"], 10);
    assert_eq!(u["cache_read_input_tokens"], 60);
    assert_eq!(u["cache_creation_input_tokens"], 30);
    assert_eq!(u["output_tokens"], 10);
}

#[tokio::test]
async fn thinking_and_tool_use_blocks() {
    let mock = MockProvider::start().await;
    mock.enqueue(
        Reply::ok()
            .reasoning_tokens(12)
            .tool_call("get_weather", r#"{"city":"Oslo"}"#),
    );
    let v = post(&format!("{}/v1/messages", mock.url()), &body(false))
        .await
        .json();
    let content = v["content"].as_array().unwrap();
    assert_eq!(content.len(), 2);
    assert_eq!(content[0]["type"], "thinking");
    assert!(content[0]["thinking"].as_str().unwrap().len() > 10);
    assert!(content[0]["signature"].as_str().unwrap().len() > 10);
    assert_eq!(content[1]["type"], "tool_use");
    assert!(content[1]["id"].as_str().unwrap().starts_with("toolu_"));
    assert_eq!(content[1]["name"], "get_weather");
    assert_eq!(content[1]["input"], json!({"city": "Oslo"}));
    assert_eq!(v["stop_reason"], "tool_use");
}

#[tokio::test]
async fn stream_event_sequence() {
    let mock = MockProvider::start().await;
    mock.enqueue(Reply::ok().content("Hello world").chunks(2));
    let r = post(&format!("{}/v1/messages", mock.url()), &body(true)).await;
    let ev = events(&r);
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let start = &ev[0].1["message"];
    assert_eq!(start["content"], json!([]));
    assert_eq!(start["stop_reason"], Value::Null);
    assert_eq!(start["model"], "claude-sonnet-4-5");
    assert!(start["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        ev[1].1["content_block"],
        json!({"type": "text", "text": ""})
    );
    let text: String = ev[3..5]
        .iter()
        .map(|(_, d)| {
            assert_eq!(d["delta"]["type"], "text_delta");
            d["delta"]["text"].as_str().unwrap()
        })
        .collect();
    assert_eq!(text, "Hello world");
    assert_eq!(ev[6].1["delta"]["stop_reason"], "end_turn");
    assert_eq!(ev[6].1["usage"]["output_tokens"], 3);
}

#[tokio::test]
async fn stream_thinking_and_tool_deltas() {
    let mock = MockProvider::start().await;
    let args = r#"{"city":"Oslo","days":3}"#;
    mock.enqueue(
        Reply::ok()
            .reasoning_tokens(9)
            .content("Let me check.")
            .tool_call("forecast", args)
            .chunks(3),
    );
    let r = post(&format!("{}/v1/messages", mock.url()), &body(true)).await;
    let ev = events(&r);
    let starts: Vec<&Value> = ev
        .iter()
        .filter(|(n, _)| n == "content_block_start")
        .map(|(_, d)| &d["content_block"])
        .collect();
    assert_eq!(starts.len(), 3);
    assert_eq!(starts[0]["type"], "thinking");
    assert_eq!(starts[1]["type"], "text");
    assert_eq!(starts[2]["type"], "tool_use");
    assert_eq!(starts[2]["name"], "forecast");
    assert_eq!(starts[2]["input"], json!({}));
    let deltas = |kind: &str, field: &str| -> String {
        ev.iter()
            .filter(|(_, d)| d["delta"]["type"] == kind)
            .map(|(_, d)| d["delta"][field].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(!deltas("thinking_delta", "thinking").is_empty());
    assert!(!deltas("signature_delta", "signature").is_empty());
    assert_eq!(deltas("text_delta", "text"), "Let me check.");
    assert_eq!(deltas("input_json_delta", "partial_json"), args);
    // Block indexes are 0, 1, 2 and every start has a stop.
    let stops: Vec<u64> = ev
        .iter()
        .filter(|(n, _)| n == "content_block_stop")
        .map(|(_, d)| d["index"].as_u64().unwrap())
        .collect();
    assert_eq!(stops, [0, 1, 2]);
    let md = &ev[ev.len() - 2].1;
    assert_eq!(md["delta"]["stop_reason"], "tool_use");
}

#[tokio::test]
async fn count_tokens_and_headers_recorded() {
    let mock = MockProvider::start().await;
    let b = serde_json::to_vec(&body(false)).unwrap();
    let r = send(
        Method::POST,
        &format!("{}/v1/messages/count_tokens", mock.url()),
        &[
            ("content-type", "application/json"),
            ("x-api-key", "sk-ant-test"),
            ("anthropic-version", "2023-06-01"),
            ("anthropic-beta", "prompt-caching-2024-07-31"),
        ],
        b.clone(),
    )
    .await;
    assert_eq!(r.json(), json!({"input_tokens": b.len().div_ceil(4)}));
    let rec = &mock.requests()[0];
    assert_eq!(rec.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(rec.header("Anthropic-Version"), Some("2023-06-01"));
    assert_eq!(
        rec.header("anthropic-beta"),
        Some("prompt-caching-2024-07-31")
    );
    assert_eq!(rec.body.as_ref(), b.as_slice());
}

#[tokio::test]
async fn errors_in_anthropic_format() {
    let mock = MockProvider::start().await;
    let url = format!("{}/v1/messages", mock.url());
    for (status, kind) in [
        (400, "invalid_request_error"),
        (401, "authentication_error"),
        (403, "permission_error"),
        (404, "not_found_error"),
        (429, "rate_limit_error"),
        (500, "api_error"),
        (529, "overloaded_error"),
    ] {
        mock.enqueue(Reply::status(status));
        let r = post(&url, &body(false)).await;
        assert_eq!(r.status, status);
        let v = r.json();
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], kind);
        assert!(v["error"]["message"].is_string());
    }
    let r = send(Method::POST, &url, &[], "nope").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn error_after_sends_error_event() {
    let mock = MockProvider::start().await;
    mock.enqueue(Reply::ok().error_after(1));
    let r = post(&format!("{}/v1/messages", mock.url()), &body(true)).await;
    let ev = events(&r);
    let names: Vec<&str> = ev.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "ping",
            "content_block_delta",
            "error"
        ]
    );
    assert_eq!(ev[4].1["error"]["type"], "overloaded_error");
}
