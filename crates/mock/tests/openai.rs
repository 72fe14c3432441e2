//! OpenAI wire format: bodies and streams parse as the real API's would.

mod common;

use base64::Engine as _;
use common::{get, post};
use portcullis_mock::{MockProvider, Reply};
use serde_json::{Value, json};

const DEFAULT_TEXT: &str =
    "Hello! This is a deterministic reply from the Portcullis mock provider.";

fn chat_body(model: &str, stream: bool, include_usage: bool) -> Value {
    let mut b = json!({"model": model, "messages": [{"role": "user", "content": "hi there"}]});
    if stream {
        b["stream"] = json!(true);
        if include_usage {
            b["stream_options"] = json!({"include_usage": true});
        }
    }
    b
}

#[tokio::test]
async fn chat_completion_object() {
    let mock = MockProvider::start().await;
    let body = chat_body("gpt-4o-mini", false, false);
    let r = post(&format!("{}/v1/chat/completions", mock.url()), &body).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let v = r.json();
    assert!(v["id"].as_str().unwrap().starts_with("chatcmpl-"));
    assert_eq!(v["object"], "chat.completion");
    assert!(v["created"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(v["model"], "gpt-4o-mini");
    let choice = &v["choices"][0];
    assert_eq!(choice["index"], 0);
    assert_eq!(choice["message"]["role"], "assistant");
    assert_eq!(choice["message"]["content"], DEFAULT_TEXT);
    assert_eq!(choice["finish_reason"], "stop");
    let prompt = serde_json::to_vec(&body).unwrap().len().div_ceil(4) as u64;
    let u = &v["usage"];
    assert_eq!(u["prompt_tokens"], prompt);
    assert_eq!(
        u["completion_tokens"],
        DEFAULT_TEXT.len().div_ceil(4) as u64
    );
    assert_eq!(
        u["total_tokens"],
        prompt + DEFAULT_TEXT.len().div_ceil(4) as u64
    );
    assert_eq!(u["prompt_tokens_details"]["cached_tokens"], 0);
    assert_eq!(u["completion_tokens_details"]["reasoning_tokens"], 0);
}

#[tokio::test]
async fn scripted_usage_and_tool_call() {
    let mock = MockProvider::start().await;
    mock.enqueue(
        Reply::ok()
            .tool_call("get_weather", r#"{"city":"Paris"}"#)
            .usage(100, 20)
            .cached_tokens(80)
            .reasoning_tokens(5),
    );
    let v = post(
        &format!("{}/v1/chat/completions", mock.url()),
        &chat_body("gpt-4o", false, false),
    )
    .await
    .json();
    let msg = &v["choices"][0]["message"];
    assert_eq!(msg["content"], Value::Null);
    let call = &msg["tool_calls"][0];
    assert!(call["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(call["type"], "function");
    assert_eq!(call["function"]["name"], "get_weather");
    assert_eq!(call["function"]["arguments"], r#"{"city":"Paris"}"#);
    assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
    assert_eq!(v["usage"]["prompt_tokens"], 100);
    assert_eq!(v["usage"]["completion_tokens"], 20);
    assert_eq!(v["usage"]["total_tokens"], 120);
    assert_eq!(v["usage"]["prompt_tokens_details"]["cached_tokens"], 80);
    assert_eq!(
        v["usage"]["completion_tokens_details"]["reasoning_tokens"],
        5
    );
}

#[tokio::test]
async fn chat_stream_with_usage() {
    let mock = MockProvider::start().await;
    let r = post(
        &format!("{}/v1/chat/completions", mock.url()),
        &chat_body("gpt-4o", true, true),
    )
    .await;
    assert_eq!(r.status, 200);
    assert!(
        r.header("content-type")
            .unwrap()
            .starts_with("text/event-stream")
    );
    let events = r.sse();
    assert_eq!(events.last().unwrap().1, "[DONE]");
    let chunks = r.sse_json();
    // role chunk + 8 content chunks + finish chunk + usage chunk
    assert_eq!(chunks.len(), 11);
    let id = chunks[0]["id"].as_str().unwrap();
    for c in &chunks {
        assert_eq!(c["object"], "chat.completion.chunk");
        assert_eq!(c["id"], id);
        assert_eq!(c["model"], "gpt-4o");
        assert!(c.as_object().unwrap().contains_key("usage"));
    }
    assert_eq!(
        chunks[0]["choices"][0]["delta"],
        json!({"role": "assistant", "content": "", "refusal": null})
    );
    let text: String = chunks[1..9]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(text, DEFAULT_TEXT);
    assert!(chunks[..10].iter().all(|c| c["usage"].is_null()));
    assert_eq!(chunks[9]["choices"][0]["finish_reason"], "stop");
    assert_eq!(chunks[9]["choices"][0]["delta"], json!({}));
    assert_eq!(chunks[10]["choices"], json!([]));
    assert_eq!(
        chunks[10]["usage"]["completion_tokens"],
        DEFAULT_TEXT.len().div_ceil(4) as u64
    );
}

#[tokio::test]
async fn chat_stream_without_usage_and_custom_chunks() {
    let mock = MockProvider::start().await;
    mock.enqueue(Reply::ok().content("abcdef").chunks(3).no_model());
    let r = post(
        &format!("{}/v1/chat/completions", mock.url()),
        &chat_body("gpt-4o", true, false),
    )
    .await;
    let chunks = r.sse_json();
    assert_eq!(chunks.len(), 5);
    for c in &chunks {
        assert!(!c.as_object().unwrap().contains_key("usage"));
        assert!(!c.as_object().unwrap().contains_key("model"));
    }
    let pieces: Vec<&str> = chunks[1..4]
        .iter()
        .map(|c| c["choices"][0]["delta"]["content"].as_str().unwrap())
        .collect();
    assert_eq!(pieces, ["ab", "cd", "ef"]);
}

#[tokio::test]
async fn chat_stream_tool_calls() {
    let mock = MockProvider::start().await;
    let args = r#"{"location":"Paris","unit":"c"}"#;
    mock.enqueue(Reply::ok().tool_call("get_weather", args).chunks(4));
    let r = post(
        &format!("{}/v1/chat/completions", mock.url()),
        &chat_body("gpt-4o", true, false),
    )
    .await;
    let chunks = r.sse_json();
    assert_eq!(chunks[0]["choices"][0]["delta"]["content"], Value::Null);
    let open = &chunks[1]["choices"][0]["delta"]["tool_calls"][0];
    assert_eq!(open["index"], 0);
    assert!(open["id"].as_str().unwrap().starts_with("call_"));
    assert_eq!(open["type"], "function");
    assert_eq!(open["function"]["name"], "get_weather");
    let assembled: String = chunks[2..chunks.len() - 1]
        .iter()
        .map(|c| {
            let tc = &c["choices"][0]["delta"]["tool_calls"][0];
            assert_eq!(tc["index"], 0);
            tc["function"]["arguments"].as_str().unwrap()
        })
        .collect();
    assert_eq!(assembled, args);
    assert_eq!(
        chunks.last().unwrap()["choices"][0]["finish_reason"],
        "tool_calls"
    );
}

#[tokio::test]
async fn legacy_completions() {
    let mock = MockProvider::start().await;
    let url = format!("{}/v1/completions", mock.url());
    let v = post(
        &url,
        &json!({"model": "gpt-3.5-turbo-instruct", "prompt": "Say hi"}),
    )
    .await
    .json();
    assert_eq!(v["object"], "text_completion");
    assert!(v["id"].as_str().unwrap().starts_with("cmpl-"));
    assert_eq!(v["choices"][0]["text"], DEFAULT_TEXT);
    assert_eq!(v["choices"][0]["finish_reason"], "stop");

    let body = json!({"model": "m", "prompt": "x", "stream": true, "stream_options": {"include_usage": true}});
    let r = post(&url, &body).await;
    assert_eq!(r.sse().last().unwrap().1, "[DONE]");
    let chunks = r.sse_json();
    let text: String = chunks
        .iter()
        .filter_map(|c| c["choices"][0]["text"].as_str())
        .collect();
    assert_eq!(text, DEFAULT_TEXT);
    assert!(chunks.iter().all(|c| c["object"] == "text_completion"));
    assert_eq!(chunks.last().unwrap()["choices"], json!([]));
    assert!(
        chunks.last().unwrap()["usage"]["total_tokens"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[tokio::test]
async fn embeddings_float_and_base64() {
    let mock = MockProvider::start().await;
    let url = format!("{}/v1/embeddings", mock.url());
    let v = post(
        &url,
        &json!({"model": "text-embedding-3-small", "input": "hello"}),
    )
    .await
    .json();
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "text-embedding-3-small");
    assert_eq!(v["data"][0]["object"], "embedding");
    assert_eq!(v["data"][0]["index"], 0);
    let floats: Vec<f32> = v["data"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(floats.len(), 8);
    assert!(v["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(v["usage"]["prompt_tokens"], v["usage"]["total_tokens"]);

    // Same input, same vector; arrays give one item per input.
    let v2 = post(
        &url,
        &json!({"model": "m", "input": ["hello", "world"], "dimensions": 4}),
    )
    .await
    .json();
    assert_eq!(v2["data"].as_array().unwrap().len(), 2);
    assert_eq!(v2["data"][1]["index"], 1);
    assert_eq!(v2["data"][0]["embedding"].as_array().unwrap().len(), 4);

    let b = post(
        &url,
        &json!({"model": "m", "input": "hello", "encoding_format": "base64"}),
    )
    .await
    .json();
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f32> = raw
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(decoded, floats);

    let bad = post(&url, &json!({"model": "m"})).await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn models_list_and_retrieve() {
    let mock = MockProvider::start().await;
    let v = get(&format!("{}/v1/models", mock.url())).await.json();
    assert_eq!(v["object"], "list");
    assert!(
        v["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["object"] == "model")
    );
    let m = get(&format!("{}/v1/models/gpt-4o", mock.url()))
        .await
        .json();
    assert_eq!(m["id"], "gpt-4o");
    assert_eq!(m["object"], "model");
}

#[tokio::test]
async fn errors_in_openai_format() {
    let mock = MockProvider::start().await;
    let url = format!("{}/v1/chat/completions", mock.url());
    mock.enqueue(Reply::status(429).retry_after(3));
    let r = post(&url, &chat_body("gpt-4o", false, false)).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("3"));
    let e = &r.json()["error"];
    assert_eq!(e["type"], "requests");
    assert_eq!(e["code"], "rate_limit_exceeded");
    assert!(e["message"].is_string());
    assert_eq!(e["param"], Value::Null);

    mock.enqueue(Reply::status(401));
    assert_eq!(
        post(&url, &json!({})).await.json()["error"]["code"],
        "invalid_api_key"
    );
    mock.enqueue(Reply::status(500));
    assert_eq!(
        post(&url, &json!({})).await.json()["error"]["type"],
        "server_error"
    );

    // Invalid JSON is a 400 in the provider's format, and does not consume a reply.
    mock.enqueue(Reply::ok().content("kept"));
    let r = common::send(http::Method::POST, &url, &[], "{not json").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["type"], "invalid_request_error");
    let v = post(&url, &chat_body("m", false, false)).await.json();
    assert_eq!(v["choices"][0]["message"]["content"], "kept");
}

#[tokio::test]
async fn unknown_route_is_404() {
    let mock = MockProvider::start().await;
    let r = post(&format!("{}/v1/nope", mock.url()), &json!({})).await;
    assert_eq!(r.status, 404);
    assert_eq!(
        r.json(),
        json!({"error": {"message": "mock: no route for /v1/nope", "type": "invalid_request_error", "param": null, "code": "not_found"}})
    );
}

#[tokio::test]
async fn azure_deployment_path_and_query() {
    let mock = MockProvider::start().await;
    let url = format!(
        "{}/openai/deployments/my-gpt/chat/completions?api-version=2024-10-21",
        mock.url()
    );
    let r = post(&url, &json!({"messages": []})).await;
    assert_eq!(r.json()["model"], "my-gpt");
    let rec = &mock.requests()[0];
    assert_eq!(rec.path, "/openai/deployments/my-gpt/chat/completions");
    assert_eq!(rec.query.as_deref(), Some("api-version=2024-10-21"));
}
