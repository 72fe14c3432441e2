//! Scripting: reply queue order, path filters, directives, recording, echo, protocol support.

mod common;

use bytes::Bytes;
use common::{post, raw_exchange, send};
use http::Method;
use portcullis_mock::{MockOptions, MockProvider, Reply};
use serde_json::{Value, json};

fn chat(model: &str) -> Value {
    json!({"model": model, "messages": [{"role": "user", "content": "hi"}]})
}

fn content(v: &Value) -> &str {
    v["choices"][0]["message"]["content"].as_str().unwrap()
}

#[tokio::test]
async fn replies_are_consumed_in_order_then_default() {
    let mock = MockProvider::start().await;
    let url = format!("{}/v1/chat/completions", mock.url());
    mock.enqueue(Reply::ok().content("one"));
    mock.enqueue(Reply::status(503));
    mock.enqueue(Reply::ok().content("three"));
    assert_eq!(mock.queued_replies(), 3);
    assert_eq!(content(&post(&url, &chat("m")).await.json()), "one");
    assert_eq!(post(&url, &chat("m")).await.status, 503);
    assert_eq!(content(&post(&url, &chat("m")).await.json()), "three");
    assert!(content(&post(&url, &chat("m")).await.json()).starts_with("Hello!"));
    assert_eq!(mock.queued_replies(), 0);
}

#[tokio::test]
async fn path_filter_skips_non_matching_requests() {
    let mock = MockProvider::start().await;
    mock.enqueue(Reply::status(529).path("/messages"));
    mock.enqueue(Reply::ok().content("for chat"));
    let chat_url = format!("{}/v1/chat/completions", mock.url());
    // The first queued reply does not match /chat/completions, so the second one is used.
    assert_eq!(
        content(&post(&chat_url, &chat("m")).await.json()),
        "for chat"
    );
    let r = post(&format!("{}/v1/messages", mock.url()), &chat("claude")).await;
    assert_eq!(r.status, 529);
    assert_eq!(r.json()["error"]["type"], "overloaded_error");
}

#[tokio::test]
async fn model_directives() {
    let mock = MockProvider::start().await;
    let url = format!("{}/v1/chat/completions", mock.url());

    let r = post(&url, &chat("gpt-4o-mini+status=429+retry_after=1")).await;
    assert_eq!(r.status, 429);
    assert_eq!(r.header("retry-after"), Some("1"));

    let v = post(&url, &chat("gpt-4o-mini+content=hello%20world"))
        .await
        .json();
    assert_eq!(content(&v), "hello world");
    assert_eq!(v["model"], "gpt-4o-mini");

    let v = post(&url, &chat("m+no_model+usage=7,3")).await.json();
    assert!(v.get("model").is_none());
    assert_eq!(v["usage"]["total_tokens"], 10);

    let v = post(&url, &chat("m+bytes=5000")).await.json();
    assert_eq!(content(&v).len(), 5000);

    let v = post(&url, &chat("m+tool=get_weather")).await.json();
    assert_eq!(
        v["choices"][0]["message"]["tool_calls"][0]["function"]["name"],
        "get_weather"
    );

    let mut stream = chat("m+chunks=3+chunk_delay_ms=1");
    stream["stream"] = json!(true);
    assert_eq!(post(&url, &stream).await.sse().len(), 6);

    let r = post(&url, &chat("m+malformed")).await;
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());

    let r = post(&url, &chat("m+bogus=1")).await;
    assert_eq!(r.status, 400);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("bogus")
    );
}

#[tokio::test]
async fn directives_overlay_scripted_reply() {
    let mock = MockProvider::start().await;
    mock.enqueue(Reply::ok().content("scripted").usage(1, 2));
    let v = post(
        &format!("{}/v1/chat/completions", mock.url()),
        &chat("m+usage=5,5"),
    )
    .await
    .json();
    assert_eq!(content(&v), "scripted");
    assert_eq!(v["usage"]["prompt_tokens"], 5);
}

#[tokio::test]
async fn body_override_and_headers() {
    let mock = MockProvider::start().await;
    let url = format!("{}/v1/chat/completions", mock.url());
    mock.enqueue(
        Reply::status(202)
            .body_json(json!({"custom": true}))
            .header("x-extra", "1"),
    );
    let r = post(&url, &chat("m")).await;
    assert_eq!(r.status, 202);
    assert_eq!(r.json(), json!({"custom": true}));
    assert_eq!(r.header("x-extra"), Some("1"));

    mock.enqueue(
        Reply::ok()
            .body_raw("plain")
            .header("content-type", "text/plain"),
    );
    let r = post(&url, &chat("m")).await;
    assert_eq!(r.text(), "plain");
    assert_eq!(r.header("content-type"), Some("text/plain"));

    // Scripted bodies work on paths the mock has no route for (passthrough endpoints).
    mock.enqueue(Reply::ok().body_json(json!({"data": []})));
    let r = post(&format!("{}/v1/images/generations", mock.url()), &json!({})).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"data": []}));
}

#[tokio::test]
async fn recorded_requests_keep_headers_and_body() {
    let mock = MockProvider::start().await;
    let body = serde_json::to_vec(&chat("gpt-4o")).unwrap();
    send(
        Method::POST,
        &format!("{}/v1/chat/completions?trace=1", mock.url()),
        &[
            ("authorization", "Bearer sk-test"),
            ("content-type", "application/json"),
        ],
        body.clone(),
    )
    .await;
    let recs = mock.requests();
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/v1/chat/completions");
    assert_eq!(r.query.as_deref(), Some("trace=1"));
    assert_eq!(r.header("Authorization"), Some("Bearer sk-test"));
    assert!(r.headers.iter().all(|(k, _)| k == &k.to_ascii_lowercase()));
    assert_eq!(r.body, Bytes::from(body));
    assert_eq!(r.json().unwrap()["model"], "gpt-4o");
    assert_eq!(mock.request_count(), 1);
    mock.enqueue(Reply::ok());
    mock.clear();
    assert_eq!(mock.request_count(), 0);
    assert!(mock.requests().is_empty());
    assert_eq!(mock.queued_replies(), 0);
}

#[tokio::test]
async fn recording_can_be_turned_off() {
    let mock = MockProvider::start_with(MockOptions {
        record: false,
        ..MockOptions::default()
    })
    .await
    .unwrap();
    post(&format!("{}/v1/chat/completions", mock.url()), &chat("m")).await;
    assert_eq!(mock.request_count(), 1);
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn echo_reflects_the_request() {
    let mock = MockProvider::start().await;
    let r = send(
        Method::PUT,
        &format!("{}/proxy/echo?a=1&b=2", mock.url()),
        &[("content-type", "application/x-custom")],
        "raw bytes \u{1F600}",
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "raw bytes \u{1F600}");
    assert_eq!(r.header("content-type"), Some("application/x-custom"));
    assert_eq!(r.header("x-mock-method"), Some("PUT"));
    assert_eq!(r.header("x-mock-path"), Some("/proxy/echo"));
    assert_eq!(r.header("x-mock-query"), Some("a=1&b=2"));
}

#[tokio::test]
async fn keep_alive_serves_several_requests_per_connection() {
    let mock = MockProvider::start().await;
    let body = serde_json::to_vec(&chat("m")).unwrap();
    let one = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    let mut req = Vec::new();
    for close in [false, false, true] {
        req.extend_from_slice(one.as_bytes());
        if close {
            // The last request asks the server to close so the read ends.
            req.truncate(req.len() - 2);
            req.extend_from_slice(b"connection: close\r\n\r\n");
        }
        req.extend_from_slice(&body);
    }
    let out = String::from_utf8(raw_exchange(mock.addr(), &req).await).unwrap();
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 3);
    assert_eq!(mock.request_count(), 3);
}

#[tokio::test]
async fn h2c_prior_knowledge() {
    use http_body_util::{BodyExt, Full};
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    let mock = MockProvider::start().await;
    let client = Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http::<Full<Bytes>>();
    let mut body = chat("m");
    body["stream"] = json!(true);
    let req = http::Request::post(format!("{}/v1/chat/completions", mock.url()))
        .body(Full::new(Bytes::from(serde_json::to_vec(&body).unwrap())))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    assert_eq!(resp.version(), http::Version::HTTP_2);
    let text = resp.into_body().collect().await.unwrap().to_bytes();
    let events = common::parse_sse(std::str::from_utf8(&text).unwrap());
    assert_eq!(events.last().unwrap().1, "[DONE]");
}

#[tokio::test]
async fn mock_shuts_down_on_drop() {
    let mock = MockProvider::start().await;
    let addr = mock.addr();
    assert!(mock.url().starts_with("http://127.0.0.1:"));
    assert!(!mock.url().ends_with('/'));
    drop(mock);
    let refused = common::eventually(|| std::net::TcpStream::connect(addr).is_err()).await;
    assert!(refused, "listener closed after drop");
}

#[tokio::test]
async fn finish_reason_maps_per_provider() {
    let mock = MockProvider::start().await;
    let v = post(
        &format!("{}/v1/chat/completions", mock.url()),
        &chat("m+finish=length"),
    )
    .await
    .json();
    assert_eq!(v["choices"][0]["finish_reason"], "length");
    mock.enqueue(Reply::ok().finish_reason("length"));
    let v = post(&format!("{}/v1/messages", mock.url()), &chat("claude"))
        .await
        .json();
    assert_eq!(v["stop_reason"], "max_tokens");
    mock.enqueue(Reply::ok().finish_reason("content_filter"));
    let url = format!(
        "{}/v1beta/models/gemini-2.0-flash:generateContent",
        mock.url()
    );
    let v = post(&url, &json!({"contents": []})).await.json();
    assert_eq!(v["candidates"][0]["finishReason"], "SAFETY");
    mock.enqueue(Reply::ok().finish_reason("pause_turn"));
    let v = post(&format!("{}/v1/messages", mock.url()), &chat("claude"))
        .await
        .json();
    assert_eq!(v["stop_reason"], "pause_turn");
}
